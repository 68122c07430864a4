/**
 * The differentiable sampler chain of reward backpropagation (DRaFT / AlignProp) and CTRL
 * (methods.md, "Adding conditional control with RL" and "The neighbouring family").
 *
 * Every step of a stochastic sampler plan (samplerPlan: DDPM, or DDIM with η > 0) is reparameterised:
 *   x_s = μ_θ(x_t) + σ_t z_t,   z_t ~ N(0, I) drawn once per chain and then held fixed,
 * so x_0 is a differentiable function of the trainable parameters θ. Beside each step the KL of the
 * policy's Gaussian step to the frozen reference's step at the same x_t is
 *   KL_t = ‖μ_θ(x_t) − μ_ref(x_t)‖² / (2σ_t²)     (summed over dimensions; `klReduce: "mean"` averages,
 *                                                  the CTRL reference code's quirk),
 * and the loss minimised is the negative objective
 *   L(θ) = −ρ · mean_i obj(x_0^i) + λ · Σ_t mean_i KL_t^i
 * (DRaFT: obj = r, ρ = 1, λ = α; CTRL: obj = log p̂(y | x_0), ρ = γ, λ = 1).
 *
 * Gradients (docs/ctrl.md, "Gradients are backpropagation through time"):
 *  - truncation: only the last K steps carry gradient; the earlier ones run without it (their states
 *    and KLs are computed and reported, but contribute nothing to ∇L). K = all steps is exact BPTT.
 *  - single pass (the default): one jitted value-and-grad over the whole window of K steps, x_0's
 *    objective and the KLs, keeping every step's activations for the backward pass.
 *  - segment-wise recomputation (gradient checkpointing), only when memory asks for it: the forward
 *    pass keeps the states at segment boundaries; the backward pass recomputes each segment from its
 *    boundary state inside a jitted `grad` and gets (∂L/∂θ, ∂L/∂x_start) from the cotangent ∂L/∂x_end
 *    (a vector–Jacobian product). Memory is then bounded by one segment's activations. Chosen by
 *    `segment`, or automatically when {@link chainActivationBytes} exceeds the budget ({@link autoSegment}).
 * Nothing is read from the device inside the chain: the loss, objective and KLs are read once, after the
 * gradient, asynchronously.
 * The noise (x_T and every z_t) follows the key scheme of the sampling loop (src/diffusion/sample.ts;
 * keys = split(key, S + 1):
 * x_T from key 0, step i from key i + 1), so a chain with the pretrained model reproduces the loop's
 * samples under the same key.
 */
import { grad, jit, np, tree, valueAndGrad, type JArray } from "../backend/jax.js";
import { keyAt, splitKeyWords, type Key } from "../backend/keys.js";
import { settleAsync, toHost } from "../backend/ownership.js";
import { coefficientRow, COEFFICIENT_COUNT, pathKl, requireStochastic, stepFromOutput, type StepCoefficients } from "../diffusion/step.js";
import { drawNoise as standardNoise } from "../diffusion/sample.js";
import { outputProjection, type NoiseHook } from "../diffusion/types.js";
import type { Params } from "../nn/params.js";

/**
 * The policy being trained and its frozen reference, as traced-friendly functions. Every function
 * consumes all its array arguments. `side` holds the per-sample side inputs (e.g. a context one-hot,
 * a control one-hot); the model decides what each entry means.
 */
export interface ChainModel<P extends Params, F extends Params> {
  /** ε̂_θ(x_t, t) of the trainable model: p trainable, f frozen, time [] (network time), alphaBar [] (ᾱ_t). */
  eps(p: P, f: F, x: JArray, time: JArray, alphaBar: JArray, side: JArray[]): JArray;
  /** ε̂_ref(x_t, t) of the frozen reference (pretrained) model. */
  refEps(f: F, x: JArray, time: JArray, alphaBar: JArray, side: JArray[]): JArray;
}

/**
 * A differentiable per-sample objective obj(x_0) → [n] (a reward, or log p̂(y | x_0) with the labels in
 * `aux`). Consumes its arguments.
 */
export type ChainObjective = (x0: JArray, aux: JArray[]) => JArray;

export interface ChainOptions {
  /** ρ: weight of the objective (γ for CTRL, 1 for DRaFT). */
  objectiveScale: number;
  /** λ: weight of Σ_t KL_t (1 for CTRL, α for DRaFT). */
  klWeight: number;
  /** K: number of final steps that carry gradient (default: all). */
  truncation?: number;
  /**
   * "fixed" (default, the theory): the last K steps every time. "random": the reference code's quirk,
   * K' drawn uniformly from {1..K} at every gradient evaluation (from `truncationDraw`).
   */
  truncationMode?: "fixed" | "random";
  /**
   * Steps per recomputation segment. Default: the whole truncated window in a single pass, unless its
   * estimated activations exceed `memoryBudget` ({@link autoSegment}).
   */
  segment?: number;
  /** Bytes the single pass may keep for the backward pass before it segments (default {@link CHAIN_ACTIVATION_BUDGET}). */
  memoryBudget?: number;
  /** KL summed over dimensions ("sum", default, the theory) or averaged ("mean", the reference code). */
  klReduce?: "sum" | "mean";
  /** Maps every standard-normal draw (x_T, z_t) into the model's noise space (src/diffusion/types.ts). */
  noise?: NoiseHook;
}

type Jitted = ((...a: any[]) => any) & { dispose(): void };

/**
 * Number of scalars per step row: [√ᾱ_t, √(1−ᾱ_t), c_x0, c_eps, c_xt, σ, ᾱ_t, network time, 1/(2σ²),
 * s] with 1/(2σ²) = 0 and s = 0 for the final deterministic step, else s = 1.
 */
const ROW = 10;

/**
 * The plan's per-step rows [S, 9] on the host. Every step must be stochastic (σ > 0: a Gaussian policy
 * with a KL to the reference) except the last one: the final step of DDPM / DDIM(η) lands on x_0 with
 * σ = 0 (β̃_1 = 0), a deterministic map. Its KL to the reference is infinite unless the two maps agree
 * (the σ → 0 limit of ‖μ_θ − μ_ref‖²/(2σ²)), so that step is taken with the frozen reference's mean
 * μ_ref(x_1) (θ acts on x_0 only through x_1) and adds no KL term. Left free, the last step would be an
 * unpenalised map that reward hacking exploits (measured: DRaFT's reward ran off to 100× the exact tilt).
 */
export function planRows(plan: readonly StepCoefficients[], T: number, who: string): Float32Array {
  requireStochastic(plan, { what: `${who} needs a stochastic sampler (σ > 0 at every step but the last)`, hint: "use sampling.eta > 0 (DDIM with eta = 0 is deterministic)" });
  const rows = new Float32Array(plan.length * ROW);
  plan.forEach((c, i) => {
    const a = c.t.alphaBar;
    const klCoef = c.sigma > 0 ? 1 / (2 * c.sigma * c.sigma) : 0;
    rows.set(coefficientRow(c), i * ROW);
    rows.set([a, (1000 * c.t.index) / T, klCoef, c.sigma > 0 ? 1 : 0], i * ROW + COEFFICIENT_COUNT);
  });
  return rows;
}

/** Default device-memory budget of the single-pass chain gradient: 1 GiB of activations. */
export const CHAIN_ACTIVATION_BUDGET = 2 ** 30;

/**
 * Floats kept per sample, per step and per output column of a weight matrix (of θ and of the reference)
 * for the backward pass. Measured on the MLP 2→256→256→256→2 (docs/ctrl.md, "Memory"): 512 chains × 50
 * steps raised the wasm heap by ~1.1 GiB, ≈ 7.5 floats per column.
 */
const FLOATS_PER_COLUMN = 8;

/**
 * Estimated activation bytes of a single-pass gradient through `steps` steps of n chains:
 *   4 · steps · n · 8 · 2 · max(Σ_W columns(W) over θ's 2-D leaves, the same over the frozen tree's),
 * the policy and the reference each running a network as wide as the larger tree (θ holds a whole copy
 * when every weight trains; adapters train on top of the frozen weights). It counts one row per sample
 * (the MLP denoisers, which read the whole event as one row); a network applied per node or per pixel
 * keeps more, so set `segment` there by hand. Borrows the trees.
 */
export function chainActivationBytes(p: Params, f: Params, n: number, steps: number): number {
  const columns = (t: Params) => (tree.leaves(t) as JArray[]).reduce((c, leaf) => c + (leaf.shape.length === 2 ? leaf.shape[1]! : 0), 0);
  return 4 * steps * n * FLOATS_PER_COLUMN * 2 * Math.max(columns(p), columns(f));
}

/**
 * Segment length for a window of K steps: K (a single pass) when the estimate fits the budget, else the
 * smallest number of equal segments whose activations fit, ⌈K / ⌈bytes / budget⌉⌉ steps each.
 */
export function autoSegment(K: number, bytes: number, budget = CHAIN_ACTIVATION_BUDGET): number {
  if (!(bytes > budget)) return K;
  return Math.max(1, Math.ceil(K / Math.ceil(bytes / budget)));
}

/** One reparameterised step with its KL, traced-friendly. Returns [x_s, KL per sample [n]]. Consumes all. */
function stepTraced<P extends Params, F extends Params>(
  m: ChainModel<P, F>,
  klReduce: "sum" | "mean",
  p: P,
  f: F,
  x: JArray,
  z: JArray,
  row: JArray,
  side: JArray[],
  noise: NoiseHook | undefined,
): [JArray, JArray] {
  const k = (i: number) => row.ref.slice(i);
  // With a noise hook the ε̂s pass its output projection, as in the sampling loop (src/diffusion/sample.ts),
  // and the KL is taken on the noise space V (P of both means; src/diffusion/types.ts).
  const proj = (e: JArray) => (noise ? outputProjection(noise)(e) : e);
  const onV = (a: JArray) => (noise ? noise(a) : a);
  const epsTheta = proj(m.eps(p, tree.ref(f) as F, x.ref, k(7), k(6), side.map((s) => s.ref)));
  const epsRef = proj(m.refEps(f, x.ref, k(7), k(6), side));
  // The step's mean (diffusion/step.ts) from the row's first COEFFICIENT_COUNT entries.
  const mean = (eps: JArray, xt: JArray) => {
    const st = stepFromOutput("eps", xt, eps, row.ref.slice([0, COEFFICIENT_COUNT]));
    st.x0Hat.dispose();
    st.epsHat.dispose();
    return st.mean;
  };
  const muFree = mean(epsTheta, x.ref);
  const muRef = mean(epsRef, x);
  // μ = s·μ_θ + (1 − s)·μ_ref: s = 0 on the final deterministic step (see planRows).
  const muTheta = muFree.mul(k(9)).add(muRef.ref.mul(np.subtract(1, k(9))));
  const kl = pathKl(onV(muTheta.ref), onV(muRef), k(8), klReduce);
  const xs = muTheta.add(z.mul(k(5)));
  row.dispose();
  return [xs, kl];
}

/** What a forward pass through the whole chain returns. */
export interface ChainForward {
  /** x_0 [n, D] (owned by the caller). */
  x0: JArray;
  /** mean_i KL_t^i per step (host), and their sum Σ_t. */
  klPerStep: Float64Array;
  klTotal: number;
}

/** A chain engine for one model and options: forward sampling, and the loss gradient. */
export interface Chain<P extends Params, F extends Params> {
  /**
   * Runs the chain without gradient. Borrows p, f and side. Consumes `key`. Returns x_0 and the KLs.
   */
  forward(p: P, f: F, side: JArray[], n: number, key: Key): Promise<ChainForward>;
  /**
   * L(θ) and ∇_θ L for one draw of the noise (key consumed). Borrows p, f, side and aux.
   * `truncationDraw` ∈ [0, 1) picks K' in "random" truncation mode (ignored otherwise).
   */
  lossAndGrad(p: P, f: F, side: JArray[], aux: JArray[], n: number, key: Key, truncationDraw?: number): Promise<ChainGradient<P>>;
  /** Releases the compiled functions. */
  dispose(): void;
}

export interface ChainGradient<P extends Params> {
  /** ∇_θ L (owned by the caller). */
  grads: P;
  /** L = −ρ·mean obj + λ·Σ KL. */
  loss: number;
  /** mean_i obj(x_0^i). */
  objective: number;
  /** Σ_t mean_i KL_t^i. */
  kl: number;
  /** The number of steps that carried gradient. */
  truncation: number;
}

/** Builds the engine. `plan` must be stochastic at every step; `T` is the schedule length. */
export function makeChain<P extends Params, F extends Params>(
  m: ChainModel<P, F>,
  objective: ChainObjective,
  plan: readonly StepCoefficients[],
  T: number,
  /** Entries per sample (event [dim]) or the event shape. */
  event: number | readonly number[],
  o: ChainOptions,
  who = "reward backpropagation",
): Chain<P, F> {
  const S = plan.length;
  const rowsHost = planRows(plan, T, who);
  const klReduce = o.klReduce ?? "sum";
  const K = o.truncation ?? S;
  if (!Number.isInteger(K) || K < 1 || K > S) throw new Error(`${who}: truncation must be a whole number in 1..${S} (the chain's steps), got ${K}`);
  if (o.segment !== undefined && (!Number.isInteger(o.segment) || o.segment < 1)) throw new Error(`${who}: segment must be a whole number ≥ 1, got ${o.segment}`);
  const budget = o.memoryBudget ?? CHAIN_ACTIVATION_BUDGET;
  if (!(budget > 0)) throw new Error(`${who}: memoryBudget must be > 0 bytes, got ${budget}`);
  if (!(o.klWeight >= 0) || !Number.isFinite(o.objectiveScale)) throw new Error(`${who}: the KL weight must be ≥ 0 and the objective scale finite`);
  const rho = o.objectiveScale;
  const lambda = o.klWeight;

  // z of a step, drawn by the same jitted kernel in every pass (forward, single pass, recomputation).
  const eventShape = typeof event === "number" ? [event] : [...event];
  const zDraw = jit((key: JArray, like: JArray) => {
    const z = standardNoise(key, like.shape, o.noise);
    like.dispose();
    return z;
  });
  const rowAt = (i: number) => np.array(rowsHost.slice(i * ROW, (i + 1) * ROW));
  const rowsOf = (a: number, b: number) => np.array(rowsHost.slice(a * ROW, b * ROW), { shape: [b - a, ROW] });
  const zAt = (words: Uint32Array, i: number, n: number) => zDraw(keyAt(words, i + 1), np.zeros([n, ...eventShape]));
  const zsOf = (words: Uint32Array, a: number, b: number, n: number) => np.stack(Array.from({ length: b - a }, (_, j) => zAt(words, a + j, n)));

  // The compiled functions take pytrees of any shape: typed loosely at the jit boundary (as diffusion/model.ts).
  // One step without gradient: [x_s, mean_i KL_t^i].
  const stepFwd = jit((p: P, f: F, x: JArray, z: JArray, row: JArray, side: JArray[]) => {
    const [xs, kl] = stepTraced(m, klReduce, p, f, x, z, row, side, o.noise);
    return [xs, np.mean(kl)];
  }) as unknown as Jitted;

  /** L steps from x (traced): [x_end, per-step mean KLs [L]]. Consumes p, x, zs, rows, side; borrows f. */
  const runSteps = (p: P, f: F, x: JArray, zs: JArray, rows: JArray, side: JArray[]): [JArray, JArray] => {
    const L = zs.shape[0]!;
    const kls: JArray[] = [];
    for (let i = 0; i < L; i++) {
      const [xs, kl] = stepTraced(m, klReduce, tree.ref(p) as P, tree.ref(f) as F, x, zs.ref.slice(i), rows.ref.slice(i), side.map((s) => s.ref), o.noise);
      x = xs;
      kls.push(np.mean(kl));
    }
    tree.dispose(p);
    zs.dispose();
    rows.dispose();
    for (const s of side) s.dispose();
    return [x, np.stack(kls)];
  };

  // A segment's forward pass without gradient (recomputation mode): [x_end, KLs [L]].
  const segFwd = jit((p: P, f: F, x: JArray, zs: JArray, rows: JArray, side: JArray[]) => {
    const out = runSteps(p, tree.ref(f) as F, x, zs, rows, side);
    tree.dispose(f);
    return out;
  }) as unknown as Jitted;

  // The single pass: value and ∇_θ of L_window = −ρ mean obj(x_0) + λ Σ_{t in window} mean KL_t, from the
  // window's first state x_a. Returns [∇_θ, [mean obj, KL_a, …, KL_{S−1}]]. Recompiles per window length.
  const windowGrad = jit((p: P, f: F, xa: JArray, zs: JArray, rows: JArray, side: JArray[], aux: JArray[]) => {
    const loss = (pp: P): [JArray, JArray[]] => {
      const [x0, kls] = runSteps(pp, tree.ref(f) as F, xa.ref, zs.ref, rows.ref, side.map((s) => s.ref));
      const obj = np.mean(objective(x0, aux.map((a) => a.ref)));
      const value = obj.ref.mul(-rho).add(np.sum(kls.ref).mul(lambda));
      return [value, [obj, kls]];
    };
    const [[value, [obj, kls]], g] = valueAndGrad(loss, { hasAux: true })(p as never) as unknown as [[JArray, [JArray, JArray]], P];
    value.dispose();
    tree.dispose(f);
    for (const a of [xa, zs, rows, ...side, ...aux]) a.dispose();
    return [g, np.concatenate([obj.reshape([1]), kls])];
  }) as unknown as Jitted;

  // One segment's vector–Jacobian product: ∂/∂(θ, x_a) of  g_b · x_b + λ Σ_{t in segment} mean KL_t.
  const segGrad = jit((p: P, f: F, xa: JArray, gb: JArray, zs: JArray, rows: JArray, side: JArray[]) => {
    const run = (pp: P, x: JArray) => {
      const [xb, kls] = runSteps(pp, tree.ref(f) as F, x, zs.ref, rows.ref, side.map((s) => s.ref));
      return np.sum(xb.mul(gb.ref)).add(np.sum(kls).mul(lambda));
    };
    const g = grad(run, { argnums: [0, 1] })(p as never, xa) as unknown as [P, JArray];
    tree.dispose(f);
    for (const a of [gb, zs, rows, ...side]) a.dispose();
    return g;
  }) as unknown as Jitted;

  // ∂/∂x_0 of −ρ mean_i obj(x_0^i), and mean obj.
  const objGrad = jit((x0: JArray, aux: JArray[]) => {
    const meanObj = (x: JArray) => np.mean(objective(x, aux.map((a) => a.ref)));
    const [v, g] = valueAndGrad(meanObj)(x0);
    for (const a of aux) a.dispose();
    return [v, g.mul(-rho)];
  }) as unknown as Jitted;

  /** Noise words: key 0 → x_T, key i + 1 → z of step i (the sampling loop's scheme). */
  const drawNoise = (key: Key, n: number) => {
    const words = splitKeyWords(key, S + 1);
    const xT = standardNoise(keyAt(words, 0), [n, ...eventShape], o.noise);
    return { words, xT };
  };

  return {
    async forward(p, f, side, n, key) {
      const { words, xT } = drawNoise(key, n);
      let x = xT;
      const kls: JArray[] = [];
      for (let i = 0; i < S; i++) {
        const [xs, kl] = stepFwd(tree.ref(p) as P, tree.ref(f) as F, x, zAt(words, i, n), rowAt(i), side.map((s) => s.ref));
        x = xs;
        kls.push(kl);
        await settleAsync(x);
      }
      const klPerStep = Float64Array.from(await toHost(np.stack(kls)));
      return { x0: x, klPerStep, klTotal: klPerStep.reduce((a, b) => a + b, 0) };
    },

    async lossAndGrad(p, f, side, aux, n, key, truncationDraw = 0) {
      const Kit = o.truncationMode === "random" ? 1 + Math.min(K - 1, Math.floor(truncationDraw * K)) : K;
      const start = S - Kit;
      const seg = o.segment ?? autoSegment(Kit, chainActivationBytes(p, f, n, Kit), budget);
      const { words, xT } = drawNoise(key, n);
      // The steps before the window, without gradient (their KLs are reported, not differentiated).
      let x = xT;
      const stats: JArray[] = [];
      for (let i = 0; i < start; i++) {
        const [xs, kl] = stepFwd(tree.ref(p) as P, tree.ref(f) as F, x, zAt(words, i, n), rowAt(i), side.map((s) => s.ref));
        x = xs;
        stats.push(kl.reshape([1]));
        await settleAsync(x);
      }
      let grads: P;
      let objAndKl: JArray;
      if (seg >= Kit) {
        const [g, v] = windowGrad(tree.ref(p) as P, tree.ref(f) as F, x, zsOf(words, start, S, n), rowsOf(start, S), side.map((s) => s.ref), aux.map((a) => a.ref)) as unknown as [P, JArray];
        grads = g;
        objAndKl = v;
      } else {
        // Forward over segments, keeping their first states; then the backward pass, last segment first.
        const bounds: [number, number, JArray][] = [];
        const klSeg: JArray[] = [];
        for (let a = start; a < S; a += seg) {
          const b = Math.min(a + seg, S);
          bounds.push([a, b, x.ref]);
          const [xb, kls] = segFwd(tree.ref(p) as P, tree.ref(f) as F, x, zsOf(words, a, b, n), rowsOf(a, b), side.map((s) => s.ref)) as unknown as [JArray, JArray];
          x = xb;
          klSeg.push(kls);
          await settleAsync(x);
        }
        const [obj, gEnd] = objGrad(x, aux.map((a) => a.ref)) as unknown as [JArray, JArray];
        let g = gEnd;
        let acc: P | undefined;
        for (const [a, b, xa] of bounds.reverse()) {
          const [gp, gx] = segGrad(tree.ref(p) as P, tree.ref(f) as F, xa, g, zsOf(words, a, b, n), rowsOf(a, b), side.map((s) => s.ref)) as unknown as [P, JArray];
          g = gx;
          await settleAsync(g);
          acc = acc ? (tree.map((u: JArray, v: JArray) => u.add(v), acc, gp) as P) : gp;
        }
        g.dispose();
        grads = acc!;
        objAndKl = np.concatenate([obj.reshape([1]), ...klSeg]);
      }
      // The one read: [KL_0 … KL_{start−1}, mean obj, KL_start … KL_{S−1}]; Σ_t in float64, in step order.
      const host = await toHost(np.concatenate([...stats, objAndKl]));
      const objMean = host[start]!;
      let kl = 0;
      for (let i = 0; i < host.length; i++) if (i !== start) kl += host[i]!;
      return {
        grads,
        loss: -rho * objMean + lambda * kl,
        objective: objMean,
        kl,
        truncation: Kit,
      };
    },

    dispose() {
      stepFwd.dispose();
      zDraw.dispose();
      segFwd.dispose();
      windowGrad.dispose();
      segGrad.dispose();
      objGrad.dispose();
    },
  };
}

/** Host copy of x_0 (consumed). */
export async function chainSamples(x0: JArray): Promise<Float32Array> {
  return toHost(x0);
}
