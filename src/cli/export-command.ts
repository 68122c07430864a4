/**
 * `rewardiff export`: a training checkpoint's EMA weights as an inference checkpoint (src/io/checkpoints/model.ts:
 * no optimizer moments, no raw weights, a quarter of the size). It samples, evaluates and fine-tunes like the
 * training checkpoint and cannot resume training. This is how a model is prepared for shipping (models/).
 */
import { resolve } from "node:path";
import { ensureBackend } from "../backend/init.js";
import { loadModel, saveInferenceModel } from "../io/checkpoints/model-files.js";
import { disposeLoadedModel } from "../io/checkpoints/model.js";
import { checkOutFile } from "./output.js";
import { log } from "./log.js";

export interface ExportOptions {
  model: string;
  out: string;
  force?: boolean;
}

export async function exportCommand(o: ExportOptions): Promise<number> {
  if (!o.out.endsWith(".safetensors")) throw new Error(`--out ${o.out}: a model path must end in .safetensors`);
  if (resolve(o.out) === resolve(o.model)) throw new Error(`--out ${o.out}: the same file as --model; export to another path`);
  checkOutFile(o.out, !!o.force);
  await ensureBackend();
  const loaded = loadModel(o.model);
  try {
    if (loaded.kind !== "training") throw new Error(`--model ${o.model}: already an inference checkpoint (nothing to export)`);
    const { kind: _kind, checkpoint: _checkpoint, step, dataSeed: _dataSeed, ...info } = loaded.meta;
    const extra = loaded.extra.size > 0 ? new Map([...loaded.extra].map(([k, v]) => [k, { shape: [...v.shape], data: v.data }])) : undefined;
    await saveInferenceModel(o.out, info, loaded.ema, step, extra);
    log(`exported the EMA weights of ${o.model} (step ${step}) to ${o.out}`);
    return 0;
  } finally {
    disposeLoadedModel(loaded);
  }
}
