/** Host draws from keys (src/tasks/host-random.ts): the host uniforms equal jax-js's `random.uniform` bit for bit. */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, random, splitKey, toHost } from "../src/backend/index.js";
import { hostNormal, hostUniform } from "../src/tasks/host-random.js";

beforeAll(async () => {
  await ensureBackend();
});

describe("host draws from a key", () => {
  it("hostUniform equals the device's random.uniform bit for bit, for any shape and key", async () => {
    for (const [seed, rows, cols] of [[0, 1, 1], [3, 7, 3], [123456789, 500, 2], [2 ** 32 - 1, 1, 1000]] as const) {
      for (const key of splitKey(keyFromSeed(seed), 2)) {
        const device = await toHost(random.uniform(key.ref, [rows, cols]));
        const host = hostUniform(key, rows, cols);
        expect(host).toHaveLength(rows * cols);
        expect(Array.from(host)).toEqual(Array.from(device));
      }
    }
    // The comparison can fail: another key gives other numbers.
    expect(Array.from(hostUniform(keyFromSeed(1), 1, 8))).not.toEqual(Array.from(hostUniform(keyFromSeed(2), 1, 8)));
    expect(hostUniform(keyFromSeed(1), 0, 3)).toHaveLength(0);
  });

  it("hostNormal is the device's random.normal, read back", async () => {
    const device = await toHost(random.normal(keyFromSeed(5), [40, 3]));
    expect(Array.from(await hostNormal(keyFromSeed(5), 40, 3))).toEqual(Array.from(device));
    expect(await hostNormal(keyFromSeed(5), 0, 3)).toHaveLength(0);
  });
});
