/**
 * The method modules `rewardiff run` knows, in the order the config error lists them. A method is
 * available (in the config schema, docs/config.md's tables and the runner) once it is listed here.
 */
import type { MethodModule } from "./context.js";
import { bestOfNMethod } from "./best-of-n.js";
import { cfgMethod } from "./cfg.js";
import { cfgTriplesMethod } from "./cfg-triples.js";
import { classifierGuidanceMethod } from "./classifier-guidance.js";
import { ctrlMethod } from "./ctrl.js";
import { ddpoMethod } from "./ddpo.js";
import { dpsMethod } from "./dps.js";
import { dpsClassifierMethod } from "./dps-classifier.js";
import { dpsNormalisedMethod } from "./dps-normalised.js";
import { draftMethod } from "./draft.js";
import { exactGuidanceMethod } from "./exact-guidance.js";
import { noneMethod } from "./none.js";
import { rcgdmMethod } from "./rcgdm.js";
import { rgdmMethod } from "./rgdm.js";
import { rwrMethod } from "./rwr.js";
import { svddMethod } from "./svdd.js";
import { targetGuidanceMethod } from "./target-guidance.js";

/** The registered modules as a tuple (their schemas form the config's method union). */
export const METHOD_MODULES = [
  rcgdmMethod,
  cfgMethod,
  classifierGuidanceMethod,
  dpsMethod,
  dpsNormalisedMethod,
  targetGuidanceMethod,
  svddMethod,
  bestOfNMethod,
  exactGuidanceMethod,
  rgdmMethod,
  rwrMethod,
  ctrlMethod,
  ddpoMethod,
  draftMethod,
  cfgTriplesMethod,
  dpsClassifierMethod,
  noneMethod,
] as const;

/** A registered module of any kind (its runner takes that kind's validated config). */
export type AnyMethodModule = MethodModule<any>;

const BY_KIND = new Map<string, AnyMethodModule>(METHOD_MODULES.map((m) => [m.kind, m as AnyMethodModule]));

/** The module of a method kind (every kind the config schema accepts has one). */
export function methodModule(kind: string): AnyMethodModule {
  const m = BY_KIND.get(kind);
  if (!m) throw new Error(`method kind "${kind}" is not registered; available: ${availableMethods().join(", ")}`);
  return m;
}

export function availableMethods(): string[] {
  return METHOD_MODULES.map((m) => m.kind);
}
