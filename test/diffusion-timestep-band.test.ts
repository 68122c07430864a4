/** The timestep band of the denoising loss (src/diffusion/loss.ts TimestepBand): where each row's t is drawn. */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, random, toHostSync } from "../src/backend/index.js";
import { bandIndices, forwardDraw } from "../src/diffusion/loss.js";
import { RcgdmMoleculesSchema } from "../src/runners/methods/rcgdm.js";

beforeAll(async () => {
  await ensureBackend();
});

const T = 1000;
const B = 64;
const alphaBars = () => np.array(Float32Array.from({ length: T }, (_, i) => Math.cos(((i + 1) / T) * (Math.PI / 2)) ** 2));
const x0 = () => np.array(Float32Array.from({ length: B * 3 }, (_, i) => Math.sin(i)), { shape: [B, 3] });

describe("forwardDraw with a timestep band", () => {
  it("draws the first ⌈share·B⌉ rows' t inside [from·T, to·T) and the others over the whole chain", () => {
    const band = { from: 0.1, to: 0.5, share: 0.3 };
    const inBand = Math.ceil(0.3 * B); // 20
    let outside = 0;
    for (const seed of [1, 2, 3, 4]) {
      const d = forwardDraw(x0(), alphaBars(), keyFromSeed(seed), undefined, band);
      const t = toHostSync(d.t);
      const ab = toHostSync(d.ab);
      const table = toHostSync(alphaBars());
      for (let i = 0; i < B; i++) {
        expect(ab[i]).toBe(table[t[i]!]); // x_t is noised at the drawn t
        if (i < inBand) {
          expect(t[i]!, `row ${i}`).toBeGreaterThanOrEqual(100);
          expect(t[i]!, `row ${i}`).toBeLessThan(500);
        } else if (t[i]! < 100 || t[i]! >= 500) outside++;
      }
      d.eps.dispose();
      d.xt.dispose();
    }
    // 176 uniform draws: about 60% fall outside the band; all inside would mean the band leaked to every row.
    expect(outside).toBeGreaterThan(60);
  });

  it("without a band draws t as before: randint from the first of two split keys", () => {
    const d = forwardDraw(x0(), alphaBars(), keyFromSeed(7));
    const keys = random.split(keyFromSeed(7), 2);
    const want = toHostSync(random.randint(keys.slice(0), { minval: 0, maxval: T, shape: [B] }));
    expect(Array.from(toHostSync(d.t))).toEqual(Array.from(want));
    for (const a of [d.eps, d.ab, d.xt]) a.dispose();
  });

  it("maps a band to at least one index, inside [0, T)", () => {
    expect(bandIndices({ from: 0.1, to: 0.5, share: 1 }, 1000)).toEqual([100, 500]);
    expect(bandIndices({ from: 0.999, to: 1, share: 1 }, 10)).toEqual([9, 10]);
    expect(bandIndices({ from: 0.42, to: 0.421, share: 1 }, 100)).toEqual([42, 43]);
  });

  it("is refused in an rcgdm config when from ≥ to", () => {
    const r = RcgdmMoleculesSchema.safeParse({ train: { timestepBand: { from: 0.5, to: 0.1, share: 0.5 } } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/from must be < to/);
    expect(RcgdmMoleculesSchema.safeParse({ train: { timestepBand: { from: 0.1, to: 0.5, share: 0.5 } } }).success).toBe(true);
  });
});
