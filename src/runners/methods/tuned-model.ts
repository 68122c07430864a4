/**
 * The trained network of RGDM, RWR and DDPO as a run's checkpoint `model-<label>.safetensors`
 * (src/io/outputs.ts modelFileName): an inference checkpoint (src/io/checkpoints/model.ts) whose `ema.*`
 * weights are the tuned network. These methods sample that network with the run's plain sampler (no
 * reference network, unlike DRaFT/CTRL's src/io/checkpoints/finetuned.ts), so `rewardiff sample --model`
 * samples it like any model (in data units: the run's data transform is stored with it). The weights are read to the host when the runner finishes, so the
 * checkpoint survives their disposal and is written with the run's other files.
 */
import { MODEL_KIND, type ModelMeta } from "../../io/checkpoints/model.js";
import { saveModelTensors, weightTensors } from "../../io/checkpoints/model-files.js";
import { modelFileName } from "../../io/outputs.js";
import type { DenoiserParams } from "../../nn/denoiser.js";
import type { TrainConfig } from "../../training/trainer.js";
import { transformField } from "../task-data.js";
import type { MethodContext, MethodOutput } from "./context.js";

/**
 * The checkpoint entry of a tuned network: `params` (borrowed) after `step` optimisation steps of
 * `train`, saved under the row label `label`.
 */
export async function tunedModelCheckpoint(
  ctx: MethodContext,
  label: string,
  params: DenoiserParams,
  o: { train: TrainConfig; step: number },
): Promise<NonNullable<MethodOutput["checkpoints"]>[number]> {
  const tensors = await weightTensors(params, "ema");
  const meta: ModelMeta = {
    kind: MODEL_KIND,
    checkpoint: "inference",
    model: ctx.model,
    train: o.train,
    step: o.step,
    columns: ctx.data.columns,
    data: ctx.data.name,
    ...transformField(ctx.data.transform),
    ...(ctx.data.molecules ? { molecules: ctx.data.molecules } : {}),
  };
  return { name: modelFileName(label), save: (path) => saveModelTensors(path, meta, tensors) };
}
