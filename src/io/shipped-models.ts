/**
 * Models shipped with the package, by the name `--model` (and a config's `model.pretrained` or
 * `molecules.conditionalModel`) accepts: files under models/ at the package root, each beside its `.json`
 * sidecar; models/README.md says how each was made. `qm9`: the QM9 molecule model; `qm9-logp`: its RCGDM
 * fine-tuning conditioned on Crippen logP (sampled with `--target`), the sixth stage of that fine-tuning;
 * `qm9-logp-stage1` … `qm9-logp-stage5`: its first five stages (each stage starts from the one before). No
 * imports: the CLI's thread policy reads it before the numeric backend loads.
 */
export const SHIPPED_MODELS: Readonly<Record<string, string>> = {
  qm9: "models/qm9.safetensors",
  "qm9-logp": "models/qm9-logp.safetensors",
  "qm9-logp-stage1": "models/qm9-logp-stage1.safetensors",
  "qm9-logp-stage2": "models/qm9-logp-stage2.safetensors",
  "qm9-logp-stage3": "models/qm9-logp-stage3.safetensors",
  "qm9-logp-stage4": "models/qm9-logp-stage4.safetensors",
  "qm9-logp-stage5": "models/qm9-logp-stage5.safetensors",
};
