/**
 * The playground's rewards (docs/browser.md): a region painted on the canvas, a linear reward bᵀx with
 * b = (cos θ, sin θ), or a radial one −½‖x − c‖². The painted region A is a set of cells of a G×G grid
 * over the view box. Selection methods (SVDD, best-of-N) and classifier guidance use its indicator 1[x ∈ A];
 * gradient guidance uses its Gaussian smoothing r_h(x) = Σ_{cells k of A} (Δ²/2πh²) exp(−‖x − c_k‖²/2h²)
 * (the indicator convolved with N(0, h²I), by the midpoint rule: ≈ 1 deep inside A, ½ on its edge, → 0
 * away). Every reward has a host twin in float64 (`hostValue`) for the exact references.
 */
import { deviceReward, hostReward, np, type JArray, type Reward } from "../../src/index.js";
import { CELL, cellCenter, cellOf, GRID } from "./grid.js";

/** The smoothing bandwidth h of the painted region: one cell. */
export const SMOOTH_H = CELL;

export type RewardSpec =
  | { kind: "region"; cells: readonly number[] }
  | { kind: "linear"; angle: number }
  | { kind: "radial"; center: readonly [number, number] };

/** Which form of the reward a method uses: the indicator (selection) or its smoothing (gradients). */
export type RewardForm = "indicator" | "smooth";

/** Checks a spec (one line naming the problem). */
export function checkReward(spec: RewardSpec): void {
  if (spec.kind === "region") {
    if (spec.cells.length === 0) throw new Error("reward: paint a region on the canvas first (no cell is painted)");
    for (const k of spec.cells) if (!(Number.isInteger(k) && k >= 0 && k < GRID * GRID)) throw new Error(`reward: painted cell ${k} is outside the ${GRID}×${GRID} grid`);
  } else if (spec.kind === "linear") {
    if (!Number.isFinite(spec.angle)) throw new Error(`reward: the linear reward's angle must be a finite number, got ${spec.angle}`);
  } else if (!spec.center.every(Number.isFinite)) {
    throw new Error(`reward: the radial reward's centre must be two finite numbers, got ${spec.center.join(", ")}`);
  }
}

/** r(x, y) in float64 on the host, for one point. */
export function hostValue(spec: RewardSpec, form: RewardForm): (x: number, y: number) => number {
  if (spec.kind === "linear") {
    const [b0, b1] = [Math.cos(spec.angle), Math.sin(spec.angle)];
    return (x, y) => b0 * x + b1 * y;
  }
  if (spec.kind === "radial") {
    const [c0, c1] = spec.center;
    return (x, y) => -0.5 * ((x - c0) ** 2 + (y - c1) ** 2);
  }
  if (form === "indicator") {
    const painted = new Uint8Array(GRID * GRID);
    for (const k of spec.cells) painted[k] = 1;
    return (x, y) => {
      const k = cellOf(x, y);
      return k >= 0 ? painted[k]! : 0;
    };
  }
  const centers = spec.cells.map(cellCenter);
  const w = (CELL * CELL) / (2 * Math.PI * SMOOTH_H * SMOOTH_H);
  return (x, y) => {
    let s = 0;
    for (const [cx, cy] of centers) s += Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * SMOOTH_H * SMOOTH_H));
    return w * s;
  };
}

/** The reward as a library plug-in: indicator → a host reward; the others → differentiable device rewards. */
export function rewardPlugin(spec: RewardSpec, form: RewardForm): Reward {
  checkReward(spec);
  if (spec.kind === "region" && form === "indicator") {
    const f = hostValue(spec, "indicator");
    return hostReward("painted region", (m) => Float32Array.from({ length: m.rows }, (_, i) => f(m.data[2 * i]!, m.data[2 * i + 1]!)));
  }
  if (spec.kind === "linear") {
    const b = new Float32Array([Math.cos(spec.angle), Math.sin(spec.angle)]);
    return deviceReward("linear", (x) => np.matmul(x, np.array(b, { shape: [2, 1] })).reshape([-1]));
  }
  if (spec.kind === "radial") {
    const c = new Float32Array(spec.center);
    return deviceReward("radial", (x) => np.sum(np.square(x.sub(np.array(c, { shape: [1, 2] }))), -1).mul(-0.5));
  }
  return deviceReward("painted region (smoothed)", smoothRegion(spec.cells));
}

/** r_h on the device: ‖x‖² − 2x·c_k + ‖c_k‖² as one matmul over the cells (padded to a multiple of 4 with weight 0). */
function smoothRegion(cells: readonly number[]): (x: JArray) => JArray {
  const K = Math.ceil(cells.length / 4) * 4;
  const ct = new Float32Array(2 * K); // Cᵀ [2, K]
  const cc = new Float32Array(K);
  const w = new Float32Array(K);
  const weight = (CELL * CELL) / (2 * Math.PI * SMOOTH_H * SMOOTH_H);
  cells.forEach((k, j) => {
    const [cx, cy] = cellCenter(k);
    ct[j] = cx;
    ct[K + j] = cy;
    cc[j] = cx * cx + cy * cy;
    w[j] = weight;
  });
  const inv2h2 = 1 / (2 * SMOOTH_H * SMOOTH_H);
  return (x) => {
    const xx = np.sum(np.square(x.ref), -1, { keepdims: true });
    const d2 = xx.sub(np.matmul(x, np.array(ct, { shape: [2, K] })).mul(2)).add(np.array(cc, { shape: [1, K] }));
    return np.matmul(np.exp(d2.mul(-inv2h2)), np.array(w, { shape: [K, 1] })).reshape([-1]);
  };
}
