/** Method kind → runner. A method is available in `rewardiff run` once it is registered here. */
import type { MethodKind } from "../../io/config.js";
import type { MethodRunner } from "./context.js";
import { runNone } from "./none.js";
import { runDdpo } from "./ddpo.js";
import { runRcgdm } from "./rcgdm.js";
import { runBestOfN } from "./best-of-n.js";
import { runCfg } from "./cfg.js";
import { runClassifierGuidance } from "./classifier-guidance.js";
import { runDps } from "./dps.js";
import { runExactGuidance } from "./exact-guidance.js";
import { runSvdd } from "./svdd.js";
import { runTargetGuidance } from "./target-guidance.js";
import { runRgdm } from "./rgdm.js";
import { runRwr } from "./rwr.js";
import { runDraft } from "./draft.js";
import { runCtrl } from "./ctrl.js";
import { runCfgTriples } from "./cfg-triples.js";
import { runDpsClassifier } from "./dps-classifier.js";

export const METHOD_RUNNERS: Partial<Record<MethodKind, MethodRunner>> = {
  none: runNone,
  ddpo: runDdpo,
  rcgdm: runRcgdm,
  cfg: runCfg,
  "classifier-guidance": runClassifierGuidance,
  dps: runDps,
  "target-guidance": runTargetGuidance,
  svdd: runSvdd,
  "best-of-n": runBestOfN,
  "exact-guidance": runExactGuidance,
  rgdm: runRgdm,
  rwr: runRwr,
  draft: runDraft,
  ctrl: runCtrl,
  "cfg-triples": runCfgTriples,
  "dps-classifier": runDpsClassifier,
};

export function availableMethods(): string[] {
  return Object.keys(METHOD_RUNNERS);
}
