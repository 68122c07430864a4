/**
 * The denoiser interface (src/nn/denoisers/): the parameter layout and initialisation of the MLP rebuilt
 * here from the key scheme (so every seeded result and saved checkpoint stays as it was), the event-shape
 * contract (a [3, 3] network equals the same network on the flattened [9] input), the spec schema, the
 * default time-embedding width (first-layer inputs a multiple of 4), and a checkpoint saved with the
 * widths of earlier releases loading and sampling with its saved width.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, random, splitKey, toHostSync, tree, type JArray } from "../src/backend/index.js";
import {
  applyDenoiser,
  DENOISERS,
  eventShapeOf,
  initDenoiser,
  parseDenoiserSpec,
  validateDenoiserSpec,
  type DenoiserParams,
  type DenoiserSpec,
} from "../src/nn/denoiser.js";
import { paramsToHost } from "../src/nn/params.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { modelEps, type ModelConfig } from "../src/diffusion/model.js";
import { sample, samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { disposeLoadedModel } from "../src/io/checkpoints/model.js";
import { loadModel, saveInferenceModel } from "../src/io/checkpoints/model-files.js";
import { defaultTrainConfig } from "../src/training/trainer.js";

beforeAll(ensureBackend);

/** W ~ N(0, 1/in), b = 0, drawn here from the key directly (the layout every checkpoint relies on). */
function dense(key: JArray, inDim: number, outDim: number): { w: Float32Array; b: Float32Array } {
  return { w: toHostSync(random.normal(key, [inDim, outDim]).mul(1 / Math.sqrt(inDim))), b: new Float32Array(outDim) };
}

async function hostOf(p: DenoiserParams): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const h = await paramsToHost(p);
  tree.dispose(p);
  return h;
}

describe("MLP parameter layout and initialisation", () => {
  it("matches the key scheme leaf by leaf, in the saved order (condition, layernorm, control, Fourier features)", async () => {
    const spec: DenoiserSpec = {
      kind: "mlp",
      dataDim: 3,
      hidden: 8,
      layers: 3,
      timeEmbedding: 4,
      residual: true,
      norm: "layernorm",
      fourierFeatures: 2,
      condition: { kind: "value", dim: 2, embedding: 4 },
      control: { classes: 2 },
    };
    const got = await hostOf(initDenoiser(keyFromSeed(21), spec));
    // keys = split(key, layers + 2): 0 → W_in, 1 → W_out, i + 1 → block i, layers + 1 → the condition.
    const keys = splitKey(keyFromSeed(21), spec.layers + 2);
    const inDim = 3 * (1 + 2 * 2) + 4 + 4;
    const want = new Map<string, Float32Array>();
    const put = (name: string, d: { w: Float32Array; b: Float32Array }) => {
      want.set(`${name}.w`, d.w);
      want.set(`${name}.b`, d.b);
    };
    put("input", dense(keys[0]!, inDim, 8));
    for (let i = 1; i < spec.layers; i++) {
      put(`blocks.${i - 1}.dense`, dense(keys[i + 1]!, 8, 8));
      want.set(`blocks.${i - 1}.norm.g`, new Float32Array(8).fill(1));
      want.set(`blocks.${i - 1}.norm.b`, new Float32Array(8));
    }
    const out = dense(keys[1]!, 8, 3);
    want.set("output.w", out.w);
    want.set("output.b", out.b);
    want.set("valueCond.w", toHostSync(random.normal(keys[spec.layers + 1]!, [2, 4]).mul(1 / Math.sqrt(2))));
    want.set("valueCond.b", new Float32Array(4));
    want.set("valueCond.null", new Float32Array(4));
    want.set("control.table", new Float32Array(3 * 8));
    expect([...got.keys()]).toEqual([
      "input.w",
      "input.b",
      "blocks.0.dense.w",
      "blocks.0.dense.b",
      "blocks.0.norm.g",
      "blocks.0.norm.b",
      "blocks.1.dense.w",
      "blocks.1.dense.b",
      "blocks.1.norm.g",
      "blocks.1.norm.b",
      "output.w",
      "output.b",
      "valueCond.w",
      "valueCond.b",
      "valueCond.null",
      "control.table",
    ]);
    for (const [name, t] of got) expect(Array.from(t.data), name).toEqual(Array.from(want.get(name)!));
    expect(got.get("input.w")!.shape).toEqual([inDim, 8]);
  });

  it("low-rank: the trunk on rank-wide inputs from split(key, layers + 3), V orthonormal [D, rank] after the output layer", async () => {
    const spec: DenoiserSpec = { kind: "low-rank", rank: 2, dataDim: 5, hidden: 8, layers: 2, timeEmbedding: 4, residual: true, norm: "none", condition: { kind: "class", classes: 3, embedding: 4 } };
    const got = await hostOf(initDenoiser(keyFromSeed(5), spec));
    const keys = splitKey(keyFromSeed(5), spec.layers + 3);
    const want = new Map<string, Float32Array>();
    const a = dense(keys[0]!, 2 + 4 + 4, 8);
    const o = dense(keys[1]!, 8, 2);
    const b = dense(keys[2]!, 8, 8);
    want.set("input.w", a.w).set("input.b", a.b).set("blocks.0.dense.w", b.w).set("blocks.0.dense.b", b.b).set("output.w", o.w).set("output.b", o.b);
    want.set("classCond.table", toHostSync(random.normal(keys[3]!, [4, 4])));
    keys[4]!.dispose();
    expect([...got.keys()]).toEqual(["input.w", "input.b", "blocks.0.dense.w", "blocks.0.dense.b", "output.w", "output.b", "v", "classCond.table"]);
    for (const [name, t] of got) if (name !== "v") expect(Array.from(t.data), name).toEqual(Array.from(want.get(name)!));
    const v = got.get("v")!;
    expect(v.shape).toEqual([5, 2]);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) {
        let dot = 0;
        for (let r = 0; r < 5; r++) dot += v.data[r * 2 + i]! * v.data[r * 2 + j]!;
        expect(dot).toBeCloseTo(i === j ? 1 : 0, 5);
      }
    }
  });
});

describe("event shapes", () => {
  const N = 7;
  const xHost = Float32Array.from({ length: N * 9 }, (_, k) => Math.sin(0.7 * k + 0.3));
  const tHost = Float32Array.from({ length: N }, (_, k) => 37 + 130 * k);

  for (const kind of ["mlp", "low-rank"] as const) {
    it(`${kind}: on [N, 3, 3] equals the same network on the flattened [N, 9], output [N, 3, 3]`, async () => {
      const flat: DenoiserSpec = { kind, dataDim: 9, hidden: 16, layers: 3, timeEmbedding: 8, residual: true, norm: "layernorm", fourierFeatures: 1, ...(kind === "low-rank" ? { rank: 4 } : {}) };
      const shaped: DenoiserSpec = { ...flat, eventShape: [3, 3] };
      expect(eventShapeOf(flat)).toEqual([9]);
      expect(eventShapeOf(shaped)).toEqual([3, 3]);
      const p = initDenoiser(keyFromSeed(8), shaped);
      const pFlat = initDenoiser(keyFromSeed(8), flat);
      const a = await paramsToHost(p);
      const b = await paramsToHost(pFlat);
      tree.dispose(pFlat);
      for (const [name, t] of a) expect(Array.from(t.data), name).toEqual(Array.from(b.get(name)!.data));
      const outShaped = applyDenoiser(shaped, tree.ref(p), np.array(xHost, { shape: [N, 3, 3] }), np.array(tHost));
      expect(outShaped.shape).toEqual([N, 3, 3]);
      const outFlat = applyDenoiser(flat, p, np.array(xHost, { shape: [N, 9] }), np.array(tHost));
      expect(outFlat.shape).toEqual([N, 9]);
      expect(Array.from(toHostSync(outShaped))).toEqual(Array.from(toHostSync(outFlat)));
    });
  }

  it("rejects an input whose event shape is not the spec's", () => {
    const spec: DenoiserSpec = { kind: "mlp", dataDim: 9, eventShape: [3, 3], hidden: 8, layers: 1, timeEmbedding: 4, residual: true, norm: "none" };
    const p = initDenoiser(keyFromSeed(1), spec);
    expect(() => applyDenoiser(spec, p, np.zeros([2, 9]), np.zeros([2]))).toThrow(/expected x_t of shape \[N, 3, 3\], got \[2, 9\]/);
  });
});

describe("spec schema and registry", () => {
  it("registers mlp and low-rank; parsing fills the defaults", () => {
    expect(Object.keys(DENOISERS)).toEqual(["mlp", "low-rank", "graph-transformer"]);
    // The default time embedding: the smallest even width ≥ 32 making the first layer's input a multiple of 4 (2 + 34).
    expect(parseDenoiserSpec({ kind: "mlp", dataDim: 2 })).toEqual({ kind: "mlp", dataDim: 2, hidden: 128, layers: 3, timeEmbedding: 34, residual: true, norm: "none" });
    const full = { kind: "low-rank", rank: 3, dataDim: 9, eventShape: [3, 3], hidden: 8, layers: 2, timeEmbedding: 4, residual: false, norm: "layernorm", fourierFeatures: 2, condition: { kind: "value", dim: 1, embedding: 4 }, control: { classes: 2 } };
    expect(parseDenoiserSpec(full)).toEqual(full);
  });

  it("rejects bad specs with one line naming the field", () => {
    const base = { kind: "mlp", dataDim: 4, hidden: 8, layers: 2, timeEmbedding: 4, residual: true, norm: "none" } as DenoiserSpec;
    const cases: [unknown, RegExp][] = [
      [{ ...base, kind: "unet" }, /^model: unknown network kind "unet" \(mlp, low-rank, graph-transformer\)$/],
      [{ ...base, hidden: 0 }, /^model: hidden: .*0/],
      [{ ...base, timeEmbedding: 5 }, /^model: timeEmbedding: must be an even whole number/],
      [{ ...base, eventShape: [3, 3] }, /^model: eventShape: \[3, 3\] holds 9 values, but dataDim is 4$/],
      [{ ...base, kind: "low-rank" }, /^model: rank: missing/],
      [{ ...base, kind: "low-rank", rank: 5 }, /^model: rank: must be ≤ dataDim \(4\), got 5$/],
      [{ ...base, hiden: 3 }, /^model: unknown key "hiden" \(did you mean "hidden"\?\)$/],
      [{ ...base, condition: { kind: "value", dim: 0, embedding: 4 } }, /^model: condition\.dim: /],
      [{ ...base, fourierFeatures: 17 }, /^model: fourierFeatures: /],
    ];
    for (const [spec, msg] of cases) expect(() => validateDenoiserSpec(spec as DenoiserSpec), JSON.stringify(spec)).toThrow(msg);
    expect(() => initDenoiser(keyFromSeed(1), { ...base, layers: 0 })).toThrow(/^model: layers: /);
  });
});

describe("first-layer widths on the SIMD path", () => {
  /** The first layer's input width: rows of W_in (mlp, low-rank) or of W_c (graph transformer). */
  const firstWidth = (spec: DenoiserSpec) => {
    const p = initDenoiser(keyFromSeed(2), spec);
    const w = "blocks" in p ? p.input.w.shape[0]! : p.cond.w.shape[0]!;
    tree.dispose(p);
    return w;
  };

  it("parsing without timeEmbedding chooses the smallest even width ≥ 32 with a first layer a multiple of 4", () => {
    const cases: [Record<string, unknown>, number, number][] = [
      // [spec, timeEmbedding, first-layer width = other inputs + timeEmbedding]
      [{ kind: "mlp", dataDim: 2 }, 34, 36],
      [{ kind: "mlp", dataDim: 2, fourierFeatures: 4 }, 34, 2 * 9 + 34],
      [{ kind: "mlp", dataDim: 4 }, 32, 36],
      [{ kind: "mlp", dataDim: 6, condition: { kind: "value", dim: 1, embedding: 4 } }, 34, 6 + 4 + 34],
      [{ kind: "low-rank", dataDim: 9, rank: 2 }, 34, 36],
      // No even width makes an odd count a multiple of 4: the plain 32.
      [{ kind: "mlp", dataDim: 9 }, 32, 41],
      [{ kind: "graph-transformer", dataDim: 396, condition: { kind: "value", dim: 1, embedding: 2 } }, 34, 36],
      [{ kind: "graph-transformer", dataDim: 396 }, 32, 32],
    ];
    for (const [input, te, width] of cases) {
      const spec = parseDenoiserSpec(input);
      expect(spec.timeEmbedding, JSON.stringify(input)).toBe(te);
      expect(firstWidth({ ...spec, hidden: 8, ...(spec.kind === "graph-transformer" ? { edgeHidden: 8, layers: 1 } : { layers: 1 }) } as DenoiserSpec), JSON.stringify(input)).toBe(width);
    }
    // A given width is honoured as is (a saved config keeps its network).
    expect(parseDenoiserSpec({ kind: "mlp", dataDim: 2, timeEmbedding: 32 }).timeEmbedding).toBe(32);
    expect(parseDenoiserSpec({ kind: "graph-transformer", dataDim: 396, timeEmbedding: 16 }).timeEmbedding).toBe(16);
  });

  it("a checkpoint saved with the earlier default width (2·9 + 32 = 50 inputs) loads with it and samples as saved", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rewardiff-old-width-"));
    try {
      // What the earlier release wrote for a 2-D task with the defaults (fourierFeatures "auto" = 4, timeEmbedding 32).
      const model: ModelConfig = {
        network: { kind: "mlp", dataDim: 2, hidden: 16, layers: 2, timeEmbedding: 32, residual: true, norm: "none", fourierFeatures: 4 },
        prediction: "eps",
        schedule: { kind: "linear", steps: 100 },
      };
      const { timeEmbedding: _, ...withoutWidth } = model.network;
      expect(parseDenoiserSpec(withoutWidth).timeEmbedding).toBe(34); // today's default differs
      const params = initDenoiser(keyFromSeed(5), model.network);
      const path = join(dir, "old.safetensors");
      await saveInferenceModel(path, { model, train: defaultTrainConfig, columns: ["x1", "x2"], data: "test" }, params, 0);
      const loaded = loadModel(path);
      expect(loaded.meta.model.network.timeEmbedding).toBe(32);
      expect((loaded.ema as { input: { w: JArray } }).input.w.shape).toEqual([50, 16]);
      const plan = samplerPlan(makeSchedule(model.schedule), { sampler: "ddim", steps: 5, eta: 1 });
      const draw = async (p: DenoiserParams) => toHostSync(await sample({ model: modelEps(loaded.meta.model, p), plan, n: 8, eventShape: [2], key: keyFromSeed(9) }));
      const fromFile = await draw(loaded.ema);
      const original = await draw(params);
      expect(fromFile.every(Number.isFinite)).toBe(true);
      expect(Array.from(fromFile)).toEqual(Array.from(original));
      disposeLoadedModel(loaded);
      tree.dispose(params);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
