/**
 * Model checkpoints: loading from bytes (the browser path: WebCrypto digest, no file system) gives the
 * same model as loading the files, and every sidecar is validated strictly (zod), each problem one line
 * naming the sidecar and the key.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, keyToWords } from "../src/backend/index.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { disposeLoadedModel, loadModelFromBytes, trainingState } from "../src/io/checkpoints/model.js";
import { loadModel, saveInferenceModel, saveModel, saveModelTensors, weightTensors } from "../src/io/checkpoints/model-files.js";
import { sha256HexWeb } from "../src/io/sidecar.js";
import { defaultTrainConfig, disposeTrainState, initTrainState, trainStateTensors } from "../src/training/trainer.js";

const dir = mkdtempSync(join(tmpdir(), "rewardiff-model-ckpt-"));
beforeAll(ensureBackend);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const model: ModelConfig = {
  network: { kind: "mlp", dataDim: 2, hidden: 16, layers: 2, timeEmbedding: 8, residual: true, norm: "none" },
  prediction: "eps",
  schedule: { kind: "linear", steps: 100 },
};

let n = 0;
/** A saved model (fresh weights, seed 3); returns its two paths. */
async function saved(): Promise<{ weights: string; sidecar: string }> {
  const weights = join(dir, `m${n++}.safetensors`);
  const state = initTrainState(model, keyFromSeed(3));
  await saveModel(weights, { model, train: defaultTrainConfig, columns: ["x1", "x2"], data: "test" }, state);
  disposeTrainState(state);
  return { weights, sidecar: weights.replace(/\.safetensors$/, ".json") };
}

function editSidecar(path: string, edit: (j: Record<string, any>) => void): void {
  const j = JSON.parse(readFileSync(path, "utf8"));
  edit(j);
  writeFileSync(path, JSON.stringify(j));
}

function loadError(path: string): string {
  try {
    disposeLoadedModel(loadModel(path));
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

describe("WebCrypto SHA-256", () => {
  it("matches the FIPS 180-2 test vector and node:crypto", async () => {
    const abc = new TextEncoder().encode("abc");
    expect(await sha256HexWeb(abc)).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37) % 256);
    expect(await sha256HexWeb(bytes)).toBe(createHash("sha256").update(bytes).digest("hex"));
  });
});

describe("loadModelFromBytes", () => {
  it("gives the same model as loading the files, from the sidecar as text or as a parsed object", async () => {
    const { weights, sidecar } = await saved();
    const fromFiles = loadModel(weights);
    const bytes = new Uint8Array(readFileSync(weights));
    const text = readFileSync(sidecar, "utf8");
    const want = await trainStateTensors(fromFiles.state!);
    for (const side of [text, JSON.parse(text) as object]) {
      const fromBytes = await loadModelFromBytes(bytes, side);
      expect(fromBytes.kind).toBe("training");
      expect(fromBytes.meta).toEqual(fromFiles.meta);
      expect(fromBytes.state!.step).toBe(fromFiles.state!.step);
      expect(keyToWords(fromBytes.state!.key)).toEqual(keyToWords(fromFiles.state!.key));
      const got = await trainStateTensors(fromBytes.state!);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [name, t] of want) expect(got.get(name)!.data, name).toEqual(t.data);
      disposeLoadedModel(fromBytes);
    }
    disposeLoadedModel(fromFiles);
  });

  it("refuses modified bytes by their digest and names the sources it was given", async () => {
    const { weights, sidecar } = await saved();
    const bytes = new Uint8Array(readFileSync(weights));
    bytes[bytes.length - 1]! ^= 0x01;
    await expect(loadModelFromBytes(bytes, readFileSync(sidecar, "utf8"), { weights: "w.safetensors", sidecar: "w.json" })).rejects.toThrow(
      /^w\.safetensors: sha256 [0-9a-f]{12}… does not match [0-9a-f]{12}… recorded in w\.json: the weights are corrupt or modified$/,
    );
  });
});

describe("inference and training checkpoints", () => {
  it("an inference checkpoint holds the config and the EMA weights only, and loads from files or bytes", async () => {
    const state = initTrainState(model, keyFromSeed(4));
    const want = await weightTensors(state.ema, "ema");
    const weights = join(dir, "inference.safetensors");
    await saveInferenceModel(weights, { model, train: defaultTrainConfig, columns: ["x1", "x2"], data: "test" }, state.ema, 7);
    disposeTrainState(state);
    const sidecar = JSON.parse(readFileSync(join(dir, "inference.json"), "utf8"));
    expect(sidecar.config.checkpoint).toBe("inference");
    expect(sidecar.config.step).toBe(7);
    expect(sidecar.config).not.toHaveProperty("dataSeed");
    expect(Object.keys(sidecar.tensors).sort()).toEqual([...want.keys()].sort());
    const fromBytes = await loadModelFromBytes(new Uint8Array(readFileSync(weights)), sidecar);
    for (const loaded of [loadModel(weights), fromBytes]) {
      expect(loaded.kind).toBe("inference");
      expect(loaded.state).toBeUndefined();
      const got = await weightTensors(loaded.ema, "ema");
      for (const [name, t] of want) expect(got.get(name)!.data, name).toEqual(t.data);
      expect(() => trainingState(loaded, "--resume inference.safetensors")).toThrow(
        /^--resume inference\.safetensors: an inference checkpoint \(EMA weights only\) has no training state/,
      );
    }
  });

  it("a sidecar without the checkpoint key (written before it existed) is a training checkpoint", async () => {
    const { weights, sidecar } = await saved();
    editSidecar(sidecar, (j) => {
      expect(j.config.checkpoint).toBe("training");
      delete j.config.checkpoint;
    });
    const loaded = loadModel(weights);
    expect(loaded.kind).toBe("training");
    expect(loaded.ema).toBe(loaded.state!.ema);
    disposeLoadedModel(loaded);
  });

  it("each kind refuses the other's fields", async () => {
    const { weights, sidecar } = await saved();
    editSidecar(sidecar, (j) => (j.config.checkpoint = "inference"));
    expect(loadError(weights)).toBe(`${sidecar}: config.dataSeed: an inference checkpoint has no batch sampler (remove the key)`);
    editSidecar(sidecar, (j) => delete j.config.dataSeed);
    expect(loadError(weights)).toMatch(/: tensor "((params|opt)\.[^"]*|key)" belongs to a training state, but this is an inference checkpoint$/);
    editSidecar(sidecar, (j) => (j.config.checkpoint = "training"));
    expect(loadError(weights)).toBe(`${sidecar}: config.dataSeed: missing: a training checkpoint needs the batch sampler's seed`);
    const state = initTrainState(model, keyFromSeed(4));
    const path = join(dir, "bad-inference.safetensors");
    saveModelTensors(path, { kind: "rewardiff-model", checkpoint: "inference", model, train: defaultTrainConfig, step: 0, columns: ["x1", "x2"], data: "test" }, await trainStateTensors(state));
    disposeTrainState(state);
    expect(loadError(path)).toMatch(/belongs to a training state, but this is an inference checkpoint$/);
  });
});

describe("strict sidecars", () => {
  it("refuses a train block with a wrong type, naming the file and the key", async () => {
    const { weights, sidecar } = await saved();
    editSidecar(sidecar, (j) => (j.config.train.batchSize = "abc"));
    expect(loadError(weights)).toBe(`${sidecar}: config.train.batchSize: expected a number, got "abc"`);
    editSidecar(sidecar, (j) => (j.config.train.batchSize = 0));
    expect(loadError(weights)).toMatch(new RegExp(`^${sidecar.replace(/[.]/g, "\\.")}: config\\.train\\.batchSize: .*1`));
  });

  it("records a timestep band in the train block, and refuses an empty or malformed one", async () => {
    const { weights, sidecar } = await saved();
    const loads = () => {
      const m = loadModel(weights);
      const band = m.meta.train.timestepBand;
      disposeLoadedModel(m);
      return band;
    };
    editSidecar(sidecar, (j) => (j.config.train.timestepBand = { from: 0.1, to: 0.5, share: 0.75 }));
    expect(loads()).toEqual({ from: 0.1, to: 0.5, share: 0.75 });
    editSidecar(sidecar, (j) => (j.config.train.timestepBand = { from: 0.5, to: 0.1, share: 0.75 }));
    expect(loadError(weights)).toBe(`${sidecar}: config.train.timestepBand: from must be < to`);
    editSidecar(sidecar, (j) => (j.config.train.timestepBand = { from: 0.1, to: 0.5, share: 0.75, width: 1 }));
    expect(loadError(weights)).toMatch(/: config\.train\.timestepBand: unknown key "width"/);
  });

  it("refuses unknown keys at every depth", async () => {
    const { weights, sidecar } = await saved();
    editSidecar(sidecar, (j) => (j.config.train.learningRat = 1));
    expect(loadError(weights)).toMatch(/: config\.train: unknown key "learningRat"/);
    editSidecar(sidecar, (j) => {
      delete j.config.train.learningRat;
      j.config.model.schedule.beta = 0.1;
    });
    expect(loadError(weights)).toMatch(/: config\.model\.schedule: unknown key "beta"/);
    editSidecar(sidecar, (j) => {
      delete j.config.model.schedule.beta;
      j.config.note = "x";
    });
    expect(loadError(weights)).toMatch(/: config: unknown key "note"/);
    editSidecar(sidecar, (j) => {
      delete j.config.note;
      j.comment = "x";
    });
    expect(loadError(weights)).toBe(`${sidecar}: unknown key "comment"`);
    editSidecar(sidecar, (j) => {
      delete j.comment;
      j.config.model.network.dropout = 0.1;
    });
    expect(loadError(weights)).toMatch(/: config\.model\.network: .*unknown key "dropout"/);
    editSidecar(sidecar, (j) => delete j.config.model.network.dropout);
    editSidecar(sidecar, (j) => {
      j.tensors["ema.input.w"].order = "C";
    });
    expect(loadError(weights)).toBe(`${sidecar}: tensors.ema.input.w must be { dtype: "F32" | "F64" | "I32" | "U32", shape: [whole numbers] }`);
  });

  it("refuses bad enums and cross-field mismatches with one line", async () => {
    const { weights, sidecar } = await saved();
    editSidecar(sidecar, (j) => (j.config.model.prediction = "score"));
    expect(loadError(weights)).toMatch(/: config\.model\.prediction: expected one of "eps" \| "x0" \| "v", got "score"$/);
    editSidecar(sidecar, (j) => {
      j.config.model.prediction = "eps";
      j.config.columns = ["a"];
    });
    expect(loadError(weights)).toBe(`${sidecar}: config.columns: 1 names for a model of dimension 2`);
    editSidecar(sidecar, (j) => {
      j.config.columns = ["a", "b"];
      j.config.kind = "rewardiff-reward";
    });
    expect(loadError(weights)).toBe(`${sidecar}: config.kind: expected "rewardiff-model" (this is a reward model, not a diffusion model)`);
    for (const m of [loadError(weights)]) expect(m.split("\n")).toHaveLength(1);
  });
});
