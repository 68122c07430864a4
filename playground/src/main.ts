/**
 * The playground page's main thread: reads the controls, lets the user paint the region, sends runs to
 * the worker (./worker.ts) and draws what comes back (the exact tilted density as a heat map, the samples
 * step by step, the numbers). Nothing numeric runs here, so the page stays responsive; it records the
 * main thread's long tasks (> 50 ms) for the end-to-end test (test/playground-e2e.test.ts).
 */
import type { Method, RunSettings } from "./engine.js";
import type { Device, FromWorker, RunNumbers, ToWorker } from "./protocol.js";
import { cellCenter, cellOf, CELL, GRID, HEAT, VIEW } from "./grid.js";
import type { RewardSpec } from "./rewards.js";
import { setUpMoleculePanel } from "./molecule-panel.js";

interface Finished {
  numbers: RunNumbers;
  samples: Float32Array;
  frames: number;
  startedAt: number;
  endedAt: number;
}

/** What the end-to-end test reads (and what a curious user can inspect in the console). */
const playground = {
  longTasks: [] as { start: number; duration: number }[],
  /** Models loaded, with `at`: milliseconds from navigation start to the worker's answer. */
  loaded: [] as (Extract<FromWorker, { type: "loaded" }> & { at: number })[],
  results: [] as Finished[],
  errors: [] as string[],
  /** The longest time (ms) the page's own code took in one go: handling a worker message, drawing. */
  ownWork: { message: 0, draw: 0 },
  busy: false,
  /** Resolves when no run is in flight (the last result or error is then in `results` / `errors`). */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (this.busy ? setTimeout(check, 20) : resolve());
      check();
    });
  },
  /** Paints (or erases) cells by index (the test also paints with the mouse). */
  paintCells(cells: number[], erase = false): void {
    for (const k of cells) {
      if (erase) painted.delete(k);
      else painted.add(k);
    }
    draw();
  },
  get painted(): number[] {
    return [...painted].sort((a, b) => a - b);
  },
};
(globalThis as unknown as { playground: typeof playground }).playground = playground;

if (typeof PerformanceObserver !== "undefined" && PerformanceObserver.supportedEntryTypes?.includes("longtask")) {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) playground.longTasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: "longtask", buffered: true });
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const canvas = $<HTMLCanvasElement>("view");
const ctx = canvas.getContext("2d")!;
const status = $<HTMLParagraphElement>("status");
const painted = new Set<number>();
let center: [number, number] = [1, 1];
let heat: Float32Array | undefined;
let points: Float32Array | undefined;
let stepLabel = "";
let runId = 0;
let current: { id: number; frames: number; startedAt: number } | undefined;

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const send = (m: ToWorker) => worker.postMessage(m);

const num = (id: string) => Number($<HTMLInputElement>(id).value);
const value = (id: string) => $<HTMLSelectElement>(id).value;

function rewardSpec(): RewardSpec {
  const kind = value("reward");
  if (kind === "linear") return { kind, angle: (num("angle") * Math.PI) / 180 };
  if (kind === "radial") return { kind, center };
  return { kind: "region", cells: playground.painted };
}

function settings(): RunSettings {
  return {
    task: value("task"),
    method: value("method") as Method,
    reward: rewardSpec(),
    alpha: num("alpha"),
    scale: num("scale"),
    start: num("start"),
    candidates: num("candidates"),
    finetuneSteps: num("finetuneSteps"),
    steps: num("steps"),
    n: num("n"),
    seed: num("seed"),
  };
}

function setStatus(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle("error", error);
}

// Data units ↔ canvas pixels (y up).
const toPx = (x: number, y: number): [number, number] => [((x + VIEW) / (2 * VIEW)) * canvas.width, ((VIEW - y) / (2 * VIEW)) * canvas.height];
const toData = (px: number, py: number): [number, number] => [(px / canvas.width) * 2 * VIEW - VIEW, VIEW - (py / canvas.height) * 2 * VIEW];

const heatCanvas = document.createElement("canvas");
heatCanvas.width = HEAT;
heatCanvas.height = HEAT;

let heatDrawn: Float32Array | undefined;
/** Paints the heat map into its 64×64 canvas once per new reference; drawing then only scales it. */
function drawHeat(): void {
  if (!heat) return;
  if (heatDrawn !== heat) {
    const hctx = heatCanvas.getContext("2d")!;
    const img = hctx.createImageData(HEAT, HEAT);
    let max = 0;
    for (const v of heat) max = Math.max(max, v);
    for (let j = 0; j < HEAT; j++) {
      for (let i = 0; i < HEAT; i++) {
        const v = max > 0 ? Math.sqrt(heat[j * HEAT + i]! / max) : 0; // √ so that faint mass shows
        const o = ((HEAT - 1 - j) * HEAT + i) * 4;
        img.data[o] = img.data[o + 1] = img.data[o + 2] = Math.round(255 * (1 - 0.7 * v));
        img.data[o + 3] = 255;
      }
    }
    hctx.putImageData(img, 0, 0);
    heatDrawn = heat;
  }
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(heatCanvas, 0, 0, canvas.width, canvas.height);
}

function draw(): void {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  drawHeat();
  const kind = value("reward");
  if (kind === "region") {
    ctx.fillStyle = "rgba(255, 160, 0, 0.35)";
    const w = (CELL / (2 * VIEW)) * canvas.width;
    for (const k of painted) {
      const [cx, cy] = cellCenter(k);
      const [px, py] = toPx(cx - CELL / 2, cy + CELL / 2);
      ctx.fillRect(px, py, w, w);
    }
  } else if (kind === "radial") {
    const [px, py] = toPx(center[0], center[1]);
    ctx.strokeStyle = "#d60";
    ctx.beginPath();
    ctx.moveTo(px - 8, py);
    ctx.lineTo(px + 8, py);
    ctx.moveTo(px, py - 8);
    ctx.lineTo(px, py + 8);
    ctx.stroke();
  } else {
    const a = (num("angle") * Math.PI) / 180;
    const [x0, y0] = toPx(0, 0);
    const [x1, y1] = toPx(Math.cos(a), Math.sin(a));
    ctx.strokeStyle = "#d60";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
    ctx.lineWidth = 1;
  }
  if (points) {
    // One path for all points: a single fill instead of one per point.
    ctx.fillStyle = "rgba(20, 60, 200, 0.9)";
    ctx.beginPath();
    const sx = canvas.width / (2 * VIEW);
    const sy = canvas.height / (2 * VIEW);
    for (let i = 0; i < points.length; i += 2) ctx.rect((points[i]! + VIEW) * sx - 1, (VIEW - points[i + 1]!) * sy - 1, 2.5, 2.5);
    ctx.fill();
  }
  ctx.fillStyle = "#333";
  ctx.fillText(stepLabel, 8, 16);
}

let pending = false;
function scheduleDraw(): void {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    const t0 = performance.now();
    draw();
    playground.ownWork.draw = Math.max(playground.ownWork.draw, performance.now() - t0);
  });
}

function showNumbers(n: RunNumbers, s: RunSettings): void {
  const f = (v: number | undefined, d = 3) => (v === undefined ? "—" : v.toFixed(d));
  const rows: [string, string][] = [
    [`mean reward (${s.reward.kind !== "region" ? s.reward.kind : ["dps", "xt-gradient", "draft"].includes(s.method) ? "smoothed region" : "region indicator"})`, f(n.rewardMean)],
    ["exact E_p*[r]", `${f(n.exactRewardMean)} ± ${f(n.exactRewardSe)}`],
    ...(n.regionFraction !== undefined ? ([["in the painted region", f(n.regionFraction)], ["exact p*(region)", f(n.exactRegionMass)]] as [string, string][]) : []),
    ["sliced W to p* (floor)", `${f(n.sw)} (${f(n.swFloor)})`],
    ["path KL per sample", f(n.pathKl)],
    ["model / reward / grad evals", `${n.modelEvals} / ${n.rewardEvals} / ${n.gradEvals}`],
    ["seconds (device)", `${f(n.seconds, 2)} (${n.device})${n.predictorSeconds !== undefined ? ` + ${f(n.predictorSeconds, 2)} ${lastSettings?.method === "draft" ? "fine-tuning" : "training the classifier"}` : ""}`],
    ["exact reference", `${Math.round(n.exactEss)} effective exact draws`],
  ];
  const body = $<HTMLTableElement>("numbers").tBodies[0]!;
  body.replaceChildren(
    ...rows.map(([k, v]) => {
      const tr = document.createElement("tr");
      const a = document.createElement("td");
      a.textContent = k;
      const b = document.createElement("td");
      b.className = "num";
      b.textContent = v;
      tr.append(a, b);
      return tr;
    }),
  );
}

let lastSettings: RunSettings | undefined;
worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const t0 = performance.now();
  onWorkerMessage(e.data);
  playground.ownWork.message = Math.max(playground.ownWork.message, performance.now() - t0);
};

function onWorkerMessage(m: FromWorker): void {
  if (m.type === "loaded") {
    playground.loaded.push({ ...m, at: performance.now() });
    setStatus(`model ${m.task} loaded on ${m.device} (${(m.bytes / 1024).toFixed(0)} KiB, ${m.step} training steps) in ${m.seconds.toFixed(2)} s`);
    return;
  }
  if (m.type === "error") {
    playground.errors.push(m.message);
    setStatus(m.message, true);
    if (m.id === undefined || m.id === current?.id) playground.busy = false;
    return;
  }
  if (!current || m.id !== current.id) return;
  if (m.type === "progress") {
    setStatus(`fine-tuning: step ${m.step} / ${m.total}, mean reward ${m.objective.toFixed(3)}, KL ${m.kl.toFixed(3)}`);
  } else if (m.type === "reference") {
    heat = m.heat;
    scheduleDraw();
  } else if (m.type === "frame") {
    current.frames++;
    points = m.x;
    stepLabel = `step ${m.step} / ${m.total}`;
    scheduleDraw();
  } else {
    points = m.samples;
    stepLabel = `done: ${m.numbers.seconds.toFixed(2)} s on ${m.numbers.device}`;
    playground.results.push({ numbers: m.numbers, samples: m.samples, frames: current.frames, startedAt: current.startedAt, endedAt: performance.now() });
    showNumbers(m.numbers, lastSettings!);
    setStatus("done");
    playground.busy = false;
    scheduleDraw();
  }
}

$<HTMLFormElement>("controls").addEventListener("submit", (e) => {
  e.preventDefault();
  const s = settings();
  if (s.reward.kind === "region" && s.reward.cells.length === 0) {
    setStatus("paint a region on the canvas first", true);
    return;
  }
  lastSettings = s;
  current = { id: ++runId, frames: 0, startedAt: performance.now() };
  playground.busy = true;
  setStatus(`running ${s.method} on ${value("device")}…`);
  send({ type: "run", id: current.id, device: value("device") as Device, settings: s });
});

$("clear").addEventListener("click", () => {
  painted.clear();
  draw();
});
for (const id of ["reward", "angle"]) $(id).addEventListener("change", draw);
for (const id of ["task", "device"]) $(id).addEventListener("change", () => send({ type: "load", task: value("task"), device: value("device") as Device }));

let dragging: boolean | undefined; // undefined: not dragging; true: erasing
function paintAt(e: PointerEvent): void {
  const r = canvas.getBoundingClientRect();
  const [x, y] = toData(((e.clientX - r.left) / r.width) * canvas.width, ((e.clientY - r.top) / r.height) * canvas.height);
  if (value("reward") === "radial") {
    center = [x, y];
  } else {
    const k = cellOf(x, y);
    if (k >= 0 && dragging) painted.delete(k);
    else if (k >= 0) painted.add(k);
  }
  scheduleDraw();
}
canvas.addEventListener("pointerdown", (e) => {
  dragging = e.shiftKey;
  canvas.setPointerCapture(e.pointerId);
  paintAt(e);
});
canvas.addEventListener("pointermove", (e) => {
  if (dragging !== undefined && value("reward") === "region") paintAt(e);
});
canvas.addEventListener("pointerup", () => (dragging = undefined));

// A default region to start from: the cells around one mode, so that Run does something at once.
for (let j = 14; j < 18; j++) for (let i = 14; i < 18; i++) painted.add(j * GRID + i);
draw();
send({ type: "load", task: value("task"), device: value("device") as Device });
setUpMoleculePanel();
