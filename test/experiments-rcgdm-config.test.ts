/**
 * The RCGDM experiment's config handling (scripts/experiments/molecules-rcgdm.ts `rcgdmConfigJson`): the shipped
 * config samples the shipped conditional model; `--quick` and `--retrain` drop it so that every rcgdm row fine-tunes
 * anew (`--retrain` the last stage from the shipped stage before it), and `--quick` also starts from the pretrained
 * model and shortens the fine-tuning and the sample count.
 */
import { describe, expect, it } from "vitest";
import { rcgdmConfigJson } from "../scripts/experiments/molecules-rcgdm.js";

const CONFIG = "configs/molecules-rcgdm-logp.json";
const conditional = (json: { method: Record<string, unknown>[] }) => json.method.find((m) => m.kind === "rcgdm" && m.variant === undefined) as { molecules: { conditionalModel?: string; startFrom?: string; train: { steps: number } } };

describe("the RCGDM experiment's config", () => {
  it("keeps molecules.conditionalModel by default, and drops it with --retrain or --quick (--quick also drops startFrom)", () => {
    const plain = rcgdmConfigJson(CONFIG, false);
    expect(conditional(plain).molecules.conditionalModel).toBe("qm9-logp");
    expect(conditional(plain).molecules.startFrom).toBe("qm9-logp-stage5");
    expect(conditional(plain).molecules.train.steps).toBe(12000);
    const retrain = rcgdmConfigJson(CONFIG, false, true);
    expect(conditional(retrain).molecules.conditionalModel).toBeUndefined();
    expect(conditional(retrain).molecules.startFrom).toBe("qm9-logp-stage5");
    expect(conditional(retrain).molecules.train.steps).toBe(12000);
    const quick = rcgdmConfigJson(CONFIG, true);
    expect(conditional(quick).molecules.conditionalModel).toBeUndefined();
    expect(conditional(quick).molecules.startFrom).toBeUndefined();
    expect(conditional(quick).molecules.train.steps).toBe(600);
    expect(quick.sampling.samples).toBe(200);
  });
});
