/**
 * Rewards as plug-ins (issue 4, item 2). A reward r maps a batch of samples x ∈ R^{n×D} to one value
 * per sample, r(x) ∈ R^n. Two shapes exist:
 *
 * - {@link DeviceReward} (`kind: "device"`): a jax-js function `fn(x: [n, D]) → [n]`. It CONSUMES `x`
 *   (the usual jax-js ownership rule). With `differentiable: true` it must be built only from
 *   differentiable jax-js ops, so gradient-based guidance (classifier/regressor guidance, DPS, target
 *   guidance) and reward backpropagation can take ∇_x r(x) through it with `grad`/`vjp`. A device reward
 *   may also be non-differentiable (e.g. a step function built from `np.greater`): set
 *   `differentiable: false`, then only derivative-free methods (SVDD, best-of-N, RWR, DDPO…) accept it.
 * - {@link HostReward} (`kind: "host"`): any JS function of a {@link HostMatrix}, synchronous or
 *   asynchronous, returning `n` numbers (Float32Array, Float64Array or number[]). Never differentiable:
 *   a black box (a simulator, a lookup, a call to another process).
 *
 * Use {@link evaluateReward} (async, any device) to get validated values: exactly `n` finite numbers,
 * else one clear error naming the reward.
 * Use {@link requireDifferentiable} in gradient-based code to refuse a black-box reward with a clear
 * error, and {@link rewardGrad} for ∇_x Σ_i r(x_i) (row i is ∇r(x_i), since samples do not interact).
 *
 * Built-ins: {@link linearRewardFn} (r(x) = bᵀx, the reward of the Gaussian-mixture task, fixtures.md §3),
 * {@link halfspaceIndicator} (1[bᵀx > c], non-differentiable). Tasks provide their own via these
 * constructors; users pass theirs to the library API (e.g. `deviceReward("mine", fn)`).
 */
import { grad, np, toHost, upload, type JArray } from "../backend/index.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import type { RewardTask } from "../tasks/task.js";

/** Values a host reward may return: one number per sample. */
export type RewardValues = Float32Array | Float64Array | readonly number[];

/** A reward computed on the device from a [n, D] array (consumed) to a [n] array. */
export interface DeviceReward {
  readonly kind: "device";
  /** Shown in errors and reports. */
  readonly name: string;
  /** True when `fn` is built from differentiable jax-js ops, so ∇_x r can be taken with `grad`. */
  readonly differentiable: boolean;
  /** r(x): [n, D] → [n]. Consumes `x`. */
  readonly fn: (x: JArray) => JArray;
}

/** A black-box reward computed on the host; never differentiable; may be asynchronous. */
export interface HostReward {
  readonly kind: "host";
  readonly name: string;
  readonly differentiable: false;
  /** r(x) for the rows of `x`; must return exactly x.rows finite values. */
  readonly fn: (x: HostMatrix) => RewardValues | Promise<RewardValues>;
}

/** A reward plug-in: see the module doc. */
export type Reward = DeviceReward | HostReward;

/** A reward that gradient-based code may differentiate. */
export type DifferentiableReward = DeviceReward & { readonly differentiable: true };

/** Wraps a jax-js reward function (differentiable unless told otherwise). */
export function deviceReward(
  name: string,
  fn: (x: JArray) => JArray,
  opts: { differentiable?: boolean } = {},
): DeviceReward {
  checkName(name);
  return { kind: "device", name, differentiable: opts.differentiable ?? true, fn };
}

/** Wraps a host (black-box, possibly async) reward function. */
export function hostReward(name: string, fn: (x: HostMatrix) => RewardValues | Promise<RewardValues>): HostReward {
  checkName(name);
  return { kind: "host", name, differentiable: false, fn };
}

/** r(x) = bᵀx (differentiable; the linear reward of fixtures.md §2–3). */
export function linearRewardFn(weights: readonly number[], name = "linear"): DifferentiableReward {
  if (weights.length === 0 || !weights.every(Number.isFinite)) {
    throw new Error(`reward "${name}": weights must be a non-empty list of finite numbers`);
  }
  const b = Float32Array.from(weights);
  const dim = b.length;
  return {
    kind: "device",
    name,
    differentiable: true,
    fn: (x) => {
      checkDim(name, x, dim);
      const n = x.shape[0]!;
      return np.matmul(x, upload(b, dim, 1)).reshape([n]);
    },
  };
}

/**
 * 1[bᵀx > threshold] as a host reward (non-differentiable: its gradient is zero almost everywhere,
 * so gradient-based guidance must refuse it).
 */
export function halfspaceIndicator(weights: readonly number[], threshold = 0, name = "indicator"): HostReward {
  if (weights.length === 0 || !weights.every(Number.isFinite) || !Number.isFinite(threshold)) {
    throw new Error(`reward "${name}": weights and threshold must be finite numbers`);
  }
  const b = Float64Array.from(weights);
  return hostReward(name, (x) => {
    if (x.cols !== b.length) {
      throw new Error(`reward "${name}": samples have ${x.cols} columns, the weights ${b.length}`);
    }
    const out = new Float32Array(x.rows);
    for (let i = 0; i < x.rows; i++) {
      let s = 0;
      for (let j = 0; j < x.cols; j++) s += b[j]! * x.data[i * x.cols + j]!;
      out[i] = s > threshold ? 1 : 0;
    }
    return out;
  });
}

/**
 * A task's ground-truth reward (host, float64 accumulation) as a plug-in. It is marked non-differentiable
 * because it runs on the host; for a differentiable version of a linear task reward use
 * {@link linearRewardFn} with the task's weights.
 */
export function taskReward(task: RewardTask, name = `${task.name} reward`): HostReward {
  return hostReward(name, (x) => task.reward(x));
}

/** Throws unless `reward` is differentiable; `who` names the method or term that needs the gradient. */
export function requireDifferentiable(reward: Reward, who: string): asserts reward is DifferentiableReward {
  if (reward.kind !== "device" || !reward.differentiable) {
    throw new Error(
      `${who} needs a differentiable reward, but reward "${reward.name}" is not differentiable ` +
        `(a ${reward.kind === "host" ? "host/black-box" : "non-differentiable device"} reward); ` +
        `use a derivative-free method (svdd, best-of-n) or a differentiable reward`,
    );
  }
}

/** Checks that `values` holds exactly `n` finite numbers; throws an error naming the reward otherwise. */
export function validateRewardValues(reward: Pick<Reward, "name">, values: RewardValues, n: number): Float32Array {
  if (values.length !== n) {
    throw new Error(`reward "${reward.name}" returned ${values.length} values for ${n} samples (expected one per sample)`);
  }
  const out = values instanceof Float32Array ? values : Float32Array.from(values);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(out[i]!)) {
      throw new Error(`reward "${reward.name}" returned a non-finite value (${values[i]}) for sample ${i + 1} of ${n}`);
    }
  }
  return out;
}

/** r(x) on the host, validated. Consumes `x` ([n, D]). */
export async function evaluateReward(reward: Reward, x: JArray): Promise<Float32Array> {
  const n = x.shape[0]!;
  if (reward.kind === "device") return deviceValues(reward, x, n);
  const m = await toHostMatrix(x);
  return validateRewardValues(reward, await reward.fn(m), n);
}

/** r(x) of a host matrix, validated (uploads it for a device reward). */
export async function evaluateRewardHost(reward: Reward, x: HostMatrix): Promise<Float32Array> {
  if (reward.kind === "device") return deviceValues(reward, upload(x.data, x.rows, x.cols), x.rows);
  return validateRewardValues(reward, await reward.fn(x), x.rows);
}

/**
 * ∇_x Σ_i r(x_i): a [n, D] array whose row i is ∇r(x_i). Consumes `x`. Refuses a non-differentiable
 * reward (`who` names the caller in the error).
 */
export function rewardGrad(reward: Reward, who = "this method"): (x: JArray) => JArray {
  requireDifferentiable(reward, who);
  const f = (x: JArray) => reward.fn(x).sum();
  return (x) => grad(f)(x);
}

async function deviceValues(reward: DeviceReward, x: JArray, n: number): Promise<Float32Array> {
  const y = reward.fn(x);
  if (y.shape.length !== 1 || y.shape[0] !== n) {
    const shape = `[${y.shape.join(", ")}]`;
    y.dispose();
    throw new Error(`reward "${reward.name}" returned shape ${shape} for ${n} samples (expected [${n}])`);
  }
  return validateRewardValues(reward, await toHost(y), n);
}

async function toHostMatrix(x: JArray): Promise<HostMatrix> {
  if (x.shape.length !== 2) {
    const shape = `[${x.shape.join(", ")}]`;
    x.dispose();
    throw new Error(`rewards take a [n, D] batch, got shape ${shape}`);
  }
  const [rows, cols] = x.shape as [number, number];
  return hostMatrix(rows, cols, await toHost(x));
}

function checkName(name: string): void {
  if (typeof name !== "string" || name.length === 0) throw new Error("a reward needs a non-empty name");
}

function checkDim(name: string, x: JArray, dim: number): void {
  if (x.shape.length !== 2 || x.shape[1] !== dim) {
    const shape = `[${x.shape.join(", ")}]`;
    x.dispose();
    throw new Error(`reward "${name}": expected samples of shape [n, ${dim}], got ${shape}`);
  }
}
