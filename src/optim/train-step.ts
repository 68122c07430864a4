/**
 * The one train-step builder (flax's TrainState.apply_gradients, optax's update → apply_updates): a loss
 * L(θ, batch, keys) becomes ONE jitted step
 *   g = ∇θ L;  (u, opt) = optimizer.update(g, opt, θ);  θ ← θ + u;  θ̄ ← δ_k θ̄ + (1 − δ_k) θ;  key ← split
 * on a state that holds everything a run needs to continue exactly: {params, ema?, opt, step, key,
 * dataSeed}. Host numbers that change per step (lr_k, δ_k) enter as traced scalars, so the step compiles
 * once. `applyGradients` runs the same update on gradients computed elsewhere (backprop through a chain).
 */
import { jit, random, tree, valueAndGrad, type JArray } from "../backend/jax.js";
import { backendDevice } from "../backend/init.js";
import type { Key } from "../backend/keys.js";
import { scalar } from "../backend/ownership.js";
import type { Params } from "../nn/params.js";
import { emaDecay, emaUpdate } from "./ema.js";
import { applyUpdates, type GradientTransformation, type OptState, type StepScalars } from "./transform.js";

/** Everything needed to continue a run exactly. Arrays are owned by the state. */
export interface TrainStepState<P extends Params, O extends OptState = OptState> {
  params: P;
  /** The EMA of the parameters (present when the step keeps one). */
  ema?: P;
  /** The optimizer's state. */
  opt: O;
  /** Optimizer steps taken so far (k). */
  step: number;
  /** The PRNG key carried from step to step (needed when the loss draws keys). */
  key?: Key;
  /** Seed of the host-side batch sampler (batch k uses (dataSeed, k)), for loops that draw batches so. */
  dataSeed?: number;
}

/**
 * A loss: consumes `batch` and `keys` (the loss is traced once per compilation, so each may be used
 * once, or `.ref`-ed), and works on `params` as a traced tree. Returns the scalar loss, or [loss, aux]
 * with `hasAux` (aux: device arrays read by the caller, e.g. a clip fraction; not differentiated).
 */
export type LossFn<P extends Params> = (params: P, batch: JArray[], keys: JArray[]) => JArray | [JArray, JArray[]];

export interface TrainStepOptions {
  /** EMA decay δ (with the warm-up of ./ema.ts); 0 or absent: no EMA. */
  ema?: number;
  /** PRNG keys the loss draws per step: key → split(key, 1 + n), key 0 carried on, keys 1..n to the loss. 0: the key is carried unchanged. */
  lossKeys?: number;
  /** The loss returns [loss, aux]. */
  hasAux?: boolean;
  /**
   * Share the compiled step among builders with the same id. The id must determine the loss and the
   * optimizer's static structure (optimizerStaticKey); the schedule's numbers may differ (they are traced).
   */
  cacheKey?: string;
}

export interface StepResult<P extends Params, O extends OptState> {
  state: TrainStepState<P, O>;
  /** The step's loss (device scalar, owned by the caller: read it asynchronously). */
  loss: JArray;
  /** The loss's aux arrays (empty without `hasAux`). */
  aux: JArray[];
}

export interface TrainStep<P extends Params, O extends OptState = OptState> {
  /** One optimizer step on `batch` (consumed). Consumes the state's arrays; returns the new state. */
  step(state: TrainStepState<P, O>, batch: JArray[]): StepResult<P, O>;
  /** One optimizer update from precomputed gradients (consumed); the key is carried unchanged. */
  applyGradients(state: TrainStepState<P, O>, grads: P): TrainStepState<P, O>;
  /** A fresh state: `params` (consumed), EMA = a copy when kept, the optimizer's initial state. */
  init(params: P, key?: Key, dataSeed?: number): TrainStepState<P, O>;
}

type Core = {
  step: (s: object, sc: StepScalars, batch: JArray[]) => [object, JArray, JArray[]];
  apply: (s: object, sc: StepScalars, grads: Params) => object;
};
/** Compiled cores by device and cache key (a jitted function keeps the device it was first traced on). */
const cores = new Map<string, Core>();

/** Releases every array of a state. */
export function disposeTrainStepState(s: TrainStepState<Params, OptState>): void {
  tree.dispose(s.params);
  if (s.ema) tree.dispose(s.ema);
  tree.dispose(s.opt as Params);
  s.key?.dispose();
}

/** Builds the jitted step of `loss` under `optimizer` (see the module doc). */
export function makeTrainStep<P extends Params, O extends OptState = OptState>(
  loss: LossFn<P>,
  optimizer: GradientTransformation,
  opts: TrainStepOptions = {},
): TrainStep<P, O> {
  const decay = opts.ema ?? 0;
  const hasEma = decay > 0;
  const nKeys = opts.lossKeys ?? 0;
  const hasAux = opts.hasAux ?? false;

  // Inside jit: the optimizer update and the EMA, on {params, ema?, opt}; consumes the scalars.
  const update = (s: { params: P; ema?: P; opt: O }, sc: StepScalars, grads: Params) => {
    const r = optimizer.update(grads, s.opt, s.params, sc);
    const params = applyUpdates(s.params, r.updates);
    const out: { params: P; ema?: P; opt: OptState } = { params, opt: r.state };
    if (hasEma) out.ema = emaUpdate(s.ema!, tree.ref(params) as P, sc.emaDecay!.ref);
    for (const a of Object.values(sc)) a.dispose();
    return out;
  };
  const build = (): Core => ({
    step: jit((s: { params: P; ema?: P; opt: O; key?: JArray }, sc: StepScalars, batch: JArray[]) => {
      let keys: JArray[] = [];
      let nextKey: JArray | undefined;
      if (nKeys > 0) {
        const all = random.split(s.key!, 1 + nKeys);
        keys = Array.from({ length: nKeys }, (_, i) => all.ref.slice(i + 1));
        nextKey = all.slice(0);
      }
      const f = (p: P) => loss(p, batch, keys);
      let value: JArray;
      let aux: JArray[] = [];
      let grads: Params;
      if (hasAux) {
        [[value, aux], grads] = (valueAndGrad as any)(f, { hasAux: true })(tree.ref(s.params)) as unknown as [[JArray, JArray[]], Params];
      } else {
        [value, grads] = (valueAndGrad as any)(f)(tree.ref(s.params)) as unknown as [JArray, Params];
      }
      const next: { params: P; ema?: P; opt: OptState; key?: JArray } = update(s, sc, grads);
      if (nKeys > 0) next.key = nextKey;
      return [next, value, aux];
    }) as unknown as Core["step"],
    apply: jit((s: { params: P; ema?: P; opt: O }, sc: StepScalars, grads: Params) => update(s, sc, grads)) as unknown as Core["apply"],
  });
  let core: Core;
  if (opts.cacheKey !== undefined) {
    const id = `${backendDevice()} ${opts.cacheKey}`;
    core = cores.get(id) ?? build();
    cores.set(id, core);
  } else {
    core = build();
  }

  const scalars = (k: number): Record<string, JArray> => {
    const out: Record<string, JArray> = {};
    for (const [name, v] of Object.entries(optimizer.scalars?.(k) ?? {})) out[name] = scalar(v);
    if (hasEma) out.emaDecay = scalar(emaDecay(decay, k));
    return out;
  };
  const inputs = (st: TrainStepState<P, O>, withKey: boolean) => {
    const s: { params: P; ema?: P; opt: O; key?: JArray } = { params: st.params, opt: st.opt };
    if (hasEma) {
      if (!st.ema) throw new Error("train step: the state has no EMA but the step keeps one");
      s.ema = st.ema;
    } else if (st.ema) {
      throw new Error("train step: the state has an EMA but the step keeps none (set opts.ema)");
    }
    if (withKey) {
      if (!st.key) throw new Error("train step: the loss draws PRNG keys but the state has none");
      s.key = st.key;
    }
    return s;
  };
  const output = (st: TrainStepState<P, O>, out: { params: P; ema?: P; opt: OptState; key?: JArray }, key: Key | undefined): TrainStepState<P, O> => {
    const next: TrainStepState<P, O> = { params: out.params, opt: out.opt as O, step: st.step + 1 };
    if (key) next.key = key;
    if (st.dataSeed !== undefined) next.dataSeed = st.dataSeed;
    if (hasEma) next.ema = out.ema;
    return next;
  };

  return {
    step(st, batch) {
      const sc = scalars(st.step);
      const [out, loss, aux] = core.step(inputs(st, nKeys > 0), sc, batch) as [{ params: P; ema?: P; opt: OptState; key?: JArray }, JArray, JArray[]];
      return { state: output(st, out, nKeys > 0 ? out.key! : st.key), loss, aux };
    },
    applyGradients(st, grads) {
      const sc = scalars(st.step);
      const out = core.apply(inputs(st, false), sc, grads) as { params: P; ema?: P; opt: OptState };
      return output(st, out, st.key);
    },
    init(params, key, dataSeed) {
      const st: TrainStepState<P, O> = { params, opt: optimizer.init(params) as O, step: 0 };
      if (key) st.key = key;
      if (dataSeed !== undefined) st.dataSeed = dataSeed;
      if (hasEma) st.ema = tree.map((a: JArray) => a.mul(1), tree.ref(params)) as P;
      return st;
    },
  };
}
