/**
 * The molecule panel's worker: loads RDKit MinimalLib (its wasm, RDKit_minimal.wasm, is fetched from beside
 * this script) and a molecule model from bytes (fetch + loadModelFromBytes), runs ./molecules.ts and posts
 * the molecules with their SVG depictions. A worker of its own, started only when the panel is opened, so
 * that the 2-D playground never waits for it and pages that do not use it never fetch RDKit.
 */
import { disposeLoadedModel, ensureBackend, loadModelFromBytes, type LoadedModel } from "../../src/index.js";
import { loadRDKit } from "../../src/chem/index.js";
import type { FromMoleculeWorker, ToMoleculeWorker } from "./molecule-protocol.js";
import { panelVocabulary, runMolecules } from "./molecules.js";

const scope = self as unknown as {
  postMessage(m: FromMoleculeWorker): void;
  onmessage: ((e: MessageEvent<ToMoleculeWorker>) => void) | null;
  location: { href: string };
};
const post = (m: FromMoleculeWorker) => scope.postMessage(m);

/** A model file absent from the site (an HTTP 404 on its weights or sidecar). */
class Absent extends Error {}

const models = new Map<string, Promise<{ model: LoadedModel; bytes: number; seconds: number }>>();

function loadModel(url: string) {
  let m = models.get(url);
  if (!m) {
    m = (async () => {
      await ensureBackend();
      const t0 = performance.now();
      const weightsUrl = new URL(url, scope.location.href).href;
      const sidecarUrl = weightsUrl.replace(/\.safetensors$/, "") + ".json";
      const [weights, sidecar] = await Promise.all([fetchOk(weightsUrl).then((r) => r.arrayBuffer()), fetchOk(sidecarUrl).then((r) => r.text())]);
      const model = await loadModelFromBytes(new Uint8Array(weights), sidecar, { weights: url, sidecar: url.replace(/\.safetensors$/, "") + ".json" });
      try {
        panelVocabulary(model);
      } catch (e) {
        disposeLoadedModel(model);
        throw new Error(`${url}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      return { model, bytes: weights.byteLength, seconds: (performance.now() - t0) / 1000 };
    })();
    m.catch(() => models.delete(url));
    models.set(url, m);
  }
  return m;
}

async function fetchOk(url: string): Promise<Response> {
  const r = await fetch(url);
  if (r.status === 404) throw new Absent(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r;
}

// One message at a time.
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (e) => {
  const msg = e.data;
  queue = queue
    .then(() => handle(msg))
    .catch((err: unknown) => {
      if (err instanceof Absent) post({ type: "absent", url: msg.url });
      else post({ type: "error", ...(msg.type === "run" ? { id: msg.id } : {}), message: err instanceof Error ? err.message : String(err) });
    });
};

async function handle(msg: ToMoleculeWorker): Promise<void> {
  const [rdkit, { model, bytes, seconds }] = await Promise.all([loadRDKit(), loadModel(msg.url)]);
  if (msg.type === "load") {
    post({ type: "loaded", url: msg.url, bytes, step: model.meta.step, atoms: [...(model.meta.molecules?.atoms ?? [])], seconds });
    return;
  }
  const run = await runMolecules(rdkit, model, msg.settings, (phase, done, total) => post({ type: "progress", id: msg.id, phase, done, total }));
  post({ type: "result", id: msg.id, run });
}
