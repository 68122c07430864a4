/**
 * The graph transformer denoiser (src/nn/denoisers/graph-transformer.ts), the graph row layout
 * (src/data/graph-layout.ts) and the graph noise hook (src/diffusion/graph-noise.ts): permutation
 * equivariance (and that the check catches a positional term), symmetric edge outputs, the hook as an
 * orthogonal projection (checked against a float64 host recomputation), shapes, the spec schema, finite
 * gradients, and a short training run on QM9 graph rows whose loss falls.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, jit, keyFromSeed, np, random, toHostSync, tree, valueAndGrad, wasmHeapBytes, type JArray } from "../src/backend/index.js";
import { encodeSmiles, graphFromRow, graphRowLength, graphShape, QM9_VOCABULARY } from "../src/chem/graph.js";
import { encodeQm9, qm9Splits } from "../src/chem/qm9-node.js";
import { loadRDKit, type RDKit } from "../src/chem/rdkit.js";
import { graphRowSize, joinGraphRows, QM9_GRAPH_LAYOUT, splitGraphRows } from "../src/data/graph-layout.js";
import { mulberry32 } from "../src/data/host-rng.js";
import { graphNoise } from "../src/diffusion/graph-noise.js";
import { denoisingLossOf } from "../src/diffusion/loss.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { initTrainable } from "../src/finetune/policy.js";
import { applyDenoiser, initDenoiser, parseDenoiserSpec, type DenoiserParams, type DenoiserSpec } from "../src/nn/denoiser.js";
import { namedLeaves } from "../src/nn/params.js";
import { adam, disposeTrainStepState, makeTrainStep } from "../src/optim/index.js";

let rdkit: RDKit;
beforeAll(async () => {
  await ensureBackend();
  rdkit = await loadRDKit();
});

const n = 9;
const F = 8;
const E = 4;
const D = 396;

/** A small network on the QM9 layout (defaults for the layout fields). */
function smallSpec(extra: Record<string, unknown> = {}): DenoiserSpec {
  return parseDenoiserSpec({ kind: "graph-transformer", dataDim: D, hidden: 16, edgeHidden: 8, heads: 4, layers: 2, timeEmbedding: 8, ...extra });
}

/** Host value of edge feature k of the pair (i, j) in one row (layout of docs/molecules.md). */
function edgeAt(row: Float32Array, i: number, j: number, k: number): number {
  return row[n * F + (i * n + j) * E + k]!;
}

/** The rows with their nodes relabelled: node i of the result is node π(i) of the input (both edge axes too). */
function permuteRows(x: Float32Array, rows: number, perm: readonly number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) {
    const src = x.subarray(r * D, (r + 1) * D);
    const dst = out.subarray(r * D, (r + 1) * D);
    for (let i = 0; i < n; i++) {
      for (let f = 0; f < 5; f++) dst[i * 5 + f] = src[perm[i]! * 5 + f]!;
      for (let f = 0; f < 3; f++) dst[n * 5 + i * 3 + f] = src[n * 5 + perm[i]! * 3 + f]!;
      for (let j = 0; j < n; j++) for (let k = 0; k < E; k++) dst[n * F + (i * n + j) * E + k] = edgeAt(src, perm[i]!, perm[j]!, k);
    }
  }
  return out;
}

function randomPermutation(seed: number): number[] {
  const rng = mulberry32(seed);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

function randomRows(seed: number, rows: number): Float32Array {
  return toHostSync(random.normal(keyFromSeed(seed), [rows, D]));
}

/** max |f(πx) − π f(x)| over the batch, and max |f(x)| for scale. */
function equivarianceError(f: (x: Float32Array) => Float32Array, x: Float32Array, rows: number, perm: readonly number[]): { err: number; scale: number } {
  const fx = f(x);
  const want = permuteRows(fx, rows, perm);
  const got = f(permuteRows(x, rows, perm));
  let err = 0;
  let scale = 0;
  for (let k = 0; k < got.length; k++) {
    err = Math.max(err, Math.abs(got[k]! - want[k]!));
    scale = Math.max(scale, Math.abs(want[k]!));
  }
  return { err, scale };
}

describe("graph row layout", () => {
  it("matches the molecule encoding: QM9_GRAPH_LAYOUT is chem's shape, and split reads nodes, charges and edges where graph.ts writes them", () => {
    const { nodeFeatures, chargeFeatures, edgeFeatures } = graphShape(QM9_VOCABULARY);
    expect(QM9_GRAPH_LAYOUT).toEqual({ maxNodes: QM9_VOCABULARY.maxAtoms, nodeBlocks: [nodeFeatures, chargeFeatures], edgeFeatures });
    expect(graphRowSize(QM9_GRAPH_LAYOUT)).toBe(graphRowLength(QM9_VOCABULARY));
    const smiles = ["C[NH+]1CC1C(=O)[O-]", "OC1=CC=CC=C1F", "C#CC(=O)N"];
    const rows = smiles.map((s) => {
      const e = encodeSmiles(rdkit, s, QM9_VOCABULARY);
      if (!e.ok) throw new Error(e.detail);
      return e.graph;
    });
    const flat = new Float32Array(rows.length * D);
    rows.forEach((g, r) => {
      flat.set(g.nodes, r * D);
      flat.set(g.charges, r * D + g.nodes.length);
      flat.set(g.edges, r * D + g.nodes.length + g.charges.length);
    });
    const { nodes, edges } = splitGraphRows(np.array(flat, { shape: [rows.length, D] }), QM9_GRAPH_LAYOUT);
    expect(nodes.shape).toEqual([3, n, F]);
    expect(edges.shape).toEqual([3, n, n, E]);
    const nh = toHostSync(nodes.ref);
    const eh = toHostSync(edges.ref);
    rows.forEach((g, r) => {
      for (let i = 0; i < n; i++) {
        for (let f = 0; f < 5; f++) expect(nh[((r * n + i) * F) + f]).toBe(g.nodes[i * 5 + f]);
        for (let f = 0; f < 3; f++) expect(nh[((r * n + i) * F) + 5 + f]).toBe(g.charges[i * 3 + f]);
      }
      expect(Array.from(eh.subarray(r * n * n * E, (r + 1) * n * n * E))).toEqual(Array.from(g.edges));
    });
    const back = toHostSync(joinGraphRows(nodes, edges, QM9_GRAPH_LAYOUT));
    expect(Array.from(back)).toEqual(Array.from(flat));
    // graphFromRow of chem reads the same row back.
    const g0 = graphFromRow(back.subarray(0, D), QM9_VOCABULARY);
    expect(Array.from(g0.charges)).toEqual(Array.from(rows[0]!.charges));
  });
});

describe("graph noise hook", () => {
  const hook = graphNoise(QM9_GRAPH_LAYOUT);
  const rows = 2000;
  const z = randomRows(7, rows);
  const pz = toHostSync(hook(np.array(z, { shape: [rows, D] })));

  it("equals the float64 formula: nodes unchanged, (z_ij + z_ji)/2 off the diagonal, 0 on it", () => {
    let err = 0;
    for (let r = 0; r < 50; r++) {
      const zr = z.subarray(r * D, (r + 1) * D);
      const pr = pz.subarray(r * D, (r + 1) * D);
      for (let k = 0; k < n * F; k++) expect(pr[k]).toBe(zr[k]);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          for (let k = 0; k < E; k++) {
            const want = i === j ? 0 : (edgeAt(zr, i, j, k) + edgeAt(zr, j, i, k)) / 2;
            err = Math.max(err, Math.abs(edgeAt(pr, i, j, k) - want));
            expect(edgeAt(pr, i, j, k)).toBe(edgeAt(pr, j, i, k));
          }
        }
        for (let k = 0; k < E; k++) expect(edgeAt(pr, i, i, k)).toBe(0);
      }
    }
    expect(err).toBeLessThan(1e-6);
  });

  it("is idempotent and self-adjoint (an orthogonal projection)", () => {
    const ppz = toHostSync(hook(np.array(pz, { shape: [rows, D] })));
    let idem = 0;
    for (let k = 0; k < ppz.length; k++) idem = Math.max(idem, Math.abs(ppz[k]! - pz[k]!));
    expect(idem).toBeLessThan(1e-6);
    // ⟨P z, w⟩ = ⟨z, P w⟩ in float64, per row.
    const w = randomRows(8, 20);
    const pw = toHostSync(hook(np.array(w, { shape: [20, D] })));
    for (let r = 0; r < 20; r++) {
      let a = 0;
      let b = 0;
      for (let k = 0; k < D; k++) {
        a += pz[r * D + k]! * w[r * D + k]!;
        b += z[r * D + k]! * pw[r * D + k]!;
      }
      expect(Math.abs(a - b)).toBeLessThan(1e-4 * Math.max(1, Math.abs(a)));
    }
  });

  it("draws a standard normal on the subspace: E‖P z‖² = n·F + E·n(n−1)/2, off-diagonal edge variance 1/2", () => {
    const rank = n * F + (E * n * (n - 1)) / 2; // 72 + 144 = 216
    let sq = 0;
    let off = 0;
    let offCount = 0;
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < D; k++) sq += pz[r * D + k]! ** 2;
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          for (let k = 0; k < E; k++) {
            off += edgeAt(pz.subarray(r * D), i, j, k) ** 2;
            offCount++;
          }
        }
      }
    }
    // ‖Pz‖² ~ χ²_216: the mean of 2000 has standard deviation √(2·216/2000) ≈ 0.46; allow 5σ.
    expect(Math.abs(sq / rows - rank)).toBeLessThan(5 * Math.sqrt((2 * rank) / rows));
    // Each off-diagonal entry ~ N(0, 1/2): the mean of 288,000 squares has sd √(2·0.25/288000) ≈ 0.0013.
    expect(Math.abs(off / offCount - 0.5)).toBeLessThan(5 * Math.sqrt((2 * 0.25) / offCount));
  });

  it("refuses rows of another size", () => {
    expect(() => hook(np.zeros([2, 395]))).toThrow(/expected \[N, 396\]/);
  });
});

describe("graph transformer", () => {
  it("fills the QM9 defaults and refuses inconsistent specs", () => {
    const s = parseDenoiserSpec({ kind: "graph-transformer", dataDim: 396 });
    expect(s).toMatchObject({ maxNodes: 9, nodeBlocks: [5, 3], edgeFeatures: 4, hidden: 96, edgeHidden: 48, heads: 8, layers: 4, timeEmbedding: 32 });
    expect(() => parseDenoiserSpec({ kind: "graph-transformer", dataDim: 395 })).toThrow(/dataDim.*396 values/);
    expect(() => parseDenoiserSpec({ kind: "graph-transformer", dataDim: 396, hidden: 30, heads: 4 })).toThrow(/heads: must divide hidden/);
    expect(() => parseDenoiserSpec({ kind: "graph-transformer", dataDim: 396, hiden: 30 })).toThrow(/hiden/);
    expect(() => parseDenoiserSpec({ kind: "graph-transformer", dataDim: 16 + 2 * 3, maxNodes: 2, nodeBlocks: [4, 3], edgeFeatures: 2 })).not.toThrow();
  });

  it("maps [N, 396] to [N, 396] (and keeps an event shape), with symmetric edge outputs", () => {
    const spec = smallSpec();
    const p = initDenoiser(keyFromSeed(1), spec);
    const out = applyDenoiser(spec, tree.ref(p), random.normal(keyFromSeed(2), [3, D]), np.array([3, 300, 999]));
    expect(out.shape).toEqual([3, D]);
    const h = toHostSync(out);
    for (let r = 0; r < 3; r++) {
      const row = h.subarray(r * D, (r + 1) * D);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < E; k++) expect(edgeAt(row, i, j, k)).toBe(edgeAt(row, j, i, k));
    }
    const shaped = { ...spec, eventShape: [4, 99] };
    const out2 = applyDenoiser(shaped, p, random.normal(keyFromSeed(2), [3, 4, 99]), np.array([3, 300, 999]));
    expect(out2.shape).toEqual([3, 4, 99]);
    expect(Array.from(toHostSync(out2))).toEqual(Array.from(h));
  });

  it("is permutation equivariant, and the check catches a positional term", () => {
    const spec = smallSpec();
    const p = initDenoiser(keyFromSeed(11), spec);
    const rows = 6;
    const t = Float32Array.from([0, 17, 250, 500, 750, 999]);
    const model = (x: Float32Array) => toHostSync(applyDenoiser(spec, tree.ref(p), np.array(x, { shape: [rows, D] }), np.array(t)));
    // A positional term: node i's first feature shifted by 0.3·i before the network.
    const shift = new Float32Array(D);
    for (let i = 0; i < n; i++) shift[i * 5] = 0.3 * i;
    const positional = (x: Float32Array) => model(x.map((v, k) => v + shift[k % D]!));
    for (const seed of [1, 2, 3]) {
      const perm = randomPermutation(seed);
      const x = randomRows(20 + seed, rows);
      const { err, scale } = equivarianceError(model, x, rows, perm);
      expect(scale).toBeGreaterThan(0.1);
      expect(err, `permutation [${perm}]`).toBeLessThan(1e-4 * Math.max(1, scale));
      const bad = equivarianceError(positional, x, rows, perm);
      expect(bad.err).toBeGreaterThan(1e-2);
    }
    tree.dispose(p);
  });

  it("is permutation equivariant with a value condition and a control", () => {
    const spec = smallSpec({ condition: { kind: "value", dim: 2, embedding: 4 }, control: { classes: 2 } });
    const p = initDenoiser(keyFromSeed(12), spec);
    // A non-zero control table, so that the control path is exercised.
    p.control!.table.dispose();
    p.control = { table: random.normal(keyFromSeed(13), [3, 16]) };
    const rows = 3;
    const y = Float32Array.from([0.5, -1, 2, 0.1, -0.3, 1]);
    const model = (x: Float32Array) =>
      toHostSync(
        applyDenoiser(
          spec,
          tree.ref(p),
          np.array(x, { shape: [rows, D] }),
          np.array([5, 400, 800]),
          { kind: "value", value: np.array(y, { shape: [rows, 2] }), keep: np.array([1, 0, 1]) },
          np.array(Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]), { shape: [3, 3] }),
        ),
      );
    const perm = randomPermutation(9);
    const { err, scale } = equivarianceError(model, randomRows(30, rows), rows, perm);
    expect(err).toBeLessThan(1e-4 * Math.max(1, scale));
    tree.dispose(p);
  });

  it("a zero control table leaves the output as the network without a control (same key, same weights)", () => {
    const base = smallSpec();
    const withControl = smallSpec({ control: { classes: 2 } });
    const x = random.normal(keyFromSeed(3), [2, D]);
    const a = toHostSync(applyDenoiser(base, initDenoiser(keyFromSeed(5), base), x.ref, np.array([10, 900])));
    const oneHot = np.array(Float32Array.from([1, 0, 0, 0, 0, 1]), { shape: [2, 3] });
    const b = toHostSync(applyDenoiser(withControl, initDenoiser(keyFromSeed(5), withControl), x, np.array([10, 900]), undefined, oneHot));
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it("LoRA adapters (residual-MLP layers only) refuse it with a message; a full copy works", () => {
    const spec = smallSpec();
    const base = initDenoiser(keyFromSeed(4), spec);
    const model = { network: spec, prediction: "eps" as const, schedule: { kind: "linear" as const, steps: 100 } };
    expect(() => initTrainable({ model, mode: "adapters", rank: 2 }, base, keyFromSeed(5))).toThrow(/^adapters: needs an "mlp" or "low-rank" network$/);
    const all = initTrainable({ model, mode: "all", rank: 2 }, base, keyFromSeed(5));
    expect([...namedLeaves(all.net!).keys()]).toEqual([...namedLeaves(base).keys()]);
    tree.dispose(all);
    tree.dispose(base);
  });

  it("has finite, non-zero gradients in every layer", () => {
    const spec = smallSpec();
    const p = initDenoiser(keyFromSeed(4), spec);
    const alphaBars = Float32Array.from(makeSchedule({ kind: "linear", steps: 100 }).alphaBars);
    const x0 = np.array(randomRows(40, 8).map((v) => (v > 0 ? 1 : 0)), { shape: [8, D] });
    const loss = (q: DenoiserParams) =>
      denoisingLossOf((xt, t) => applyDenoiser(spec, q, xt, t.astype(np.float32).mul(10)), "eps", [D], {
        x0,
        alphaBars: np.array(alphaBars),
        key: keyFromSeed(6),
        noise: graphNoise(QM9_GRAPH_LAYOUT),
      });
    const [value, grads] = valueAndGrad(loss)(p);
    expect(Number.isFinite(toHostSync(value)[0])).toBe(true);
    const layerNorms = new Map<string, number>();
    for (const [name, g] of namedLeaves(grads)) {
      const h = toHostSync(g.ref);
      expect(h.every(Number.isFinite), name).toBe(true);
      const group = name.split(".").slice(0, name.startsWith("layers.") ? 2 : 1).join(".");
      layerNorms.set(group, (layerNorms.get(group) ?? 0) + h.reduce((s, v) => s + v * v, 0));
    }
    tree.dispose(grads);
    expect([...layerNorms.keys()].sort()).toEqual(["cond", "edgeCond", "edgeIn", "edgeOut", "layers.0", "layers.1", "nodeIn", "nodeOut"]);
    for (const [group, sq] of layerNorms) expect(sq, group).toBeGreaterThan(0);
  });

  it("trains on 500 QM9 graph rows: the ε-loss at a fixed draw falls within 50 Adam steps, the heap stays flat", { timeout: 180_000 }, async () => {
    const train = qm9Splits().train;
    const rng = mulberry32(8);
    const pick = Array.from({ length: 500 }, () => train[Math.floor(rng() * train.length)]!);
    const data = encodeQm9(rdkit, pick);
    expect(data.matrix.rows).toBeGreaterThan(490);
    const spec = smallSpec({ hidden: 32, edgeHidden: 16, heads: 4 });
    const hook = graphNoise(QM9_GRAPH_LAYOUT);
    const T = 100;
    const alphaBars = Float32Array.from(makeSchedule({ kind: "linear", steps: T }).alphaBars);
    const lossOf = (q: DenoiserParams, x0: JArray, key: JArray, ab: JArray) =>
      denoisingLossOf((xt, t) => applyDenoiser(spec, q, xt, t.astype(np.float32).mul(1000 / T)), "eps", [D], { x0, alphaBars: ab, key, noise: hook });
    const evalLoss = jit((q: DenoiserParams, x0: JArray, key: JArray, ab: JArray) => lossOf(q, x0, key, ab));
    const trainer = makeTrainStep<DenoiserParams>((q, [x0, ab], [key]) => lossOf(q, x0!, key!, ab!), adam(3e-3), { lossKeys: 1 });
    const B = 64;
    const batch = (k: number) => {
      const r = mulberry32(100 + k);
      const out = new Float32Array(B * D);
      for (let i = 0; i < B; i++) {
        const row = Math.floor(r() * data.matrix.rows);
        out.set(data.matrix.data.subarray(row * D, (row + 1) * D), i * D);
      }
      return np.array(out, { shape: [B, D] });
    };
    // A fixed evaluation: 256 rows, one fixed draw of t and ε.
    const evalRows = np.array(data.matrix.data.slice(0, 256 * D), { shape: [256, D] });
    const evaluate = (q: DenoiserParams) => toHostSync(evalLoss(tree.ref(q), evalRows.ref, keyFromSeed(77), np.array(alphaBars)))[0]!;
    let state = trainer.init(initDenoiser(keyFromSeed(9), spec), keyFromSeed(10));
    const before = evaluate(state.params);
    let heapWarm = 0;
    for (let k = 0; k < 50; k++) {
      const r = trainer.step(state, [batch(k), np.array(alphaBars)]);
      state = r.state;
      expect(Number.isFinite((await r.loss.data())[0])).toBe(true);
      if (k === 9) heapWarm = wasmHeapBytes();
    }
    // A leaked batch per step would be 64 × 396 × 4 B ≈ 100 KB, 4 MB over the last 40 steps.
    expect(wasmHeapBytes() - heapWarm).toBeLessThan(1 << 20);
    const after = evaluate(state.params);
    evalRows.dispose();
    disposeTrainStepState(state);
    expect(before).toBeGreaterThan(0.5);
    expect(after, `loss ${before} → ${after}`).toBeLessThan(0.75 * before);
  });
});
