/**
 * The playground's worker: loads the pretrained toy models from bytes (fetch + loadModelFromBytes), runs
 * the methods (./engine.ts) on the device the page asks for, and posts the samples after every step, the
 * exact reference's heat map and the numbers. The page's main thread only draws.
 */
import { ensureBackend, loadModelFromBytes, type LoadedModel } from "../../src/index.js";
import { distanceToTarget, methodTarget, runMethod, type RunSettings } from "./engine.js";
import { exactReference, type ExactReference } from "./exact.js";
import type { Device, FromWorker, ToWorker } from "./protocol.js";

/** Exact draws behind each reference (its Monte Carlo error is printed beside it). */
const EXACT_DRAWS = 200_000;

const scope = self as unknown as {
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  location: { href: string };
};
const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

const models = new Map<string, Promise<{ model: LoadedModel; bytes: number; seconds: number }>>();
const references = new Map<string, Promise<ExactReference>>();

async function loadModel(task: string, device: Device) {
  await ensureBackend({ device });
  const id = `${task} ${device}`;
  let m = models.get(id);
  if (!m) {
    m = (async () => {
      const t0 = performance.now();
      const base = new URL(`models/${task}`, scope.location.href).href;
      const [weights, sidecar] = await Promise.all([fetchOk(`${base}.safetensors`).then((r) => r.arrayBuffer()), fetchOk(`${base}.json`).then((r) => r.text())]);
      const model = await loadModelFromBytes(new Uint8Array(weights), sidecar, { weights: `${task}.safetensors`, sidecar: `${task}.json` });
      return { model, bytes: weights.byteLength, seconds: (performance.now() - t0) / 1000 };
    })();
    m.catch(() => models.delete(id));
    models.set(id, m);
  }
  return m;
}

async function fetchOk(url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r;
}

function reference(s: RunSettings): Promise<ExactReference> {
  const target = methodTarget(s);
  const id = JSON.stringify([s.task, s.reward, target, s.n, s.seed]);
  let r = references.get(id);
  if (!r) {
    r = exactReference(s.task, s.reward, target, { draws: EXACT_DRAWS, resample: s.n, seed: s.seed + 1 });
    r.catch(() => references.delete(id));
    if (references.size > 16) references.clear();
    references.set(id, r);
  }
  return r;
}

// One message at a time: a run started while another is in flight waits for it.
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (e) => {
  const msg = e.data;
  queue = queue.then(() => handle(msg)).catch((err: unknown) => post({ type: "error", ...("id" in msg ? { id: msg.id } : {}), message: err instanceof Error ? err.message : String(err) }));
};

async function handle(msg: ToWorker): Promise<void> {
  if (msg.type === "load") {
    const { model, bytes, seconds } = await loadModel(msg.task, msg.device);
    post({ type: "loaded", task: msg.task, device: msg.device, step: model.meta.step, bytes, seconds });
    return;
  }
  const s = msg.settings;
  const ref = await reference(s);
  post({ type: "reference", id: msg.id, heat: ref.heat.slice() });
  const { model } = await loadModel(s.task, msg.device);
  const r = await runMethod(
    model,
    s,
    (f) => post({ type: "frame", id: msg.id, ...f }, [f.x.buffer]),
    (p) => post({ type: "progress", id: msg.id, ...p }),
  );
  const d = distanceToTarget(r.samples, ref);
  const samples = r.samples.data.slice();
  post(
    {
      type: "result",
      id: msg.id,
      numbers: {
        device: msg.device,
        rewardMean: r.rewardMean,
        exactRewardMean: ref.rewardMean,
        exactRewardSe: ref.rewardSe,
        ...(r.regionFraction !== undefined ? { regionFraction: r.regionFraction } : {}),
        ...(ref.regionMass !== undefined ? { exactRegionMass: ref.regionMass } : {}),
        exactEss: ref.ess,
        sw: d.sw,
        swFloor: d.floor,
        ...(r.pathKl !== undefined ? { pathKl: r.pathKl } : {}),
        modelEvals: r.cost.modelEvals,
        rewardEvals: r.cost.rewardEvals,
        gradEvals: r.cost.gradEvals,
        valueEvals: r.cost.valueEvals,
        seconds: r.cost.seconds,
        ...(r.predictorSeconds !== undefined ? { predictorSeconds: r.predictorSeconds } : {}),
      },
      samples,
    },
    [samples.buffer],
  );
}
