/**
 * `npm run experiments -- guidance [--n N] [--out FILE.json]`: guidance methods on the Gaussian-mixture
 * tilt with the EXACT mixture ε as the base (no training), so every gap below is the method's own:
 *  1. the sampler alone: plain chain vs p and exact guidance vs p*, against the number of DDPM steps;
 *  2. SVDD against M (value r(x̂_0) and the exact soft value), best-of-N against N (max and softmax);
 *  3. DPS (full / identity Jacobian) and regressor-free gradient variants against the scale s.
 * Prints markdown tables (mean reward ± standard error, its z-score against E_p*[r], sliced-W₂ to p*
 * beside the p*-vs-p* floor, wall time) and optionally writes them as JSON.
 */
import { writeFileSync } from "node:fs";
import { ensureBackend, keyFromSeed, toHostSync } from "../../src/backend/index.js";
import { hostMatrix, type HostMatrix } from "../../src/data/matrix.js";
import { samplerPlan } from "../../src/diffusion/sample.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { rewardGap, tiltedDistances } from "../../src/guidance/benchmark.js";
import { bestOfN } from "../../src/guidance/best-of-n.js";
import { exactGuidanceTerm, exactSoftValue, linearTiltReference } from "../../src/guidance/exact.js";
import { guidedSample } from "../../src/guidance/sampler.js";
import { dpsTerm, rewardAtX0Value, svddTerm } from "../../src/guidance/terms.js";
import type { GuidanceTerm } from "../../src/guidance/types.js";
import { linearRewardFn } from "../../src/rewards/reward.js";
import { gaussianMixture, mixtureEps, sampleMixture } from "../../src/tasks/gaussian-mixture.js";
import { linearReward } from "../../src/tasks/linear-reward.js";

interface Row {
  experiment: string;
  setting: string;
  reward: number;
  se: number;
  exact: number;
  z: number;
  sw: number;
  swFloor: number;
  seconds: number;
}

export async function run(args: string[]): Promise<void> {
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const n = Number(opt("--n") ?? 4000);
  const outFile = opt("--out");
  await ensureBackend();
  // configs/guidance-gm.json's task.
  const gm = gaussianMixture([
    { weight: 2, mean: [-1.5, 0], std: 0.5 },
    { weight: 1, mean: [1.5, 1], std: 0.5 },
    { weight: 1, mean: [0.5, -1.5], std: 0.4 },
  ]);
  const b = [1, 0.5];
  const alpha = 1;
  const schedule = makeSchedule({ kind: "linear", steps: 1000 });
  const ref = linearTiltReference(gm, b, alpha);
  const eps = mixtureEps(gm);
  const reward = linearRewardFn(b);
  const pairsOf = async (draw: (seed: number) => Promise<HostMatrix>) => {
    const pairs: [HostMatrix, HostMatrix][] = [];
    for (const k of [0, 1, 2, 3]) pairs.push([await draw(900 + 2 * k), await draw(901 + 2 * k)]);
    return pairs;
  };
  const tiltedPairs = await pairsOf((s) => ref.sample(keyFromSeed(s), n));
  const plainPairs = await pairsOf((s) => sampleMixture(keyFromSeed(s), gm, n));
  const pMean = gm.weights.reduce((s, w, k) => s + w * (b[0]! * gm.means[k]![0]! + b[1]! * gm.means[k]![1]!), 0);
  const rows: Row[] = [];

  const score = (experiment: string, setting: string, x: HostMatrix, seconds: number, exact = ref.rewardMean, pairs = tiltedPairs) => {
    const g = rewardGap(linearReward(b, x), exact);
    const d = tiltedDistances(x, pairs);
    const row = { experiment, setting, reward: g.mean, se: g.standardError, exact, z: g.z, sw: d.slicedWasserstein.value, swFloor: d.slicedWasserstein.floor, seconds };
    rows.push(row);
    process.stdout.write(
      `| ${experiment} | ${setting} | ${row.reward.toFixed(3)} ± ${row.se.toFixed(3)} | ${exact.toFixed(3)} | ${row.z.toFixed(1)} | ${row.sw.toFixed(3)} (floor ${row.swFloor.toFixed(3)}) | ${seconds.toFixed(1)} |\n`,
    );
  };
  const chain = async (terms: GuidanceTerm[], steps = 100, seed = 1) => {
    const t0 = performance.now();
    const plan = samplerPlan(schedule, { sampler: "ddpm", steps, eta: 1 });
    const { x } = await guidedSample({ eps, plan, terms, n, dim: 2, key: keyFromSeed(seed) });
    return { x: hostMatrix(n, 2, toHostSync(x)), seconds: (performance.now() - t0) / 1000 };
  };

  process.stdout.write(`n = ${n}, E_p[r] = ${pMean.toFixed(4)}, E_p*[r] = ${ref.rewardMean.toFixed(4)} (α = ${alpha})\n\n`);
  process.stdout.write("| experiment | setting | mean reward ± se | exact | z | sliced-W₂ to target | seconds |\n|---|---|---|---|---|---|---|\n");
  for (const steps of [50, 100, 200, 500]) {
    const plain = await chain([], steps);
    score("plain chain vs p", `ddpm ${steps} steps`, plain.x, plain.seconds, pMean, plainPairs);
    const exact = await chain([exactGuidanceTerm(gm, b, alpha)], steps);
    score("exact guidance vs p*", `ddpm ${steps} steps`, exact.x, exact.seconds);
  }
  for (const M of [2, 4, 8, 16, 32]) {
    const r = await chain([svddTerm(rewardAtX0Value(reward, eps), { alpha, candidates: M })]);
    score("svdd v = r(x̂₀)", `M = ${M}`, r.x, r.seconds);
    const e = await chain([svddTerm(exactSoftValue(gm, b, alpha), { alpha, candidates: M })]);
    score("svdd v = exact", `M = ${M}`, e.x, e.seconds);
  }
  for (const N of [2, 4, 8, 32]) {
    for (const select of ["max", "softmax"] as const) {
      const t0 = performance.now();
      const res = await bestOfN({
        draw: async (key, count) => hostMatrix(count, 2, toHostSync((await guidedSample({ eps, plan: samplerPlan(schedule, { sampler: "ddpm", steps: 100, eta: 1 }), terms: [], n: count, dim: 2, key })).x)),
        reward,
        n,
        candidates: N,
        select,
        alpha,
        key: keyFromSeed(2),
      });
      score(`best-of-n (${select})`, `N = ${N}`, res.samples, (performance.now() - t0) / 1000);
    }
  }
  for (const s of [0.5, 1, 2]) {
    const full = await chain([dpsTerm(reward, { alpha, scale: s })]);
    score("dps (full Jacobian)", `s = ${s}`, full.x, full.seconds);
    const id = await chain([dpsTerm(reward, { alpha, scale: s, jacobian: "identity", start: 0.5 })]);
    score("dps (identity, second half)", `s = ${s}`, id.x, id.seconds);
  }
  if (outFile) writeFileSync(outFile, JSON.stringify({ n, alpha, exact: ref.rewardMean, pMean, rows }, null, 2) + "\n");
}
