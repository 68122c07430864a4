/**
 * Method "ddpo" in `rewardiff run`: a tiny gaussian-mixture run reports reward before/after, the KL to
 * the pretrained model, the distance to the data, the reward over training, and (DPOK) the exact tilt's
 * E_p*[r] with the distance to exact p* draws; a deterministic sampler is refused with a clear error.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../src/runners/config.js";
import { runExperiment } from "../src/runners/experiment.js";
import { exactTiltedRewardMean, gaussianMixture } from "../src/tasks/gaussian-mixture.js";
import { selfNormalisedTilt } from "../src/runners/methods/ddpo.js";

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "rewardiff-ddpo-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const TASK = {
  kind: "gaussian-mixture",
  components: [
    { weight: 1, mean: [-1.5, 0], std: 0.5 },
    { weight: 1, mean: [1.5, 0], std: 0.5 },
  ],
  rewardWeights: [1, 0],
  n: 2000,
};
const MODEL = { hidden: 32, layers: 2, timeEmbedding: 8, train: { steps: 300, batchSize: 256 } };

describe("self-normalised tilt of the pretrained samples", () => {
  it("matches the closed form for Gaussian draws: r ~ N(m, v) tilted by e^{r/α} → mean m + v/α, KL v/(2α²)", () => {
    // Deterministic normal quantiles stand in for draws of r ~ N(0.3, 0.49).
    const n = 20000;
    const r = Array.from({ length: n }, (_, i) => 0.3 + 0.7 * Math.SQRT2 * erfinv(2 * ((i + 0.5) / n) - 1));
    const t = selfNormalisedTilt(r, 2);
    expect(t.rewardMean).toBeCloseTo(0.3 + 0.49 / 2, 2);
    expect(t.kl).toBeCloseTo(0.49 / 8, 2);
    // Log-normal weights: ESS/n = (E w)²/E w² = e^{−v/α²}.
    expect(t.ess / n).toBeCloseTo(Math.exp(-0.49 / 4), 2);
  });
});

/** Inverse error function (Giles 2010 single-precision approximation; enough for quantiles here). */
function erfinv(x: number): number {
  let w = -Math.log((1 - x) * (1 + x));
  let p: number;
  if (w < 5) {
    w -= 2.5;
    p = 2.81022636e-8;
    for (const c of [3.43273939e-7, -3.5233877e-6, -4.39150654e-6, 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941]) p = c + p * w;
  } else {
    w = Math.sqrt(w) - 3;
    p = -0.000200214257;
    for (const c of [0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682]) p = c + p * w;
  }
  return p * x;
}

describe("ddpo runner", () => {
  it("reports reward before/after, KL, distances, training curve and the exact DPOK reference", async () => {
    const cfg = parseConfig(
      {
        seed: 2,
        task: TASK,
        model: MODEL,
        method: [
          { kind: "ddpo", alpha: 1, iterations: 6, batch: 128, learningRate: 2e-3 },
          { kind: "ddpo", reward: "indicator", threshold: 0, iterations: 6, batch: 128, learningRate: 2e-3, label: "ddpo-indicator" },
        ],
        sampling: { sampler: "ddpm", steps: 10, samples: 300 },
      },
      "test config",
    );
    const { report } = await runExperiment(cfg, fresh());
    const [dpok, ind] = report.results;
    expect(dpok!.alpha).toBe(1);
    const gm = gaussianMixture(TASK.components);
    expect(dpok!.reference!.rewardMean).toBeCloseTo(exactTiltedRewardMean(gm, [1, 0], 1), 10);
    expect(dpok!.swToTilted).toMatchObject({ value: expect.any(Number), floor: expect.any(Number) });
    expect(dpok!.slicedWasserstein).toMatchObject({ value: expect.any(Number), floor: expect.any(Number) });
    expect(dpok!.klToPretrained as number).toBeGreaterThan(0);
    expect(dpok!.pretrainedTilt).toMatchObject({ rewardMean: expect.any(Number), kl: expect.any(Number), ess: expect.any(Number) });
    expect(ind!.pretrainedTilt).toBeUndefined();
    expect((dpok!.reward as { mean: number }).mean).toBeGreaterThan((dpok!.rewardBefore as { mean: number }).mean);
    expect(ind!.alpha).toBeNull();
    expect(ind!.reference).toBeUndefined();
    expect((ind!.reward as { mean: number }).mean).toBeGreaterThan((ind!.rewardBefore as { mean: number }).mean);
    const section = (report as unknown as Record<string, { rounds: { rewardMean: number }[] }>).ddpo0!;
    expect(section.rounds).toHaveLength(6);
  });

  it("refuses a deterministic sampler: in the config, and in the runner for any plan with σ = 0 before its last step", async () => {
    expect(() =>
      parseConfig({ task: TASK, method: [{ kind: "none" }, { kind: "ddpo" }], sampling: { sampler: "ddim", eta: 0 } }, "c.json"),
    ).toThrow(/c\.json: sampling\.eta: is 0 \(deterministic DDIM\), but method "ddpo" needs stochastic sampler steps/);
    // A DDIM η so small that σ underflows to 0 passes the config check but not the runner's.
    const cfg = parseConfig({ task: TASK, model: MODEL, method: [{ kind: "ddpo" }], sampling: { sampler: "ddim", eta: 1e-200, steps: 10, samples: 50 } }, "test config");
    await expect(runExperiment(cfg, fresh())).rejects.toThrow(/method\[0\] \("ddpo"\) needs a stochastic sampler, but step 1 of 10 .*deterministic \(σ = [\d.]+e-\d+, below 1e-6 in float32\)/);
  });
});
