/**
 * The classic 2-D test beds (tiny-diffusion, FFJORD's toy_data.py, sklearn's make_moons /
 * make_swiss_roll), each defined as a law rather than a fixed data file, then standardised by its
 * *exact* per-coordinate mean and standard deviation so that every toy has mean 0 and unit variance
 * in each coordinate (the scale diffusion schedules are designed for).
 *
 * Source laws (before standardisation):
 * - moons: sklearn make_moons with noise 0.03 (tiny-diffusion's setting), the angle drawn uniformly
 *   instead of on a grid: outer (cos t, sin t), inner (1 − cos t, ½ − sin t), t ~ U[0, π].
 * - 8gaussians: FFJORD, 8 equal-weight Gaussians at radius 4/1.414 with std 0.5/1.414.
 * - swissroll: FFJORD, make_swiss_roll(noise = 1) projected to (t cos t, t sin t) + noise,
 *   t ~ U[1.5π, 4.5π].
 * - checkerboard: FFJORD, uniform on the 8 dark cells of a 4×4 board on [−4, 4]².
 */
import { split2, type Key } from "../backend/index.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { hostNormal, hostUniform } from "./host-random.js";
import { assertSampleCount, type DataTask } from "./task.js";

/** The names `toy2dTask` accepts. */
export const TOY2D_NAMES = ["moons", "8gaussians", "swissroll", "checkerboard"] as const;

/** One of {@link TOY2D_NAMES}. */
export type Toy2dName = (typeof TOY2D_NAMES)[number];

/** A toy law: a map from 3 uniforms u and 2 standard normals g to a raw point, with its exact moments. */
interface ToyLaw {
  raw(u0: number, u1: number, u2: number, g0: number, g1: number): [number, number];
  /** Exact mean and standard deviation of each raw coordinate. */
  mean: [number, number];
  std: [number, number];
}

const MOONS_NOISE = 0.03;

const moons: ToyLaw = {
  raw(u0, u1, _u2, g0, g1) {
    const t = Math.PI * u1;
    const [x, y] = u0 < 0.5 ? [Math.cos(t), Math.sin(t)] : [1 - Math.cos(t), 0.5 - Math.sin(t)];
    return [x + MOONS_NOISE * g0, y + MOONS_NOISE * g1];
  },
  // E[x] = ½, Var x = ¾; E[y] = ¼, Var y = 9/16 − 1/π (half of each arc; E sin t = 2/π, E sin² t = ½).
  mean: [0.5, 0.25],
  std: [Math.sqrt(0.75 + MOONS_NOISE ** 2), Math.sqrt(0.5625 - 1 / Math.PI + MOONS_NOISE ** 2)],
};

const G8_RADIUS = 4 / 1.414;
const G8_STD = 0.5 / 1.414;
const G8_SCALE = Math.sqrt(G8_RADIUS ** 2 / 2 + G8_STD ** 2);

const eightGaussians: ToyLaw = {
  raw(u0, _u1, _u2, g0, g1) {
    const k = Math.min(7, Math.floor(8 * u0));
    const phi = (k * Math.PI) / 4;
    return [G8_RADIUS * Math.cos(phi) + G8_STD * g0, G8_RADIUS * Math.sin(phi) + G8_STD * g1];
  },
  // Centres average to 0; each coordinate has variance R²/2 (centres) + s² (noise).
  mean: [0, 0],
  std: [G8_SCALE, G8_SCALE],
};

const SWISS_T0 = 1.5 * Math.PI;
const SWISS_T1 = 4.5 * Math.PI;
const SWISS_NOISE = 1;

/** Exact moments of (t cos t, t sin t) for t ~ U[t0, t1], from the antiderivatives below. */
function swissMoments(): { mean: [number, number]; std: [number, number] } {
  const len = SWISS_T1 - SWISS_T0;
  const between = (f: (t: number) => number) => (f(SWISS_T1) - f(SWISS_T0)) / len;
  // ∫ t cos t = t sin t + cos t;  ∫ t sin t = −t cos t + sin t.
  const mx = between((t) => t * Math.sin(t) + Math.cos(t));
  const my = between((t) => -t * Math.cos(t) + Math.sin(t));
  // ∫ t² cos² t = t³/6 + t² sin 2t/4 + t cos 2t/4 − sin 2t/8;  ∫ t² sin² t = t³/6 − (the rest).
  const rest = (t: number) => (t * t * Math.sin(2 * t)) / 4 + (t * Math.cos(2 * t)) / 4 - Math.sin(2 * t) / 8;
  const sxx = between((t) => t ** 3 / 6 + rest(t));
  const syy = between((t) => t ** 3 / 6 - rest(t));
  return {
    mean: [mx, my],
    std: [Math.sqrt(sxx - mx * mx + SWISS_NOISE ** 2), Math.sqrt(syy - my * my + SWISS_NOISE ** 2)],
  };
}

const swissroll: ToyLaw = {
  raw(u0, _u1, _u2, g0, g1) {
    const t = SWISS_T0 + (SWISS_T1 - SWISS_T0) * u0;
    return [t * Math.cos(t) + SWISS_NOISE * g0, t * Math.sin(t) + SWISS_NOISE * g1];
  },
  ...swissMoments(),
};

const checkerboard: ToyLaw = {
  raw(u0, u1, u2) {
    const x1 = 4 * u0 - 2;
    const parity = ((Math.floor(x1) % 2) + 2) % 2;
    const x2 = u1 - (u2 < 0.5 ? 0 : 2) + parity;
    return [2 * x1, 2 * x2];
  },
  // Both coordinates are marginally U[−4, 4]: mean 0, variance 8²/12 = 16/3.
  mean: [0, 0],
  std: [4 / Math.sqrt(3), 4 / Math.sqrt(3)],
};

const LAWS: Record<Toy2dName, ToyLaw> = { moons, "8gaussians": eightGaussians, swissroll, checkerboard };

/** True if `name` is one of {@link TOY2D_NAMES}. */
export function isToy2dName(name: string): name is Toy2dName {
  return (TOY2D_NAMES as readonly string[]).includes(name);
}

/**
 * The exact mean and standard deviation of the raw (un-standardised) toy law, per coordinate;
 * sample() returns (raw − mean) / std.
 */
export function toy2dRawMoments(name: Toy2dName): { mean: [number, number]; std: [number, number] } {
  const law = LAWS[name];
  return { mean: [...law.mean], std: [...law.std] };
}

/** A standardised 2-D toy data set by name; unknown names throw, listing the known ones. */
export function toy2dTask(name: string): DataTask {
  if (!isToy2dName(name)) throw new Error(`unknown toy2d data set "${name}"; known: ${TOY2D_NAMES.join(", ")}`);
  const law = LAWS[name];
  return {
    name,
    dim: 2,
    async sample(key: Key, n: number): Promise<HostMatrix> {
      assertSampleCount(n, `toy2d ${name}`);
      const [kU, kG] = split2(key);
      const u = hostUniform(kU, n, 3);
      const g = await hostNormal(kG, n, 2);
      const out = new Float32Array(2 * n);
      for (let i = 0; i < n; i++) {
        const [x, y] = law.raw(u[3 * i]!, u[3 * i + 1]!, u[3 * i + 2]!, g[2 * i]!, g[2 * i + 1]!);
        out[2 * i] = (x - law.mean[0]) / law.std[0];
        out[2 * i + 1] = (y - law.mean[1]) / law.std[1];
      }
      return hostMatrix(n, 2, out);
    },
  };
}
