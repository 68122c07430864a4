import { describe, it, expect } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CHECKPOINT_SAVE_STEPS,
  SimulatedKill,
  loadCheckpoint,
  previousWeightsPath,
  saveCheckpoint,
  type CheckpointContents,
} from "../src/io/checkpoint.js";
import type { Tensor } from "../src/io/safetensors.js";

const tmp = () => mkdtempSync(join(tmpdir(), "rewardiff-crash-"));

/** A checkpoint whose every value says which save it came from (`tag`), with `n` floats in its weights. */
function contents(tag: number, n = 6): CheckpointContents {
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = tag * 1000 + i;
  const tensors: Record<string, Tensor> = {
    w: { dtype: "F32", shape: [n], data: w },
    step: { dtype: "I32", shape: [], data: Int32Array.from([tag]) },
  };
  return { tensors, config: { step: tag } };
}

/** Asserts the checkpoint at `path` loads and is entirely the one saved with `tag` (config and every tensor). */
function expectWhole(path: string, tag: number, n = 6): void {
  const c = loadCheckpoint(path);
  expect(c.config).toEqual({ step: tag });
  expect(Array.from(c.tensors.step!.data)).toEqual([tag]);
  expect(Array.from(c.tensors.w!.data)).toEqual(Array.from({ length: n }, (_, i) => tag * 1000 + i));
}

const temporaries = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".tmp"));

describe("a checkpoint save killed at any step", () => {
  for (const step of CHECKPOINT_SAVE_STEPS) {
    it(`after ${step}: the old or the new checkpoint loads whole, and the next save succeeds`, () => {
      const dir = tmp();
      const path = join(dir, "model.safetensors");
      saveCheckpoint(path, contents(100));
      expect(() => saveCheckpoint(path, contents(200), { faults: { killAfter: step } })).toThrow(SimulatedKill);
      // Before the sidecar rename the old pair is what loads; from it on, the new one.
      const committed = CHECKPOINT_SAVE_STEPS.indexOf(step) >= CHECKPOINT_SAVE_STEPS.indexOf("sidecar-committed");
      expectWhole(path, committed ? 200 : 100);
      expectWhole(join(dir, "model.json"), committed ? 200 : 100);
      // Recovery: a later save over the interrupted one commits cleanly and leaves no `.previous` behind.
      saveCheckpoint(path, contents(300));
      expectWhole(path, 300);
      expect(readdirSync(dir).includes("model.safetensors.previous")).toBe(false);
      rmSync(dir, { recursive: true, force: true });
    });
  }

  it("a second kill during the recovering save, between the renames, still loads the last whole checkpoint", () => {
    const dir = tmp();
    const path = join(dir, "model.safetensors");
    saveCheckpoint(path, contents(100));
    expect(() => saveCheckpoint(path, contents(200), { faults: { killAfter: "weights-committed" } })).toThrow(SimulatedKill);
    for (const step of ["previous-kept", "weights-committed"] as const) {
      expect(() => saveCheckpoint(path, contents(300), { faults: { killAfter: step } })).toThrow(SimulatedKill);
      expectWhole(path, 100);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("a load after a kill between the renames reads the kept previous weights, not the new ones", () => {
    const dir = tmp();
    const path = join(dir, "model.safetensors");
    saveCheckpoint(path, contents(100));
    expect(() => saveCheckpoint(path, contents(200), { faults: { killAfter: "weights-committed" } })).toThrow(SimulatedKill);
    // The weights file itself is the new one; only its previous copy matches the sidecar.
    expect(readFileSync(path).length).toBeGreaterThan(0);
    expect(readdirSync(dir)).toContain("model.safetensors.previous");
    expect(previousWeightsPath(path)).toBe(join(dir, "model.safetensors.previous"));
    expectWhole(path, 100);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("a checkpoint save on a full disk", () => {
  /** A write that throws ENOSPC for the temporary whose name contains `failOn` (after creating it, as a real full disk does). */
  const enospc = (failOn: string) => (p: string, data: string | Uint8Array): void => {
    if (p.includes(failOn)) {
      writeFileSync(p, "partial");
      throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: "ENOSPC" });
    }
    writeFileSync(p, data);
  };

  for (const [what, failOn, named] of [
    ["weights", ".model.safetensors.", "model.safetensors"],
    ["sidecar", ".model.json.", "model.json"],
  ] as const) {
    it(`ENOSPC writing the ${what}: the old checkpoint intact, no temporaries, one line naming the file`, () => {
      const dir = tmp();
      const path = join(dir, "model.safetensors");
      saveCheckpoint(path, contents(100));
      const before = readdirSync(dir).sort();
      let message = "";
      try {
        saveCheckpoint(path, contents(200), { faults: { writeFile: enospc(failOn) } });
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toBe(`${join(dir, named)}: could not write the checkpoint (no space left on device); the previous checkpoint is unchanged`);
      expect(message.includes("\n")).toBe(false);
      expect(temporaries(dir)).toEqual([]);
      expect(readdirSync(dir).sort()).toEqual(before);
      expectWhole(path, 100);
      rmSync(dir, { recursive: true, force: true });
    });
  }

  it("a real full disk (1 MB tmpfs) with a checkpoint larger than the free space: the old checkpoint intact", (ctx) => {
    const dir = tmp();
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir], { stdio: "pipe" });
    } catch (e) {
      console.log(`skipping the real full-disk test: cannot mount a tmpfs (${String((e as Error).message).split("\n")[0]})`);
      rmSync(dir, { recursive: true, force: true });
      ctx.skip();
      return;
    }
    try {
      const path = join(dir, "model.safetensors");
      saveCheckpoint(path, contents(100, 1000)); // 4 kB
      const big = 400_000; // 1.6 MB of floats: more than the whole file system
      let message = "";
      try {
        saveCheckpoint(path, contents(200, big));
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toBe(`${path}: could not write the checkpoint (no space left on device); the previous checkpoint is unchanged`);
      expect(temporaries(dir)).toEqual([]);
      expectWhole(path, 100, 1000);
    } finally {
      execFileSync("umount", [dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
