/** Messages between the page's molecule panel (./molecule-panel.ts) and its worker (./molecule-worker.ts). */
import type { MoleculeRun, MoleculeSettings } from "./molecules.js";

/** Where the panel looks for the model unless the page's `?molmodel=` names another (same-origin) file. */
export const DEFAULT_MOLECULE_MODEL = "models/qm9.safetensors";

export type ToMoleculeWorker = { type: "load"; url: string } | { type: "run"; id: number; url: string; settings: MoleculeSettings };

export type FromMoleculeWorker =
  | { type: "loaded"; url: string; bytes: number; step: number; atoms: string[]; seconds: number }
  /** The model file is not on the site (HTTP 404). */
  | { type: "absent"; url: string }
  | { type: "progress"; id: number; phase: "plain" | "steered"; done: number; total: number }
  | { type: "result"; id: number; run: MoleculeRun }
  | { type: "error"; id?: number; message: string };
