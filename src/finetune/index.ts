/** Reward backpropagation through the sampler (DRaFT / AlignProp) and CTRL (docs/ctrl.md). */
export * from "./chain.js";
export * from "./policy.js";
export * from "./optimize.js";
export * from "./finetuned.js";
export * from "./draft.js";
export * from "./ctrl.js";
