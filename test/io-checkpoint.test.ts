import { describe, it, expect } from "vitest";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkpointPaths, loadCheckpoint, saveCheckpoint } from "../src/io/checkpoint.js";
import { encodeSafetensors, type Tensor } from "../src/io/safetensors.js";

const tmp = () => mkdtempSync(join(tmpdir(), "rewardiff-ckpt-"));

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

const tensors = (): Record<string, Tensor> => ({
  "net.0.w": { dtype: "F32", shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
  "net.0.b": { dtype: "F32", shape: [3], data: Float32Array.from([0.5, -0.5, 0]) },
  step: { dtype: "I32", shape: [], data: Int32Array.from([3000]) },
});
const config = { model: { hidden: 8, layers: 2 }, schedule: { kind: "linear", steps: 1000 }, note: null };
const created = new Date("2024-05-06T07:08:09.000Z");

function saved(): { dir: string; weights: string; sidecar: string } {
  const dir = tmp();
  const weights = join(dir, "model.safetensors");
  saveCheckpoint(weights, { tensors: tensors(), config }, { created });
  return { dir, weights, sidecar: join(dir, "model.json") };
}

/** Rewrites the sidecar JSON through `edit`. */
function editSidecar(path: string, edit: (j: Record<string, any>) => void): void {
  const j = JSON.parse(readFileSync(path, "utf8"));
  edit(j);
  writeFileSync(path, JSON.stringify(j));
}

describe("checkpointPaths", () => {
  it("pairs x.safetensors with x.json either way", () => {
    expect(checkpointPaths("/a/m.safetensors")).toEqual({ weights: "/a/m.safetensors", sidecar: "/a/m.json" });
    expect(checkpointPaths("/a/m.v2.json")).toEqual({ weights: "/a/m.v2.safetensors", sidecar: "/a/m.v2.json" });
    expect(errorOf(() => checkpointPaths("/a/m.bin"))).toBe("/a/m.bin: a checkpoint path must end in .safetensors or .json");
  });
});

describe("saveCheckpoint / loadCheckpoint", () => {
  it("writes a self-describing sidecar whose sha256 is that of the weights file", () => {
    const { dir, weights, sidecar } = saved();
    expect(readdirSync(dir).sort()).toEqual(["model.json", "model.safetensors"]);
    const bytes = readFileSync(weights);
    const j = JSON.parse(readFileSync(sidecar, "utf8"));
    expect(j).toEqual({
      format: "rewardiff-checkpoint",
      schemaVersion: 1,
      created: "2024-05-06T07:08:09.000Z",
      config,
      tensors: { "net.0.b": { dtype: "F32", shape: [3] }, "net.0.w": { dtype: "F32", shape: [2, 3] }, step: { dtype: "I32", shape: [] } },
      sha256: createHash("sha256").update(bytes).digest("hex"),
    });
  });

  it("loads from either path and returns the tensors, config and creation time", () => {
    const { weights, sidecar } = saved();
    for (const p of [weights, sidecar]) {
      const ck = loadCheckpoint(p);
      expect(ck.tensors).toEqual(tensors());
      expect(ck.config).toEqual(config);
      expect(ck.created).toBe("2024-05-06T07:08:09.000Z");
    }
  });

  it("overwrites an existing checkpoint with a new valid one", () => {
    const { weights } = saved();
    const t = { w: { dtype: "F64", shape: [1], data: Float64Array.from([2.5]) } } as Record<string, Tensor>;
    saveCheckpoint(weights, { tensors: t, config: { v: 2 } });
    const ck = loadCheckpoint(weights);
    expect(ck.tensors).toEqual(t);
    expect(ck.config).toEqual({ v: 2 });
    expect(Date.parse(ck.created)).toBeGreaterThan(created.getTime());
  });

  it("refuses bad tensors or config before touching an existing checkpoint", () => {
    const { dir, weights, sidecar } = saved();
    const before = [readFileSync(weights), readFileSync(sidecar, "utf8")] as const;
    const badLength = { w: { dtype: "F32", shape: [2, 2], data: new Float32Array(3) } } as Record<string, Tensor>;
    expect(errorOf(() => saveCheckpoint(weights, { tensors: badLength, config }))).toBe(
      `${weights}: tensor "w": shape [2, 2] holds 4 values but the data has 3`,
    );
    const nan = { w: { dtype: "F32", shape: [2], data: Float32Array.from([1, NaN]) } } as Record<string, Tensor>;
    expect(errorOf(() => saveCheckpoint(weights, { tensors: nan, config }))).toBe(
      `${weights}: tensor "w": refusing to save non-finite value NaN at flat index 1`,
    );
    expect(errorOf(() => saveCheckpoint(weights, { tensors: tensors(), config: { lr: Infinity } }))).toBe(
      `${weights}: config.lr: Infinity is not representable in JSON`,
    );
    expect(errorOf(() => saveCheckpoint(weights, { tensors: tensors(), config: [1] as unknown as Record<string, unknown> }))).toBe(
      `${weights}: the checkpoint config must be a JSON object`,
    );
    expect(errorOf(() => saveCheckpoint(sidecar, { tensors: tensors(), config }))).toBe(`${sidecar}: a checkpoint must be saved to a .safetensors path`);
    expect(readFileSync(weights)).toEqual(before[0]);
    expect(readFileSync(sidecar, "utf8")).toBe(before[1]);
    expect(readdirSync(dir).sort()).toEqual(["model.json", "model.safetensors"]);
  });

  it("reports missing files", () => {
    const { weights, sidecar } = saved();
    rmSync(weights);
    expect(errorOf(() => loadCheckpoint(sidecar))).toBe(`${weights}: checkpoint weights file (described by ${sidecar}) not found`);
    const other = saved();
    rmSync(other.sidecar);
    expect(errorOf(() => loadCheckpoint(other.weights))).toBe(
      `${other.sidecar}: checkpoint description (the .json beside ${other.weights}) not found`,
    );
  });

  it("reports an invalid JSON sidecar with its position", () => {
    const { weights, sidecar } = saved();
    writeFileSync(sidecar, '{\n  "format": "rewardiff-checkpoint",\n}');
    expect(errorOf(() => loadCheckpoint(weights))).toBe(`${sidecar}: invalid JSON at line 3 column 1: trailing comma before "}"`);
  });

  it("refuses a foreign format and another schema version, saying what it found", () => {
    const { weights, sidecar } = saved();
    editSidecar(sidecar, (j) => (j.schemaVersion = 2));
    expect(errorOf(() => loadCheckpoint(weights))).toBe(
      `${sidecar}: unsupported checkpoint schemaVersion 2 (this rewardiff reads version 1)`,
    );
    editSidecar(sidecar, (j) => (j.format = "k-diffusion"));
    expect(errorOf(() => loadCheckpoint(weights))).toBe(
      `${sidecar}: not a rewardiff checkpoint (format is "k-diffusion", expected "rewardiff-checkpoint")`,
    );
    writeFileSync(sidecar, "{}");
    expect(errorOf(() => loadCheckpoint(weights))).toBe(`${sidecar}: not a rewardiff checkpoint (no format key, expected "rewardiff-checkpoint")`);
  });

  it("detects modified or corrupt weights by their digest", () => {
    const { weights, sidecar } = saved();
    const bytes = readFileSync(weights);
    bytes[bytes.length - 1]! ^= 0x01;
    writeFileSync(weights, bytes);
    expect(errorOf(() => loadCheckpoint(sidecar))).toMatch(
      new RegExp(`^${weights.replace(/[.]/g, "\\.")}: sha256 [0-9a-f]{12}… does not match [0-9a-f]{12}… recorded in .*model\\.json: the weights are corrupt or modified$`),
    );
  });

  it("detects an interrupted save (new weights, old sidecar)", () => {
    const { weights, sidecar } = saved();
    writeFileSync(weights, encodeSafetensors({ w: { dtype: "F32", shape: [1], data: Float32Array.from([9]) } }));
    expect(errorOf(() => loadCheckpoint(sidecar))).toMatch(/corrupt or modified$/);
  });

  it("refuses a sidecar whose tensor list disagrees with the file", () => {
    const { weights, sidecar } = saved();
    editSidecar(sidecar, (j) => (j.tensors["net.1.w"] = { dtype: "F32", shape: [3, 3] }));
    expect(errorOf(() => loadCheckpoint(weights))).toBe(`${weights}: tensor "net.1.w" is listed in ${sidecar} but missing from the file`);
    editSidecar(sidecar, (j) => {
      delete j.tensors["net.1.w"];
      j.tensors["net.0.w"].shape = [3, 2];
    });
    expect(errorOf(() => loadCheckpoint(weights))).toBe(`${weights}: tensor "net.0.w" has shape [2, 3] in the file but [3, 2] in ${sidecar}`);
    editSidecar(sidecar, (j) => {
      j.tensors["net.0.w"] = { dtype: "F64", shape: [2, 3] };
    });
    expect(errorOf(() => loadCheckpoint(weights))).toBe(`${weights}: tensor "net.0.w" is F32 in the file but F64 in ${sidecar}`);
    editSidecar(sidecar, (j) => {
      j.tensors["net.0.w"] = { dtype: "F32", shape: [2, 3] };
      delete j.tensors.step;
    });
    expect(errorOf(() => loadCheckpoint(weights))).toBe(`${weights}: tensor "step" is in the file but not listed in ${sidecar}`);
  });

  it("refuses malformed sidecar fields", () => {
    const { weights, sidecar } = saved();
    editSidecar(sidecar, (j) => (j.sha256 = "abc"));
    expect(errorOf(() => loadCheckpoint(weights))).toBe(`${sidecar}: sha256 must be 64 lowercase hex digits, got "abc"`);
    editSidecar(sidecar, (j) => (j.config = 3));
    expect(errorOf(() => loadCheckpoint(weights))).toBe(`${sidecar}: config must be a JSON object`);
  });
});
