/**
 * The "raw jax-js" baseline: the benchmark workload written directly against @jax-js/jax, with no
 * rewardiff layers. It is the yardstick for "rewardiff's training step within 1.5× of the time jax-js
 * itself needs for the same jitted computation", and the jax-js side of the PyTorch comparison.
 *
 * Workload (identical to bench/torch_reference.py, see bench/README.md):
 *   ε_θ(x, t) = MLP(concat(x, emb(t/T))): inDim → hidden × depth (SiLU) → outDim,
 *   emb = the (inDim − outDim)-dim sinusoidal embedding of src/nn/embeddings.ts on the DDPM scale
 *   (1000·t/T): [sin(1000 s ω_k), cos(1000 s ω_k)], ω_k = 10000^(−k/(half−1)).
 *   Training step: one jitted function = valueAndGrad of the MSE loss + Adam (lr 1e-3), fed a batch
 *   uploaded from host typed arrays; the step ends when the loss is read and the new parameters and
 *   moments are ready.
 *   Sampling: DDIM (η = 0), a jitted step called from a JS loop `steps` times on `samples` points, the
 *   schedule coefficients passed as one traced [5] array so one compiled step serves every t; ends with
 *   the samples read back to the host.
 *
 * Threads: import order makes `REWARDIFF_THREADS=1` effective here (./threads.js is evaluated before
 * jax-js). Run directly: `npx tsx bench/raw-jax.ts [--config '{"batch":4096}'] [--only train|sample] [--wait-quiet]`
 * prints one JSON line.
 */
import "../src/backend/threads.js";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { shimWorkersStarted } from "../src/backend/threads.js";
import { blockUntilReady, ensureBackend, jit, jnn, np, random, tree, valueAndGrad, type JArray } from "../src/backend/index.js";
import { DEFAULT_BENCH_CONFIG, startLoadMonitor, timeIt, waitForQuiet, type BenchConfig, type LoadReport, type Timing } from "./lib.js";

type Layer = { w: JArray; b: JArray };
type Mlp = Layer[];

function fullConfig(config: Partial<BenchConfig>): Required<BenchConfig> {
  const c = { trainWarmup: 10, trainRepeats: 50, sampleWarmup: 1, sampleRepeats: 5, seed: 0, T: 1000, ...DEFAULT_BENCH_CONFIG, ...config };
  if (c.inDim < c.outDim) throw new Error(`inDim (${c.inDim}) must be at least outDim (${c.outDim})`);
  return c as Required<BenchConfig>;
}

function initMlp(seed: number, sizes: number[]): Mlp {
  const ks = random.split(random.key(seed), sizes.length - 1);
  const p: Mlp = [];
  for (let i = 0; i < sizes.length - 1; i++) {
    const w = random.normal(ks.ref.slice(i), [sizes[i]!, sizes[i + 1]!]).mul(Math.sqrt(1 / sizes[i]!));
    p.push({ w, b: np.zeros([sizes[i + 1]!]) });
  }
  ks.dispose();
  return p;
}

function mlp(p: Mlp, x: JArray): JArray {
  for (let i = 0; i < p.length; i++) {
    x = np.matmul(x, p[i]!.w).add(p[i]!.b);
    if (i < p.length - 1) x = jnn.silu(x);
  }
  return x;
}

function frequencies(embDim: number): Float32Array {
  const half = Math.floor(embDim / 2);
  const f = new Float32Array(half);
  for (let k = 0; k < half; k++) f[k] = Math.exp((-Math.log(10000) * k) / Math.max(half - 1, 1));
  return f;
}

/** concat(x, emb(s)) for x [n, outDim] and s [n] = t/T. Consumes x and s. */
function networkInput(x: JArray, s: JArray, embDim: number, freqs: Float32Array): JArray {
  const n = x.shape[0]!;
  const parts = [x];
  if (embDim >= 2) {
    const args = s.mul(1000).reshape([n, 1]).mul(np.array(freqs).reshape([1, freqs.length]));
    parts.push(np.sin(args.ref), np.cos(args));
  } else s.dispose();
  if (embDim % 2) parts.push(np.zeros([n, 1]));
  return np.concatenate(parts, 1);
}

function randomHost(n: number, rng: () => number, normal = false): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (normal) {
      const u = Math.max(rng(), 1e-12);
      a[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
    } else a[i] = rng();
  }
  return a;
}

/** A small deterministic host RNG (mulberry32) for the input batch. */
function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RawJaxTrainResult {
  what: "raw jax-js train step";
  config: Required<BenchConfig>;
  /** Whether jax-js ran its kernels on a worker pool (src/backend/threads.ts). */
  threads: boolean;
  /** Per-step wall time (ms), from upload of the batch to loss read and new state ready. */
  trainStep: Timing;
  /** The loss of the last step (a sanity value). */
  lastLoss: number;
  /** CPU use during the timed part (other processes' load makes timings unreliable). */
  load: LoadReport;
}

export interface RawJaxSampleResult {
  what: "raw jax-js DDIM sampling";
  config: Required<BenchConfig>;
  threads: boolean;
  /** Wall time (ms) of one whole sampling run: noise, `steps` jitted DDIM steps, read-back. */
  sample: Timing;
  /** Mean of the last run's samples (a sanity value). */
  meanSample: number;
  load: LoadReport;
}

/** Options of the raw baselines. */
export interface RawJaxOptions {
  /** Wait (≤ 30 s) for the machine to be quiet before timing (see {@link waitForQuiet}). Default false. */
  waitQuiet?: boolean;
}

/** Times the jitted Adam training step of the benchmark MLP (see the module doc). */
export async function rawJaxTrainStep(config: Partial<BenchConfig> = {}, opts: RawJaxOptions = {}): Promise<RawJaxTrainResult> {
  await ensureBackend();
  const c = fullConfig(config);
  const embDim = c.inDim - c.outDim;
  const freqs = frequencies(embDim);
  const sizes = [c.inDim, ...Array.from({ length: c.depth }, () => c.hidden), c.outDim];
  const b1 = 0.9, b2 = 0.999, lr = 1e-3, eps = 1e-8;

  const loss = (p: Mlp, x: JArray, s: JArray, y: JArray) =>
    np.mean(np.square(mlp(p, networkInput(x, s, embDim, freqs)).sub(y)));

  const step = jit((p: Mlp, m: Mlp, v: Mlp, x: JArray, s: JArray, y: JArray, k: JArray) => {
    const [l, g] = valueAndGrad(loss)(tree.ref(p), x, s, y) as [JArray, Mlp];
    const m2 = tree.map((mi: JArray, gi: JArray) => mi.mul(b1).add(gi.mul(1 - b1)), m, tree.ref(g)) as Mlp;
    const v2 = tree.map((vi: JArray, gi: JArray) => vi.mul(b2).add(np.square(gi).mul(1 - b2)), v, g) as Mlp;
    const bc1 = np.subtract(1, np.power(b1, k.ref));
    const bc2 = np.subtract(1, np.power(b2, k));
    const p2 = tree.map(
      (pi: JArray, mi: JArray, vi: JArray) => pi.sub(mi.div(bc1.ref).mul(lr).div(np.sqrt(vi.div(bc2.ref)).add(eps))),
      p,
      tree.ref(m2),
      tree.ref(v2),
    ) as Mlp;
    bc1.dispose();
    bc2.dispose();
    return [p2, m2, v2, l] as [Mlp, Mlp, Mlp, JArray];
  });

  let p = initMlp(c.seed, sizes);
  let m = tree.map((a: JArray) => np.zeros(a.shape), p) as Mlp;
  let v = tree.map((a: JArray) => np.zeros(a.shape), p) as Mlp;
  const rng = mulberry32(c.seed + 1);
  const xs = randomHost(c.batch * c.outDim, rng);
  const ss = randomHost(c.batch, rng);
  const ys = randomHost(c.batch * c.outDim, rng, true);
  let k = 0;
  let lastLoss = Number.NaN;

  if (opts.waitQuiet) await waitForQuiet();
  const mon = startLoadMonitor();
  const trainStep = await timeIt(
    async () => {
      k++;
      const x = np.array(xs).reshape([c.batch, c.outDim]);
      const s = np.array(ss);
      const y = np.array(ys).reshape([c.batch, c.outDim]);
      let l: JArray;
      [p, m, v, l] = step(p, m, v, x, s, y, np.array(k));
      lastLoss = (await l.data())[0]!;
      await blockUntilReady([p, m, v]);
    },
    { warmup: c.trainWarmup, repeats: c.trainRepeats },
  );
  const load = mon.stop();
  tree.dispose([p, m, v]);
  step.dispose();
  return { what: "raw jax-js train step", config: c, threads: shimWorkersStarted() > 0, trainStep, lastLoss, load };
}

/** Times DDIM (η = 0) sampling of `samples` points in `steps` steps with the benchmark MLP as ε_θ. */
export async function rawJaxSample(config: Partial<BenchConfig> = {}, opts: RawJaxOptions = {}): Promise<RawJaxSampleResult> {
  await ensureBackend();
  const c = fullConfig(config);
  const embDim = c.inDim - c.outDim;
  const freqs = frequencies(embDim);
  const sizes = [c.inDim, ...Array.from({ length: c.depth }, () => c.hidden), c.outDim];
  const N = c.samples;

  // coef = [t/T, √ᾱ_t, √(1−ᾱ_t), √ᾱ_prev, √(1−ᾱ_prev)] (traced: one compiled step for every t).
  const ddimStep = jit((p: Mlp, x: JArray, coef: JArray) => {
    const s = np.ones([N]).mul(coef.ref.slice(0));
    const eps = mlp(p, networkInput(x.ref, s, embDim, freqs));
    const x0 = x.sub(eps.ref.mul(coef.ref.slice(2))).div(coef.ref.slice(1));
    return x0.mul(coef.ref.slice(3)).add(eps.mul(coef.slice(4)));
  });

  // Linear β schedule, ᾱ_t = Π(1 − β), in float64 on the host (as the torch script).
  const abar = new Float64Array(c.T);
  let prod = 1;
  for (let i = 0; i < c.T; i++) {
    prod *= 1 - (1e-4 + ((0.02 - 1e-4) * i) / (c.T - 1));
    abar[i] = prod;
  }
  const ts = Array.from({ length: c.steps }, (_, i) => Math.floor((i * c.T) / c.steps));
  const coefs = ts.map((t, i) => {
    const a = abar[t]!;
    const ap = i > 0 ? abar[ts[i - 1]!]! : 1;
    return new Float32Array([t / c.T, Math.sqrt(a), Math.sqrt(1 - a), Math.sqrt(ap), Math.sqrt(1 - ap)]);
  });

  const p = initMlp(c.seed, sizes);
  let key = random.key(c.seed + 2);
  let meanSample = Number.NaN;
  if (opts.waitQuiet) await waitForQuiet();
  const mon = startLoadMonitor();
  const sample = await timeIt(
    async () => {
      const ks = random.split(key, 2);
      key = ks.ref.slice(0);
      let x = random.normal(ks.slice(1), [N, c.outDim]);
      for (let i = c.steps - 1; i >= 0; i--) x = ddimStep(tree.ref(p), x, np.array(coefs[i]!));
      const d = await x.data();
      let sum = 0;
      for (const val of d) sum += val;
      meanSample = sum / d.length;
    },
    { warmup: c.sampleWarmup, repeats: c.sampleRepeats },
  );
  const load = mon.stop();
  tree.dispose(p);
  key.dispose();
  ddimStep.dispose();
  return { what: "raw jax-js DDIM sampling", config: c, threads: shimWorkersStarted() > 0, sample, meanSample, load };
}

// ---------------------------------------------------------------- CLI

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  const config = JSON.parse(arg("--config") ?? "{}") as Partial<BenchConfig>;
  const only = arg("--only");
  const opts: RawJaxOptions = { waitQuiet: process.argv.includes("--wait-quiet") };
  const out: Record<string, unknown> = {};
  if (only !== "sample") {
    const r = await rawJaxTrainStep(config, opts);
    out.trainStepMs = r.trainStep.median;
    out.trainLoad = r.load;
    out.trainStep = r.trainStep;
    out.lastLoss = r.lastLoss;
    out.config = r.config;
  }
  if (only !== "train") {
    const r = await rawJaxSample(config, opts);
    out.sampleMs = r.sample.median;
    out.sampleLoad = r.load;
    out.sample = r.sample;
    out.meanSample = r.meanSample;
    out.config = r.config;
  }
  // True only if jax-js really ran a worker pool (the shim installed before jax-js was evaluated).
  out.threads = shimWorkersStarted() > 0;
  process.stdout.write(JSON.stringify(out) + "\n");
}
