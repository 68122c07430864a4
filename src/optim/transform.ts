/**
 * Gradient transformations in the optax style: a transform maps the incoming updates (at first the
 * gradients) to new updates and carries its own state; `chain` composes them left to right, and
 * `applyUpdates` adds the final updates to the parameters (θ ← θ + u, so a descent step has u = −lr·…).
 *
 * Differences from optax, kept on purpose:
 *  - host scalars: a transform may ask for per-step numbers (`scalars(k)`, e.g. the learning rate of a
 *    schedule). The step builder passes them into the jitted step as traced scalars, so a changing
 *    learning rate never recompiles.
 *  - state: each transform's state is a plain object of named arrays, and a chain's state is the union
 *    of its members' (disjoint) names, so the standard optimizer's state is just Adam's {m, v, count}
 *    and checkpoint tensor names stay short ("opt.m.…").
 */
import { tree, type JArray } from "../backend/jax.js";
import type { Params } from "../nn/params.js";

/** A transform's state: named arrays or trees (empty for a stateless transform). */
export type OptState = { [name: string]: Params };

/** Traced per-step scalars, by name (borrowed by `update`). */
export type StepScalars = Readonly<Record<string, JArray>>;

export interface GradientTransformation {
  /** The names of the state this transform keeps (`init`'s keys; empty when stateless). */
  readonly stateKeys: readonly string[];
  /** The initial state for parameters shaped like `params` (borrowed). */
  init(params: Params): OptState;
  /**
   * Consumes `updates` and `state`; borrows `params` and `scalars`. Runs inside `jit`: everything that
   * changes from step to step must arrive through `scalars`.
   */
  update(updates: Params, state: OptState, params: Params, scalars: StepScalars): { updates: Params; state: OptState };
  /** Host-side numbers this transform needs at optimizer step k (0-based), passed in as traced scalars. */
  scalars?(step: number): Record<string, number>;
}

/** Applies `transforms` in order; the state is the union of the members' states (names must not clash). */
export function chain(...transforms: GradientTransformation[]): GradientTransformation {
  const stateKeys = transforms.flatMap((t) => t.stateKeys);
  const clash = stateKeys.find((k, i) => stateKeys.indexOf(k) !== i);
  if (clash !== undefined) throw new Error(`chain: two transforms keep state named "${clash}"`);
  return {
    stateKeys,
    init(params) {
      const out: OptState = {};
      for (const t of transforms) {
        Object.assign(out, t.init(params));
      }
      return out;
    },
    update(updates, state, params, scalars) {
      let u = updates;
      const out: OptState = {};
      const rest: OptState = { ...state };
      for (const t of transforms) {
        const own: OptState = {};
        for (const name of t.stateKeys) {
          own[name] = rest[name]!;
          delete rest[name];
        }
        const r = t.update(u, own, params, scalars);
        u = r.updates;
        Object.assign(out, r.state);
      }
      const extra = Object.keys(rest);
      if (extra.length > 0) throw new Error(`chain: state has names no transform keeps: ${extra.join(", ")}`);
      return { updates: u, state: out };
    },
    scalars(step) {
      const out: Record<string, number> = {};
      for (const t of transforms) {
        for (const [name, v] of Object.entries(t.scalars?.(step) ?? {})) {
          if (name in out && out[name] !== v) throw new Error(`chain: two transforms ask for different values of scalar "${name}"`);
          out[name] = v;
        }
      }
      return out;
    },
  };
}

/** θ + u per leaf. Consumes both. */
export function applyUpdates<P extends Params>(params: P, updates: Params): P {
  return tree.map((p: JArray, u: JArray) => p.add(u), params, updates) as P;
}

/** A stateless transform from a per-leaf map (consumes the update leaf, borrows the parameter leaf). */
export function stateless(fn: (u: JArray, p: JArray, scalars: StepScalars) => JArray, scalars?: (step: number) => Record<string, number>): GradientTransformation {
  return {
    stateKeys: [],
    init: () => ({}),
    update: (updates, state, params, sc) => ({ updates: tree.map((u: JArray, p: JArray) => fn(u, p, sc), updates, params) as Params, state }),
    ...(scalars ? { scalars } : {}),
  };
}
