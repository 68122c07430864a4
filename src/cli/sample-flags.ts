// The options of `rewardiff sample`, shared by its plain and molecule paths.

/** The command line's options; sampler, steps and η default per model kind (resolved in `sampleCommand`). */
export interface SampleFlags extends Omit<SampleOptions, "sampler" | "steps" | "eta"> {
  sampler?: "ddpm" | "ddim";
  steps?: number;
  eta?: number;
}

export interface SampleOptions {
  model: string;
  n: number;
  out: string;
  sampler: "ddpm" | "ddim";
  steps: number;
  eta: number;
  seed: number;
  raw?: boolean;
  quiet?: boolean;
  force?: boolean;
  /** Conditional models: the target a (one value per condition dimension), CFG strength w. */
  target?: number[];
  scale?: number;
  /** Print the learned reward of the samples under this reward model. */
  rewardModel?: string;
  /** Fine-tuned CTRL models: the context c, the control y, CFG strength against the null control. */
  context?: number;
  control?: number;
  cfgScale?: number;
}
