/**
 * The classifier-tilt benchmark of fixtures.md §4 (the test bed for CTRL, 2406.12120):
 *  - contexts c ∈ {0..C−1}, each with a pretrained law p(x | c) = Σ_k π_ck N(m_ck, s_ck² I) in R²;
 *  - a new control y ∈ {0, 1} with a ground-truth logistic labeler p(y = 1 | x) = σ(wᵀx + b);
 *  - the target p*(x | c, y) ∝ p(y | x)^γ p(x | c), exact by quadrature on a 2-D grid: its normaliser
 *    Z_cy = E_{p(x|c)}[p(y|x)^γ] (for γ = 1 the class probability P(y | c)), its moments, the exact
 *    accuracy E_{p*}[1{class(x) = y}] and an exact sampler (grid inverse-CDF, uniform jitter in the cell).
 *
 * The default benchmark (`classifierTiltTask({})`): C = 2 contexts, two components each at (±1.5, ±1)
 * with std 0.5, weighted 0.7/0.3 in context 0 and 0.3/0.7 in context 1, and the labeler σ(4 x₁): both
 * classes have mass in every context, the classes are separated by the line x₁ = 0 (the components sit
 * 3 std away from it) and the labeler is sharp. A model that ignores y gets accuracy ≈ 0.5 (chance).
 *
 * The class of a generated x "under the ground-truth labeler" is argmax_y p(y | x) = 1{wᵀx + b > 0}.
 * All arithmetic is float64 on the host.
 */
import { split2, type Key } from "../backend/keys.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { gaussianMixture, mixtureLogDensity, sampleMixture, type GaussianMixture, type MixtureComponent } from "./gaussian-mixture.js";
import { hostUniform } from "./host-random.js";
import { assertDim, assertSampleCount } from "./task.js";

/** Number of classes of the control y. */
export const TILT_CLASSES = 2;

/** The logistic labeler p(y = 1 | x) = σ(wᵀx + b). */
export interface LogisticLabeler {
  readonly weights: readonly [number, number];
  readonly bias: number;
}

/** Settings of the benchmark (config keys of task "classifier-tilt"; all optional). */
export interface ClassifierTiltConfig {
  /** C: number of contexts (default 2; must equal mixtures.length when mixtures are given). */
  contexts?: number;
  /** γ ≥ 0 of the target p(y|x)^γ p(x|c) (default 1). */
  gamma?: number;
  /** ‖w‖ of the default labeler σ(sharpness · x₁) (default 4); ignored when `labeler` is given. */
  sharpness?: number;
  labeler?: { weights: readonly number[]; bias?: number };
  /** Per-context 2-D mixtures (default: the benchmark described above). */
  mixtures?: readonly (readonly MixtureComponent[])[];
  /** Cells per axis of the quadrature grid (default 200). */
  grid?: number;
}

/** The quadrature grid: cell centres xs (axis 1), ys (axis 2), cell size h; cell (i, j) is index j·G + i. */
export interface TiltGrid {
  readonly size: number;
  readonly xs: Float64Array;
  readonly ys: Float64Array;
  readonly hx: number;
  readonly hy: number;
}

/** The exact target p*(x | c, y) ∝ p(y|x)^γ p(x|c), by quadrature. */
export interface TiltTarget {
  readonly context: number;
  readonly label: number;
  readonly gamma: number;
  /** log Z_cy = log ∫ p(y|x)^γ p(x|c) dx. */
  readonly logZ: number;
  /** P(y | c) = ∫ p(y|x) p(x|c) dx (equals Z_cy when γ = 1). */
  readonly classProb: number;
  /** E_{p*}[1{class(x) = y}]: the accuracy of an exact sampler of p*. */
  readonly exactAccuracy: number;
  /** E_{p*}[log p(y | x)]: the ground-truth log-likelihood of the requested label under p* (the exact "reward"). */
  readonly meanLogLabelProb: number;
  readonly mean: [number, number];
  readonly cov: [[number, number], [number, number]];
  readonly grid: TiltGrid;
  /** Probability mass of each cell (sums to 1), row-major over (ys, xs). */
  readonly mass: Float64Array;
  /** log p*(x | c, y) per row. */
  logDensity(x: HostMatrix): Float64Array;
  /** n exact draws (a cell by inverse CDF of `mass`, then uniform within the cell). Consumes `key`. */
  sample(key: Key, n: number): HostMatrix;
}

/** The benchmark with its oracles. */
export interface ClassifierTiltTask {
  readonly name: "classifier-tilt";
  readonly dim: 2;
  readonly contexts: number;
  readonly classes: typeof TILT_CLASSES;
  readonly gamma: number;
  /** p(x | c) per context. */
  readonly mixtures: readonly GaussianMixture[];
  /** The context-averaged law (1/C) Σ_c p(x | c), itself a mixture. */
  readonly marginal: GaussianMixture;
  readonly labeler: LogisticLabeler;
  readonly grid: TiltGrid;
  /** p(y = 1 | x) per row. */
  labelProb(x: HostMatrix): Float64Array;
  /** The ground-truth class argmax_y p(y|x) = 1{wᵀx + b > 0} per row. */
  trueClass(x: HostMatrix): Int32Array;
  /** log p(y | x) of the ground-truth labeler per row, for the label y of each row (or one y for all). */
  logLabelProb(x: HostMatrix, y: number | ArrayLike<number>): Float64Array;
  /** y ~ Bernoulli(p(y = 1 | x)) per row. Consumes `key`. */
  drawLabels(key: Key, x: HostMatrix): Int32Array;
  /** n draws of p(x | c). Consumes `key`. */
  sampleContext(key: Key, c: number, n: number): Promise<HostMatrix>;
  /** n draws of (c, x), balanced over contexts (⌊n/C⌋ or one more each; rows grouped by context), x ~ p(x|c). Consumes `key`. */
  sampleData(key: Key, n: number): Promise<{ x: HostMatrix; contexts: Int32Array }>;
  /** An offline set of n (x, y) pairs: (c, x) as in sampleData, y ~ p(y | x). Consumes `key`. */
  offline(key: Key, n: number): Promise<{ x: HostMatrix; y: Int32Array; contexts: Int32Array }>;
  /** The exact p*(x | c, y) for this task's γ (or another γ ≥ 0). Cached per (c, y, γ). */
  target(c: number, y: number, gamma?: number): TiltTarget;
}

/** The default mixtures: context c has components at (−1.5, y_c) and (1.5, y_c), std 0.5, weights alternating 0.7/0.3. */
export function defaultTiltMixtures(contexts: number): MixtureComponent[][] {
  return Array.from({ length: contexts }, (_, c) => {
    const yc = contexts === 1 ? 0 : 1 - (2 * c) / (contexts - 1);
    const left = c % 2 === 0 ? 0.7 : 0.3;
    return [
      { weight: left, mean: [-1.5, yc], std: 0.5 },
      { weight: 1 - left, mean: [1.5, yc], std: 0.5 },
    ];
  });
}

/** log σ(z) computed stably. */
function logSigmoid(z: number): number {
  return z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z));
}

/** log p(y | x) for the labeler's logit z = wᵀx + b: y = 1 → log σ(z), y = 0 → log σ(−z). */
function logLabelProb(z: number, y: number): number {
  return y === 1 ? logSigmoid(z) : logSigmoid(-z);
}

function checkLabel(y: number, where: string): void {
  if (y !== 0 && y !== 1) throw new Error(`${where}: label y must be 0 or 1, got ${y}`);
}

/** Builds the benchmark from its settings (validated; every problem is one line). */
export function classifierTiltTask(config: ClassifierTiltConfig = {}): ClassifierTiltTask {
  const where = "classifier-tilt task";
  const gamma = config.gamma ?? 1;
  if (!(Number.isFinite(gamma) && gamma >= 0)) throw new Error(`${where}: gamma must be a finite number ≥ 0, got ${gamma}`);
  const comps = config.mixtures ?? defaultTiltMixtures(config.contexts ?? 2);
  const C = config.contexts ?? comps.length;
  if (!Number.isInteger(C) || C < 1) throw new Error(`${where}: contexts must be a whole number ≥ 1, got ${C}`);
  if (comps.length !== C) throw new Error(`${where}: mixtures has ${comps.length} entries but contexts is ${C}`);
  const mixtures = comps.map((cs, c) => {
    cs.forEach((k, i) => {
      if (k.mean.length !== 2) throw new Error(`${where}: mixtures[${c}][${i}].mean has ${k.mean.length} coordinates; this task is 2-D`);
    });
    return gaussianMixture(cs);
  });
  const sharp = config.sharpness ?? 4;
  if (!(Number.isFinite(sharp) && sharp > 0)) throw new Error(`${where}: sharpness must be a finite number > 0, got ${sharp}`);
  const lw = config.labeler?.weights ?? [sharp, 0];
  if (lw.length !== 2 || !lw.every(Number.isFinite)) throw new Error(`${where}: labeler.weights must be 2 finite numbers, got [${lw.join(", ")}]`);
  const lb = config.labeler?.bias ?? 0;
  if (!Number.isFinite(lb)) throw new Error(`${where}: labeler.bias must be finite, got ${lb}`);
  const labeler: LogisticLabeler = { weights: [lw[0]!, lw[1]!], bias: lb };
  const G = config.grid ?? 200;
  if (!Number.isInteger(G) || G < 8) throw new Error(`${where}: grid must be a whole number ≥ 8, got ${G}`);

  const marginal: GaussianMixture = {
    weights: mixtures.flatMap((m) => m.weights.map((w) => w / C)),
    means: mixtures.flatMap((m) => m.means.map((v) => [...v])),
    stds: mixtures.flatMap((m) => [...m.stds]),
  };
  const grid = makeGrid(mixtures, G);
  const logit = (x0: number, x1: number) => labeler.weights[0] * x0 + labeler.weights[1] * x1 + labeler.bias;

  // log p(x | c) at every cell centre, per context (computed once).
  const centres64 = new Float64Array(2 * G * G);
  for (let j = 0; j < G; j++) {
    for (let i = 0; i < G; i++) {
      centres64[2 * (j * G + i)] = grid.xs[i]!;
      centres64[2 * (j * G + i) + 1] = grid.ys[j]!;
    }
  }
  const logPrior = mixtures.map((m) => logMixtureDensity64(m, centres64));
  const cellLogits = new Float64Array(G * G);
  for (let q = 0; q < G * G; q++) cellLogits[q] = logit(centres64[2 * q]!, centres64[2 * q + 1]!);

  const checkContext = (c: number, w: string) => {
    if (!Number.isInteger(c) || c < 0 || c >= C) throw new Error(`${w}: context must be a whole number in 0..${C - 1}, got ${c}`);
  };

  const cache = new Map<string, TiltTarget>();
  const target = (c: number, y: number, g = gamma): TiltTarget => {
    checkContext(c, "classifier-tilt target");
    checkLabel(y, "classifier-tilt target");
    if (!(Number.isFinite(g) && g >= 0)) throw new Error(`classifier-tilt target: gamma must be a finite number ≥ 0, got ${g}`);
    const id = `${c}:${y}:${g}`;
    let hit = cache.get(id);
    if (!hit) {
      hit = buildTarget(c, y, g, grid, logPrior[c]!, cellLogits, mixtures[c]!, logit);
      cache.set(id, hit);
    }
    return hit;
  };

  const sampleContext = (key: Key, c: number, n: number) => {
    checkContext(c, "classifier-tilt sampleContext");
    return sampleMixture(key, mixtures[c]!, n);
  };

  const sampleData = async (key: Key, n: number) => {
    assertSampleCount(n, "classifier-tilt sampleData");
    // Balanced contexts: n_c = ⌊n/C⌋ (+1 for the first n mod C), rows grouped by context.
    const counts = Array.from({ length: C }, (_, c) => Math.floor(n / C) + (c < n % C ? 1 : 0));
    const keys = splitN(key, C);
    const x = new Float32Array(2 * n);
    const contexts = new Int32Array(n);
    let at = 0;
    for (const [c, m] of counts.entries()) {
      const s = m > 0 ? await sampleMixture(keys[c]!, mixtures[c]!, m) : (keys[c]!.dispose(), hostMatrix(0, 2));
      x.set(s.data, 2 * at);
      contexts.fill(c, at, at + m);
      at += m;
    }
    return { x: hostMatrix(n, 2, x), contexts };
  };

  const labelProb = (x: HostMatrix) => {
    assertDim(x, 2, "classifier-tilt labelProb");
    const out = new Float64Array(x.rows);
    for (let r = 0; r < x.rows; r++) out[r] = Math.exp(logSigmoid(logit(x.data[2 * r]!, x.data[2 * r + 1]!)));
    return out;
  };

  const drawLabels = (key: Key, x: HostMatrix) => {
    const p = labelProb(x);
    const u = hostUniform(key, x.rows, 1);
    return Int32Array.from(p, (pi, r) => (u[r]! < pi ? 1 : 0));
  };

  return {
    name: "classifier-tilt",
    dim: 2,
    contexts: C,
    classes: TILT_CLASSES,
    gamma,
    mixtures,
    marginal,
    labeler,
    grid,
    labelProb,
    trueClass: (x) => {
      assertDim(x, 2, "classifier-tilt trueClass");
      return Int32Array.from({ length: x.rows }, (_, r) => (logit(x.data[2 * r]!, x.data[2 * r + 1]!) > 0 ? 1 : 0));
    },
    drawLabels,
    logLabelProb: (x, y) => {
      assertDim(x, 2, "classifier-tilt logLabelProb");
      return Float64Array.from({ length: x.rows }, (_, r) => {
        const yr = typeof y === "number" ? y : y[r]!;
        checkLabel(yr, "classifier-tilt logLabelProb");
        return logLabelProb(logit(x.data[2 * r]!, x.data[2 * r + 1]!), yr);
      });
    },
    sampleContext,
    sampleData,
    offline: async (key, n) => {
      const [kx, ky] = split2(key);
      const { x, contexts } = await sampleData(kx, n);
      return { x, y: drawLabels(ky, x), contexts };
    },
    target,
  };
}

function splitN(key: Key, n: number): Key[] {
  if (n === 1) return [key];
  const out: Key[] = [];
  let k = key;
  for (let i = 0; i < n - 1; i++) {
    const [a, b] = split2(k);
    out.push(b);
    k = a;
  }
  out.push(k);
  return out;
}

/** A square-celled box covering every component to ±7 std, with G cells per axis. */
function makeGrid(mixtures: readonly GaussianMixture[], G: number): TiltGrid {
  const lo = [Infinity, Infinity];
  const hi = [-Infinity, -Infinity];
  for (const m of mixtures) {
    m.means.forEach((mu, k) => {
      const s = m.stds[k]!;
      for (let d = 0; d < 2; d++) {
        lo[d] = Math.min(lo[d]!, mu[d]! - 7 * s);
        hi[d] = Math.max(hi[d]!, mu[d]! + 7 * s);
      }
    });
  }
  const hx = (hi[0]! - lo[0]!) / G;
  const hy = (hi[1]! - lo[1]!) / G;
  return {
    size: G,
    xs: Float64Array.from({ length: G }, (_, i) => lo[0]! + (i + 0.5) * hx),
    ys: Float64Array.from({ length: G }, (_, j) => lo[1]! + (j + 0.5) * hy),
    hx,
    hy,
  };
}

/** log Σ_k π_k N(x; m_k, s_k² I) for float64 points [x0, x1, x0, x1, …]. */
function logMixtureDensity64(m: GaussianMixture, pts: Float64Array): Float64Array {
  const n = pts.length / 2;
  const out = new Float64Array(n);
  const K = m.weights.length;
  const c = m.weights.map((w, k) => Math.log(w) - Math.log(2 * Math.PI * m.stds[k]! ** 2));
  const inv = m.stds.map((s) => 1 / (2 * s * s));
  for (let r = 0; r < n; r++) {
    let max = -Infinity;
    const t = new Array<number>(K);
    for (let k = 0; k < K; k++) {
      const d0 = pts[2 * r]! - m.means[k]![0]!;
      const d1 = pts[2 * r + 1]! - m.means[k]![1]!;
      t[k] = c[k]! - (d0 * d0 + d1 * d1) * inv[k]!;
      if (t[k]! > max) max = t[k]!;
    }
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(t[k]! - max);
    out[r] = max + Math.log(s);
  }
  return out;
}

function buildTarget(
  c: number,
  y: number,
  gamma: number,
  grid: TiltGrid,
  logPrior: Float64Array,
  cellLogits: Float64Array,
  mixture: GaussianMixture,
  logit: (x0: number, x1: number) => number,
): TiltTarget {
  const G = grid.size;
  const cells = G * G;
  const area = grid.hx * grid.hy;
  // Midpoint rule: mass_q ∝ p(y|x_q)^γ p(x_q|c) · area.
  const logW = new Float64Array(cells);
  let max = -Infinity;
  for (let q = 0; q < cells; q++) {
    logW[q] = gamma * logLabelProb(cellLogits[q]!, y) + logPrior[q]!;
    if (logW[q]! > max) max = logW[q]!;
  }
  const mass = new Float64Array(cells);
  let total = 0;
  let classMass = 0;
  for (let q = 0; q < cells; q++) {
    mass[q] = Math.exp(logW[q]! - max);
    total += mass[q]!;
    classMass += Math.exp(logLabelProb(cellLogits[q]!, y) + logPrior[q]!) * area;
  }
  const logZ = max + Math.log(total * area);
  let m0 = 0, m1 = 0, s00 = 0, s01 = 0, s11 = 0, acc = 0, ll = 0;
  for (let j = 0; j < G; j++) {
    for (let i = 0; i < G; i++) {
      const q = j * G + i;
      const p = (mass[q]! /= total);
      const x0 = grid.xs[i]!;
      const x1 = grid.ys[j]!;
      m0 += p * x0;
      m1 += p * x1;
      s00 += p * x0 * x0;
      s01 += p * x0 * x1;
      s11 += p * x1 * x1;
      if ((cellLogits[q]! > 0 ? 1 : 0) === y) acc += p;
      ll += p * logLabelProb(cellLogits[q]!, y);
    }
  }
  const cdf = new Float64Array(cells);
  let run = 0;
  for (let q = 0; q < cells; q++) cdf[q] = run += mass[q]!;
  return {
    context: c,
    label: y,
    gamma,
    logZ,
    classProb: classMass,
    exactAccuracy: acc,
    meanLogLabelProb: ll,
    mean: [m0, m1],
    cov: [
      [s00 - m0 * m0, s01 - m0 * m1],
      [s01 - m0 * m1, s11 - m1 * m1],
    ],
    grid,
    mass,
    logDensity: (x) => {
      assertDim(x, 2, "classifier-tilt target logDensity");
      const prior = mixtureLogDensity(mixture, x);
      return Float64Array.from(prior, (lp, r) => gamma * logLabelProb(logit(x.data[2 * r]!, x.data[2 * r + 1]!), y) + lp - logZ);
    },
    sample: (key, n) => {
      assertSampleCount(n, "classifier-tilt target sample");
      const u = n > 0 ? hostUniform(key, n, 3) : (key.dispose(), new Float32Array(0));
      const out = new Float32Array(2 * n);
      for (let r = 0; r < n; r++) {
        // Binary search for the first cell with cdf > u (u scaled by the final cdf against round-off).
        const target = u[3 * r]! * run;
        let lo = 0, hi = cells - 1;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (cdf[mid]! > target) hi = mid;
          else lo = mid + 1;
        }
        const i = lo % G;
        const j = (lo - i) / G;
        out[2 * r] = grid.xs[i]! + (u[3 * r + 1]! - 0.5) * grid.hx;
        out[2 * r + 1] = grid.ys[j]! + (u[3 * r + 2]! - 0.5) * grid.hy;
      }
      return hostMatrix(n, 2, out);
    },
  };
}
