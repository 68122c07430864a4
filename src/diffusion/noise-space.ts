/**
 * The space the forward noise lives in, as part of a model (like its schedule): plain JSON that is saved in
 * the checkpoint and resolved to a {@link NoiseHook} wherever noise is drawn — the training loss
 * (x_t = √ᾱ_t x₀ + √(1−ᾱ_t) P(ε)) and every sampler draw (x_T and z_t). docs/fixtures.md §5.
 *   "full":      all of R^D (no hook; the default)
 *   "symmetric": events [n, n] restricted to symmetric matrices, P(z) = (z + zᵀ)/2
 *   "graph":     dense graph rows (src/data/graph-layout.ts): plain node noise, symmetric zero-diagonal edge noise
 */
import type { GraphLayout } from "../data/graph-layout.js";
import { symmetricPart } from "../data/symmetric.js";
import { graphNoise } from "./graph-noise.js";
import type { NoiseHook } from "./types.js";

export type NoiseSpace = { kind: "full" } | { kind: "symmetric" } | ({ kind: "graph" } & GraphLayout);

/**
 * One hook per distinct space: compiled samplers and training steps are cached by their hook, so the same
 * space must give the same function (else every call would compile anew).
 */
const hooks = new Map<string, NoiseHook>();

/** The hook of a noise space (undefined for the full space). */
export function noiseHookOf(space: NoiseSpace | undefined): NoiseHook | undefined {
  if (space === undefined || space.kind === "full") return undefined;
  const id = JSON.stringify(space);
  let hook = hooks.get(id);
  if (!hook) {
    if (space.kind === "symmetric") hook = symmetricPart;
    else if (space.kind === "graph") hook = graphNoise(space);
    else throw new Error(`unknown noise space "${(space as { kind: string }).kind}" (full, symmetric, graph)`);
    hooks.set(id, hook);
  }
  return hook;
}
