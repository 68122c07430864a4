import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed } from "../src/backend/index.js";
import { hostMatrix } from "../src/data/matrix.js";
import { distanceWithFloor } from "../src/eval/floor.js";
import { mmd2 } from "../src/eval/mmd.js";
import { slicedWasserstein } from "../src/eval/sliced-wasserstein.js";
import { hostNormal } from "../src/tasks/host-random.js";

beforeAll(async () => {
  await ensureBackend();
});

async function gaussian(seed: number, n: number, d: number, shift = 0) {
  const z = await hostNormal(keyFromSeed(seed), n, d);
  return hostMatrix(n, d, Float32Array.from(z, (v) => v + shift));
}

describe("distanceWithFloor", async () => {
  const dataA = await gaussian(1, 2000, 2);
  const dataB = await gaussian(2, 2000, 2);
  const sw = (a: Parameters<typeof slicedWasserstein>[0], b: Parameters<typeof slicedWasserstein>[1]) => slicedWasserstein(a, b);

  it("a sample from the data law sits at the floor; a shifted one is far above it", async () => {
    const good = distanceWithFloor(sw, await gaussian(3, 1000, 2), dataA, dataB);
    expect(good.floor).toBeGreaterThan(0);
    expect(good.floor).toBe(slicedWasserstein(hostMatrix(1000, 2, dataB.data.subarray(0, 2000)), dataA));
    expect(good.ratio!).toBeGreaterThan(0.5);
    expect(good.ratio!).toBeLessThan(2);
    const bad = distanceWithFloor(sw, await gaussian(3, 1000, 2, 0.5), dataA, dataB);
    expect(bad.value).toBeCloseTo(slicedWasserstein(await gaussian(3, 1000, 2, 0.5), dataA), 12);
    expect(bad.ratio!).toBeGreaterThan(5);
  });

  it("works with MMD² at a fixed bandwidth; a non-positive floor gives ratio null", async () => {
    const r = distanceWithFloor((a, b) => mmd2(a, b, { bandwidth: 1, maxPoints: 500 }), await gaussian(4, 500, 2, 1), dataA, dataB);
    expect(r.value).toBeGreaterThan(0.05);
    const answers = [0.1, -1e-4]; // value first, then floor
    const neg = distanceWithFloor(() => answers.shift()!, await gaussian(5, 10, 2), dataA, dataB);
    expect(neg.value).toBe(0.1);
    expect(neg.floor).toBe(-1e-4);
    expect(neg.ratio).toBeNull();
  });

  it("rejects a too-small second data draw and mismatched columns", async () => {
    const big = await gaussian(3, 3000, 2);
    const wide = await gaussian(3, 10, 3);
    expect(() => distanceWithFloor(sw, big, dataA, dataB)).toThrow(/dataB has 2000 rows, needs at least as many as the 3000 samples/);
    expect(() => distanceWithFloor(sw, wide, dataA, dataB)).toThrow(/column counts differ/);
  });
});
