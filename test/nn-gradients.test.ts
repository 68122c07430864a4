/**
 * Reverse-mode gradients of the denoising loss and of the network against central finite differences.
 * The loss draws t and ε from a key; a fixed key makes it a deterministic function of the parameters.
 * Everything runs in float32, so the differences use ε = 1e-2 (round-off ≈ 1e-7·L/ε ≈ 1e-5, truncation
 * O(ε²) on a smooth network; measured relative errors ≈ 1e-3) and a relative tolerance of 2e-2 plus a
 * small absolute floor (2e-4 of the largest gradient entry) for
 * coordinates whose gradient is near zero.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, grad, keyFromSeed, np, toHostSync, toNumber, tree, type JArray } from "../src/backend/index.js";
import { denoisingLoss } from "../src/diffusion/loss.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { applyDenoiser, initDenoiser, type DenoiserParams, type DenoiserSpec, type ResidualMlpSpec } from "../src/nn/denoiser.js";
import { namedLeaves, paramsFromHost, paramsToHost } from "../src/nn/params.js";

beforeAll(ensureBackend);

const B = 16;
const D = 2;
const FD_EPS = 1e-2;
const REL = 2e-2;

/** Deterministic uniforms in [0, 1) (an LCG), for data and for picking coordinates. */
function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const rnd = lcg(5);
const x0Host = Float32Array.from({ length: B * D }, () => 2 * rnd() - 1);
const weightsHost = Float32Array.from({ length: B }, (_, i) => (i % 3 === 0 ? 0 : 0.2 + rnd() * 2));

function modelFor(network: Partial<ResidualMlpSpec>, prediction: ModelConfig["prediction"]): ModelConfig {
  return {
    network: { kind: "mlp", dataDim: D, hidden: 8, layers: 2, timeEmbedding: 4, residual: true, norm: "none", ...network },
    prediction,
    schedule: { kind: "linear", steps: 100 },
  };
}

type Host = Map<string, { shape: number[]; data: Float32Array }>;

/**
 * Checks ∂L/∂θ from `grad` against central differences on `perLeaf` random coordinates of every leaf.
 * `loss(p)` must consume `p` and return a scalar array.
 */
async function checkParamGradients(params: DenoiserParams, loss: (p: DenoiserParams) => JArray, perLeaf = 3, seed = 1): Promise<number> {
  const g = grad(loss)(tree.ref(params)) as DenoiserParams;
  const gHost = await paramsToHost(g);
  tree.dispose(g);
  const base: Host = await paramsToHost(params);
  const lossAtHost = (tensors: Host) => toNumber(loss(paramsFromHost(params, tensors, "fd")));
  const maxAbs = Math.max(...[...gHost.values()].flatMap((t) => Array.from(t.data, Math.abs)));
  expect(maxAbs).toBeGreaterThan(1e-3); // a live gradient, not a degenerate zero
  const pick = lcg(seed);
  let compared = 0;
  for (const [name, t] of base) {
    const gl = gHost.get(name);
    expect(gl, `gradient leaf ${name}`).toBeDefined();
    expect(gl!.shape).toEqual(t.shape);
    const n = t.data.length;
    const coords = new Set<number>();
    while (coords.size < Math.min(perLeaf, n)) coords.add(Math.floor(pick() * n));
    for (const i of coords) {
      const shifted = (delta: number): Host => {
        const m = new Map(base);
        const d = Float32Array.from(t.data);
        d[i] = d[i]! + delta;
        m.set(name, { shape: t.shape, data: d });
        return m;
      };
      // The step actually applied after float32 rounding (matters for the division).
      const hPlus = Math.fround(t.data[i]! + FD_EPS) - t.data[i]!;
      const hMinus = t.data[i]! - Math.fround(t.data[i]! - FD_EPS);
      const fd = (lossAtHost(shifted(FD_EPS)) - lossAtHost(shifted(-FD_EPS))) / (hPlus + hMinus);
      const got = gl!.data[i]!;
      const tol = REL * Math.abs(fd) + 2e-4 * maxAbs + 2e-5;
      expect(Math.abs(got - fd), `${name}[${i}]: grad ${got} vs finite difference ${fd}`).toBeLessThanOrEqual(tol);
      compared++;
    }
  }
  return compared;
}

function lossFn(model: ModelConfig, withWeights: boolean): (p: DenoiserParams) => JArray {
  const ab = Float32Array.from(makeSchedule(model.schedule).alphaBars);
  return (p) =>
    denoisingLoss(model, p, {
      x0: np.array(x0Host, { shape: [B, D] }),
      alphaBars: np.array(ab),
      key: keyFromSeed(1234),
      ...(withWeights ? { weights: np.array(weightsHost) } : {}),
    });
}

describe("∂ denoisingLoss / ∂θ vs central finite differences", () => {
  const cases: [string, Partial<ResidualMlpSpec>, ModelConfig["prediction"], boolean][] = [
    ["eps prediction, no norm", {}, "eps", false],
    ["eps prediction, layernorm", { norm: "layernorm", layers: 3 }, "eps", false],
    ["v prediction", {}, "v", false],
    ["x0 prediction, no residual", { residual: false }, "x0", false],
    ["per-sample weights", {}, "eps", true],
  ];
  for (const [label, net, prediction, withWeights] of cases) {
    it(label, async () => {
      const model = modelFor(net, prediction);
      const params = initDenoiser(keyFromSeed(3), model.network);
      const names = [...namedLeaves(params).keys()];
      if (net.norm === "layernorm") expect(names).toContain("blocks.0.norm.g");
      const loss = lossFn(model, withWeights);
      // The loss is a deterministic function of θ with a fixed key.
      expect(toNumber(loss(tree.ref(params)))).toBe(toNumber(loss(tree.ref(params))));
      const compared = await checkParamGradients(params, loss);
      expect(compared).toBeGreaterThanOrEqual(names.length * 3 - 2);
      tree.dispose(params);
    });
  }

  it("per-sample weights change the loss as a weighted mean would (zero weight = sample ignored)", () => {
    // L_w with weights w equals the unweighted loss of a batch where each row is repeated w times.
    const model = modelFor({}, "eps");
    const params = initDenoiser(keyFromSeed(4), model.network);
    const ab = Float32Array.from(makeSchedule(model.schedule).alphaBars);
    const w = Float32Array.from({ length: B }, (_, i) => (i < B / 2 ? 1 : 0));
    const weighted = toNumber(
      denoisingLoss(model, tree.ref(params), { x0: np.array(x0Host, { shape: [B, D] }), alphaBars: np.array(ab), key: keyFromSeed(9), weights: np.array(w) }),
    );
    const w2 = Float32Array.from(w, (v) => 3 * v);
    const scaled = toNumber(
      denoisingLoss(model, tree.ref(params), { x0: np.array(x0Host, { shape: [B, D] }), alphaBars: np.array(ab), key: keyFromSeed(9), weights: np.array(w2) }),
    );
    const uniform = toNumber(
      denoisingLoss(model, tree.ref(params), { x0: np.array(x0Host, { shape: [B, D] }), alphaBars: np.array(ab), key: keyFromSeed(9), weights: np.array(new Float32Array(B).fill(1)) }),
    );
    const unweighted = toNumber(denoisingLoss(model, tree.ref(params), { x0: np.array(x0Host, { shape: [B, D] }), alphaBars: np.array(ab), key: keyFromSeed(9) }));
    expect(scaled).toBeCloseTo(weighted, 5); // invariant to the weights' scale
    expect(uniform).toBeCloseTo(unweighted, 5);
    expect(Math.abs(weighted - unweighted)).toBeGreaterThan(1e-4);
    tree.dispose(params);
  });

  it("a batch whose weights are all zero has loss 0 and a zero gradient (not 0/0 = NaN)", () => {
    const model = modelFor({}, "eps");
    const params = initDenoiser(keyFromSeed(4), model.network);
    const ab = Float32Array.from(makeSchedule(model.schedule).alphaBars);
    const lossOf = (p: DenoiserParams) =>
      denoisingLoss(model, p, { x0: np.array(x0Host, { shape: [B, D] }), alphaBars: np.array(ab), key: keyFromSeed(9), weights: np.zeros([B]) });
    expect(toNumber(lossOf(tree.ref(params)))).toBe(0);
    const g = grad(lossOf)(params) as DenoiserParams;
    for (const leaf of tree.leaves(g) as JArray[]) expect(toHostSync(leaf).every((v) => v === 0)).toBe(true);
  });
});

describe("∂ Σ applyDenoiser(x) / ∂x vs central finite differences", () => {
  for (const norm of ["none", "layernorm"] as const) {
    it(`norm: ${norm}`, () => {
      const spec: DenoiserSpec = { kind: "mlp", dataDim: 3, hidden: 8, layers: 2, timeEmbedding: 4, residual: true, norm };
      const params = initDenoiser(keyFromSeed(8), spec);
      const n = 4;
      const r = lcg(77);
      const xHost = Float32Array.from({ length: n * 3 }, () => 2 * r() - 1);
      const tHost = Float32Array.from([10, 250, 600, 990]);
      const f = (x: JArray) => np.sum(applyDenoiser(spec, tree.ref(params), x, np.array(tHost)));
      const gx = toHostSync(grad(f)(np.array(xHost, { shape: [n, 3] })));
      const maxAbs = Math.max(...Array.from(gx, Math.abs));
      expect(maxAbs).toBeGreaterThan(1e-2);
      for (let i = 0; i < xHost.length; i++) {
        const at = (delta: number) => {
          const d = Float32Array.from(xHost);
          d[i] = d[i]! + delta;
          return toNumber(f(np.array(d, { shape: [n, 3] })));
        };
        const h = Math.fround(xHost[i]! + FD_EPS) - Math.fround(xHost[i]! - FD_EPS);
        const fd = (at(FD_EPS) - at(-FD_EPS)) / h;
        expect(Math.abs(gx[i]! - fd), `x[${i}]: ${gx[i]} vs ${fd}`).toBeLessThanOrEqual(REL * Math.abs(fd) + 2e-4 * maxAbs + 2e-5);
      }
      tree.dispose(params);
    });
  }
});
