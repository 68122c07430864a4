/**
 * The playground's molecule panel (main thread: controls and drawing only). Opening it starts its own
 * worker (./molecule-worker.ts), which loads RDKit and the QM9 model (models/qm9.safetensors, or the
 * same-origin file the page's `?molmodel=` query parameter names); "Sample" draws molecules plainly and
 * steered towards high QED or logP, or a target value of it (best-of-N, SVDD; ./molecules.ts) and the page shows RDKit's depictions with
 * validity and reward per molecule, and the mean reward of each set (docs/browser.md, "Molecule panel").
 */
import type { MoleculeEntry, MoleculeMethod, MoleculeRun, MoleculeSet, MoleculeSettings, PanelProperty } from "./molecules.js";
import { DEFAULT_MOLECULE_MODEL, type FromMoleculeWorker, type ToMoleculeWorker } from "./molecule-protocol.js";

interface MoleculeFinished {
  run: MoleculeRun;
  settings: MoleculeSettings;
  /** Wall-clock seconds in the page from the click to the result. */
  seconds: number;
}

/** What the end-to-end test reads (test/playground-molecules-e2e.test.ts). */
const panel = {
  url: new URLSearchParams(location.search).get("molmodel") ?? DEFAULT_MOLECULE_MODEL,
  loaded: [] as Extract<FromMoleculeWorker, { type: "loaded" }>[],
  absent: false,
  results: [] as MoleculeFinished[],
  errors: [] as string[],
  busy: false,
  /** The longest time (ms) the panel's own code took handling one worker message. */
  ownWork: 0,
};

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const setStatus = (text: string, error = false) => {
  const status = $<HTMLParagraphElement>("mol-status");
  status.textContent = text;
  status.classList.toggle("error", error);
};

let worker: Worker | undefined;
let runId = 0;
let current: { id: number; settings: MoleculeSettings; startedAt: number } | undefined;
const send = (m: ToMoleculeWorker) => started().postMessage(m);

function started(): Worker {
  if (!worker) {
    worker = new Worker(new URL("./molecule-worker.js", import.meta.url), { type: "module" });
    worker.onmessage = (e: MessageEvent<FromMoleculeWorker>) => {
      const t0 = performance.now();
      onMessage(e.data);
      panel.ownWork = Math.max(panel.ownWork, performance.now() - t0);
    };
    setStatus(`loading RDKit and ${panel.url}…`);
    worker.postMessage({ type: "load", url: panel.url } satisfies ToMoleculeWorker);
  }
  return worker;
}

function onMessage(m: FromMoleculeWorker): void {
  if (m.type === "loaded") {
    panel.loaded.push(m);
    setStatus(`model ${m.url} loaded (${(m.bytes / 1024).toFixed(0)} KiB, ${m.step} training steps, atoms ${m.atoms.join(" ")}) in ${m.seconds.toFixed(2)} s`);
    return;
  }
  if (m.type === "absent") {
    panel.absent = true;
    panel.busy = false;
    setStatus(
      m.url === DEFAULT_MOLECULE_MODEL
        ? `No molecule model: ${m.url} is not on this site. The build copies the package's models/qm9.safetensors (and qm9.json) when they exist; train one with \`rewardiff train --task qm9\` (docs/molecules.md) or point ?molmodel= at another file.`
        : `No molecule model: ${m.url} (named by ?molmodel=) is not on this site.`,
      true,
    );
    return;
  }
  if (m.type === "error") {
    panel.errors.push(m.message);
    setStatus(m.message, true);
    if (m.id === undefined || m.id === current?.id) panel.busy = false;
    return;
  }
  if (!current || m.id !== current.id) return;
  if (m.type === "progress") {
    setStatus(`sampling ${m.phase === "plain" ? "plainly" : `steered (${current.settings.method})`}: step ${m.done} / ${m.total}`);
    return;
  }
  const { settings: s, startedAt } = current;
  const seconds = (performance.now() - startedAt) / 1000;
  const id = m.id;
  void show(m.run, s, seconds).then(() => {
    if (current?.id !== id) return;
    panel.results.push({ run: m.run, settings: s, seconds });
    setStatus("done");
    panel.busy = false;
  });
}

function settings(): MoleculeSettings {
  const num = (id: string) => Number($<HTMLInputElement>(id).value);
  return {
    property: $<HTMLSelectElement>("mol-property").value as PanelProperty,
    method: $<HTMLSelectElement>("mol-method").value as MoleculeMethod,
    candidates: num("mol-candidates"),
    alpha: num("mol-alpha"),
    steps: num("mol-steps"),
    n: num("mol-n"),
    seed: num("mol-seed"),
    ...($<HTMLSelectElement>("mol-goal").value === "target" ? { target: num("mol-target") } : {}),
  };
}

const PROPERTY_NAMES: Record<PanelProperty, string> = { qed: "QED", logp: "logP" };

/** Shows a run; resolves when both grids are drawn. */
function show(run: MoleculeRun, s: MoleculeSettings, seconds: number): Promise<void> {
  const name = PROPERTY_NAMES[s.property];
  const reward = s.target === undefined ? name : `−|${name} − ${s.target}|`;
  const invalid = run.plain.molecules.find((m) => !m.valid)?.reward ?? run.steered.molecules.find((m) => !m.valid)?.reward;
  const method = s.method === "best-of-n" ? `best-of-N (N = ${s.candidates})` : `SVDD (M = ${s.candidates})`;
  const f = (v: number, d = 3) => v.toFixed(d);
  const rows: [string, string, string][] = [
    ["", "plain", `steered: ${method}, α = ${s.alpha}`],
    [`mean reward ${reward}${invalid === undefined ? "" : ` (invalid: ${invalid})`}`, f(run.plain.rewardMean), f(run.steered.rewardMean)],
    [`mean ${name} of the valid`, f(validMean(run.plain)), f(validMean(run.steered))],
    ["validity", f(run.plain.validity), f(run.steered.validity)],
    ["model evaluations", String(run.plain.cost.modelEvals), String(run.steered.cost.modelEvals)],
    ["seconds (worker)", f(run.plain.cost.seconds, 2), f(run.steered.cost.seconds, 2)],
  ];
  const table = $<HTMLTableElement>("mol-numbers").tBodies[0]!;
  table.replaceChildren(
    ...rows.map((r) => {
      const tr = document.createElement("tr");
      for (const [i, v] of r.entries()) {
        const td = document.createElement("td");
        if (i > 0) td.className = "num";
        td.textContent = v;
        tr.append(td);
      }
      return tr;
    }),
  );
  $("mol-took").textContent = `${s.n} molecules × ${s.steps} DDPM steps, plain and steered: ${seconds.toFixed(1)} s in all (seed ${s.seed})`;
  const generation = ++drawing;
  return grid("mol-plain", run.plain.molecules, name, generation).then(() => grid("mol-steered", run.steered.molecules, name, generation));
}

/** Figures added per frame: Chromium renders each SVG image on the main thread when it is first painted. */
const FIGURES_PER_FRAME = 4;
let drawing = 0;
const nextFrame = () => new Promise<void>((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

function validMean(set: MoleculeSet): number {
  const v = set.molecules.filter((m) => m.valid);
  return v.length === 0 ? Number.NaN : v.reduce((a, m) => a + m.value!, 0) / v.length;
}

/**
 * The molecules as figures: RDKit's SVG as an image (a data: URL, which the page's CSP allows), SMILES,
 * property. Added a few per frame, so that painting them never makes a long task; a newer run's drawing
 * (`generation`) stops this one.
 */
async function grid(id: string, molecules: readonly MoleculeEntry[], name: string, generation: number): Promise<void> {
  const figure = (m: MoleculeEntry) => {
    const fig = document.createElement("figure");
    fig.className = m.valid ? "mol" : "mol invalid";
    if (m.svg !== undefined) {
      const img = document.createElement("img");
      img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(m.svg)}`;
      img.alt = m.smiles ?? "";
      img.width = img.height = 120;
      fig.append(img);
    } else {
      const box = document.createElement("div");
      box.className = "no-depiction";
      box.textContent = "invalid";
      fig.append(box);
    }
    const cap = document.createElement("figcaption");
    const line = (text: string, cls: string) => {
      const span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      return span;
    };
    cap.append(...(m.valid ? [line(m.smiles!, "smiles"), line(`${name} ${m.value!.toFixed(3)}`, "reward")] : [line("RDKit cannot sanitise it", "smiles"), line(`reward ${m.reward}`, "reward")]));
    fig.append(cap);
    return fig;
  };
  const box = $(id);
  box.replaceChildren();
  for (let i = 0; i < molecules.length && generation === drawing; i += FIGURES_PER_FRAME) {
    const figs = molecules.slice(i, i + FIGURES_PER_FRAME).map(figure);
    box.append(...figs);
    // Render these images now (decode() loads and renders the SVG), not all together at a later paint.
    await Promise.all(figs.map((f) => f.querySelector("img")?.decode().catch(() => undefined)));
    await nextFrame();
  }
}

/** Wires the panel's controls (its worker starts when the panel is first opened) and exposes `playgroundMolecules`. */
export function setUpMoleculePanel(): void {
  (globalThis as unknown as { playgroundMolecules: typeof panel }).playgroundMolecules = panel;
  $<HTMLDetailsElement>("molecules").addEventListener("toggle", (e) => {
    if ((e.target as HTMLDetailsElement).open) started();
  });
  $<HTMLFormElement>("mol-controls").addEventListener("submit", (e) => {
    e.preventDefault();
    if (panel.absent) return;
    const s = settings();
    current = { id: ++runId, settings: s, startedAt: performance.now() };
    panel.busy = true;
    setStatus("sampling…");
    send({ type: "run", id: current.id, url: panel.url, settings: s });
  });
}
