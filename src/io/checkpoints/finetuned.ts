/**
 * Fine-tuned models (DRaFT, CTRL) as self-describing model checkpoints (src/io/checkpoints/model.ts):
 * an inference checkpoint (no fake training state), with the weights of both networks stored once:
 *  - `ema.*` = the effective fine-tuned network θ_eff (LoRA adapters A·B merged into W, CTRL's control
 *    table E_y included), so `meta.model.network` is the policy network (with `control` for CTRL);
 *  - `reference.*` = the frozen pretrained weights (the reference p_pre), whose mean μ_pre(x_1) the
 *    chain's final deterministic step uses (src/finetune/chain.ts planRows); sampling a loaded model
 *    with the same sampler and key reproduces the run's samples exactly;
 *  - the sidecar's `finetuned` block says what was fine-tuned, with which sampler, and for CTRL the
 *    context and control inputs (names, classes, whether the null control ∅ was trained for CFG).
 * The checkpoint is built on the host when the runner finishes (`finetunedCheckpoint`), so it survives
 * the fine-tuned model's disposal and is written with the run's other artefacts. Files written before the
 * inference kind existed (a training state with params = ema and zero moments) still load.
 */
import { keyFromSeed } from "../../backend/keys.js";
import { tree } from "../../backend/jax.js";
import { samplerPlan, type SamplerConfig } from "../../diffusion/sample.js";
import { makeSchedule } from "../../diffusion/schedule.js";
import { initDenoiser, type DenoiserParams, type DenoiserSpec } from "../../nn/denoiser.js";
import { paramsFromHost } from "../../nn/params.js";
import { disposeLoadedModel, MODEL_KIND, type FinetunedInfo, type HostTensors, type LoadedModel, type ModelMeta } from "./model.js";
import { saveModelTensors, weightTensors } from "./model-files.js";
import { modelFileName } from "../outputs.js";
import type { TrainConfig } from "../../training/trainer.js";
import { finetunedParams, type FinetunedModel } from "../../finetune/finetuned.js";
import { policyNetwork } from "../../finetune/policy.js";

/** A fine-tuned model's checkpoint, held on the host until the run writes it. */
export interface FinetunedCheckpoint {
  meta: ModelMeta;
  tensors: HostTensors;
}

/** Materialises θ_eff and the reference on the host (read asynchronously). Borrows `m`. */
export async function finetunedCheckpoint(
  m: FinetunedModel,
  info: FinetunedInfo,
  o: { train: TrainConfig; columns: string[]; data: string; conditioning?: ModelMeta["conditioning"] },
): Promise<FinetunedCheckpoint> {
  const eff = finetunedParams(m);
  const tensors = await weightTensors(eff, "ema");
  tree.dispose(eff);
  for (const [name, t] of await weightTensors(m.f.base, "reference")) tensors.set(name, t);
  const meta: ModelMeta = {
    kind: MODEL_KIND,
    checkpoint: "inference",
    model: { ...m.spec.model, network: policyNetwork(m.spec) },
    train: o.train,
    step: info.steps,
    columns: o.columns,
    data: o.data,
    ...(o.conditioning ? { conditioning: o.conditioning } : {}),
    finetuned: info,
  };
  return { meta, tensors };
}

/**
 * File name of a fine-tuned model in a run's folder: `model-<label>.safetensors`, the label in its
 * injective file-name form (src/io/outputs.ts modelFileName).
 */
export function finetunedFileName(label: string): string {
  return modelFileName(label);
}

/** Writes a fine-tuned checkpoint (path ends in .safetensors; the sidecar goes beside it). */
export function saveFinetuned(path: string, ck: FinetunedCheckpoint): void {
  saveModelTensors(path, ck.meta, ck.tensors);
}

/** The pretrained (reference) network of a fine-tuned model: the policy network without the control. */
export function referenceNetwork(net: DenoiserSpec): DenoiserSpec {
  const { control: _control, ...rest } = net;
  return rest;
}

/**
 * A loaded fine-tuned checkpoint as a {@link FinetunedModel} sampling with `sampler` (trainable mode
 * "all": θ = θ_eff, so the policy is exactly the saved network). Consumes `loaded`.
 */
export function finetunedFromLoaded(loaded: LoadedModel, path: string, sampler: SamplerConfig): FinetunedModel {
  const { meta, state, extra } = loaded;
  const info = meta.finetuned;
  if (!info) {
    disposeLoadedModel(loaded);
    throw new Error(`${path} is not a fine-tuned model (no "finetuned" block in its sidecar)`);
  }
  const refNet = referenceNetwork(meta.model.network);
  const template = initDenoiser(keyFromSeed(0), refNet);
  let base: DenoiserParams;
  try {
    base = paramsFromHost(template, extra, path, "reference");
  } catch (err) {
    disposeLoadedModel(loaded);
    throw err;
  } finally {
    tree.dispose(template);
  }
  if (state) {
    // An older file: a training state whose params and moments are not needed.
    tree.dispose(state.params);
    tree.dispose(state.opt as unknown as DenoiserParams);
    state.key.dispose();
  }
  const { control, ...net } = loaded.ema;
  const schedule = makeSchedule(meta.model.schedule);
  const model = { ...meta.model, network: refNet };
  return {
    spec: { model, mode: "all", rank: 1, ...(info.control ? { controlClasses: info.control.classes } : {}) },
    p: { net: net as DenoiserParams, ...(control ? { control } : {}) },
    f: { base },
    plan: samplerPlan(schedule, sampler),
    T: schedule.T,
    dim: meta.model.network.dataDim,
  };
}
