/**
 * Exact guidance against the exact tilted law (fixtures.md §3). The base model is the exact ε of the
 * mixture (no training), so what separates the samples from p* is the sampler's discretisation and
 * sampling noise only; the first test measures that for the plain chain against p.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, toHostSync, upload } from "../src/backend/index.js";
import { hostMatrix, type HostMatrix } from "../src/data/matrix.js";
import { sample, samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { rewardGap, tiltedDistances } from "../src/guidance/benchmark.js";
import { exactGuidanceTerm, linearTiltReference } from "../src/guidance/exact.js";
import { guidedSample } from "../src/guidance/sampler.js";
import { exactTiltedRewardMean, gaussianMixture, mixtureEps, sampleMixture, tiltedMixture } from "../src/tasks/gaussian-mixture.js";
import { linearReward } from "../src/tasks/linear-reward.js";

beforeAll(async () => {
  await ensureBackend();
});

// The benchmark's 2-D three-component mixture and linear reward (configs/guidance-gm.json).
const gm = gaussianMixture([
  { weight: 2, mean: [-1.5, 0], std: 0.5 },
  { weight: 1, mean: [1.5, 1], std: 0.5 },
  { weight: 1, mean: [0.5, -1.5], std: 0.4 },
]);
const b = [1, 0.5];
const alpha = 1;
const schedule = makeSchedule({ kind: "linear", steps: 1000 });
const n = 4000;

async function pairs(sample: (k: number) => Promise<HostMatrix>): Promise<[HostMatrix, HostMatrix][]> {
  const out: [HostMatrix, HostMatrix][] = [];
  for (const k of [0, 1, 2, 3]) out.push([await sample(100 + 2 * k), await sample(101 + 2 * k)]);
  return out;
}

describe("exact guidance reproduces p* ∝ p·exp(r/α)", () => {
  it("first: the plain DDPM chain driven by the exact ε reproduces p (reward within 3 SE, distance at the floor)", async () => {
    const plan = samplerPlan(schedule, { sampler: "ddpm", steps: 400, eta: 1 });
    const x = hostMatrix(n, 2, toHostSync(await sample({ model: mixtureEps(gm), plan, n, eventShape: [2], key: keyFromSeed(11) })));
    const exactMean = gm.weights.reduce((s, w, k) => s + w * (b[0]! * gm.means[k]![0]! + b[1]! * gm.means[k]![1]!), 0);
    const gap = rewardGap(linearReward(b, x), exactMean);
    expect(Math.abs(gap.z)).toBeLessThan(3);
    const d = tiltedDistances(x, await pairs((k) => sampleMixture(keyFromSeed(k), gm, n)));
    expect(d.slicedWasserstein.ratio!).toBeLessThan(1.3);
  });

  it("mean reward within 3 standard errors of E_p*[r] and sliced-W / MMD distance to p* samples at the p*-vs-p* floor", async () => {
    const ref = linearTiltReference(gm, b, alpha);
    expect(ref.rewardMean).toBeCloseTo(exactTiltedRewardMean(gm, b, alpha), 12);
    const plan = samplerPlan(schedule, { sampler: "ddpm", steps: 400, eta: 1 });
    const { x, cost } = await guidedSample({ eps: mixtureEps(gm), plan, terms: [exactGuidanceTerm(gm, b, alpha)], n, dim: 2, key: keyFromSeed(12) });
    const samples = hostMatrix(n, 2, toHostSync(x));
    const gap = rewardGap(linearReward(b, samples), ref.rewardMean);
    expect(Math.abs(gap.z)).toBeLessThan(3);
    // The tilt moves the mean reward by > 2 (from −0.31 to 1.93): the check has power.
    expect(ref.rewardMean).toBeGreaterThan(1.9);
    const d = tiltedDistances(samples, await pairs((k) => ref.sample(keyFromSeed(k), n)));
    expect(d.slicedWasserstein.ratio!).toBeLessThan(1.3);
    expect(d.mmd2.value).toBeLessThan(d.mmd2.floor + 3e-4);
    expect(cost.gradEvals).toBe(n * 400);
    expect(cost.valueEvals).toBe(n * 400);
    expect(cost.modelEvals).toBe(n * 400);
    expect(cost.rewardEvals).toBe(0);
  });

  it("on a deterministic DDIM chain the guided score is exactly the tilted mixture's: same path as its exact ε", async () => {
    const plan = samplerPlan(schedule, { sampler: "ddim", steps: 25, eta: 0 });
    const xT = toHostSync(np.multiply(np.arange(0, 128).astype(np.float32).reshape([64, 2]), 0.05).sub(1.5));
    const { x } = await guidedSample({ eps: mixtureEps(gm), plan, terms: [exactGuidanceTerm(gm, b, alpha)], n: 64, dim: 2, key: keyFromSeed(1), xT: upload(xT, 64, 2) });
    const plain = await sample({ model: mixtureEps(tiltedMixture(gm, b, alpha)), plan, n: 64, eventShape: [2], key: keyFromSeed(2), xT: upload(xT, 64, 2) });
    const a = toHostSync(x);
    const c = toHostSync(plain);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - c[i]!));
    expect(worst).toBeLessThan(2e-3);
  });
});
