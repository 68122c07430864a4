/**
 * Best-of-N over whole samples: for each of the n outputs draw N complete samples from the sampler and
 * keep one — the best by reward (`select: "max"`), or one drawn with probability ∝ exp(r/α)
 * (`select: "softmax"`: sampling-importance-resampling of p · exp(r/α), exact as N → ∞ with an exact
 * base). Works with any reward (differentiable or not, sync or async). Cost: N·n samples and N·n
 * reward evaluations.
 */
import { selectCandidateRows } from "../data/selection.js";
import { random } from "../backend/jax.js";
import { split2, type Key } from "../backend/keys.js";
import { toHost } from "../backend/ownership.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { evaluateRewardHost, type Reward } from "../rewards/reward.js";
import { newCost, type GuidanceCost } from "./types.js";

export interface BestOfNOptions {
  /** Draws `count` samples (e.g. a guided or plain sampler). Consumes `key`; may add to `cost`. */
  draw: (key: Key, count: number, cost: GuidanceCost) => HostMatrix | Promise<HostMatrix>;
  reward: Reward;
  /** Outputs. */
  n: number;
  /** N ≥ 1 candidates per output. */
  candidates: number;
  select?: "max" | "softmax";
  /** Temperature of `select: "softmax"`. */
  alpha?: number;
  /** Consumed. */
  key: Key;
  cost?: GuidanceCost;
}

export interface BestOfNResult {
  samples: HostMatrix;
  /** Reward of each kept sample. */
  rewards: Float32Array;
  cost: GuidanceCost;
}

/** See the module doc. Candidate j of output i is row j·n + i of the draw. */
export async function bestOfN(o: BestOfNOptions): Promise<BestOfNResult> {
  const cost = o.cost ?? newCost();
  const t0 = performance.now();
  const N = o.candidates;
  const select = o.select ?? "max";
  const alpha = o.alpha ?? 1;
  if (!(Number.isInteger(N) && N >= 1)) throw new Error(`best-of-n: candidates must be a whole number ≥ 1, got ${N}`);
  if (select !== "max" && select !== "softmax") throw new Error(`best-of-n: select must be "max" or "softmax", got "${String(select)}"`);
  if (select === "softmax" && !(Number.isFinite(alpha) && alpha > 0)) throw new Error(`best-of-n: alpha must be > 0, got ${alpha}`);
  const [kDraw, kPick] = split2(o.key);
  const drawStart = cost.seconds;
  const all = await o.draw(kDraw, N * o.n, cost);
  const drawSeconds = cost.seconds - drawStart; // seconds the draw already counted (guided draws do)
  if (all.rows !== N * o.n) throw new Error(`best-of-n: the sampler returned ${all.rows} rows, expected ${N * o.n}`);
  const r = await evaluateRewardHost(o.reward, all);
  cost.rewardEvals += all.rows;
  const u = await toHost(random.uniform(kPick, [o.n]));
  const D = all.cols;
  const out = new Float32Array(o.n * D);
  const kept = new Float32Array(o.n);
  const picks = selectCandidateRows(r, o.n, N, select === "softmax" ? alpha : 0, (i) => u[i]!);
  for (let i = 0; i < o.n; i++) {
    const pick = picks[i]!;
    out.set(all.data.subarray((pick * o.n + i) * D, (pick * o.n + i + 1) * D), i * D);
    kept[i] = r[pick * o.n + i]!;
  }
  cost.seconds += (performance.now() - t0) / 1000 - drawSeconds;
  return { samples: hostMatrix(o.n, D, out), rewards: kept, cost };
}
