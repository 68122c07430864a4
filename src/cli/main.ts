/**
 * `rewardiff`: the command line. Parses arguments with commander and dispatches to the *-command.ts modules.
 * Every failure is one line on stderr ("rewardiff: …") and a non-zero exit code; no stack traces.
 */
// First: the wasm heap probe must see jax-js create its memory (src/backend/heap.ts); runs report the heap.
import "../backend/heap-probe.js";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { demoCommand, runCommand } from "./run-command.js";
import { trainCommand } from "./train-command.js";
import { exportCommand } from "./export-command.js";
import { sampleCommand } from "./sample-command.js";
import { evaluateCommand } from "./evaluate-command.js";
import { moleculeDemoCommand } from "./molecule-demo-command.js";
import { intArg, numArg } from "./args.js";
import { fitRewardCommand, parseTarget } from "./rcgdm-commands.js";
import { TRAIN_PREDICTIONS, TRAIN_SCHEDULES, trainDefaults } from "./train-defaults.js";
import { withOutFileLock } from "./output.js";
import { TRANSFORM_KINDS } from "../data/transform.js";
import { CsvTaskSchema, MoleculeModelSchema, MoleculeSamplingSchema, SamplingSchema } from "../runners/config-schemas.js";

/** A probability-like option in [0, 1). */
function probArg(name: string) {
  return (v: string): number => {
    const n = numArg(name, { min: 0 })(v);
    if (n >= 1) throw new InvalidArgumentError(`${name} must be in [0, 1), got ${n}`);
    return n;
  };
}

function targetArg(v: string): number[] {
  try {
    return parseTarget(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

const VERSION = "0.1.0";

/** The first line of a message, cut to 300 characters (a pasted file must not flood the terminal). */
function oneLine(msg: string): string {
  const line = msg.trim().split("\n")[0]!;
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** The molecule model's defaults as `train --help` prints them (the schema's, never restated). */
function moleculeDefaultsText(): string {
  const m = MoleculeModelSchema.parse({});
  return `graph transformer ${m.layers}×${m.hidden}/${m.edgeHidden}, ${m.train.steps} steps, batch ${m.train.batchSize}, lr ${m.train.learningRate}`;
}

/** `sample`'s defaults: the sampling schema's, and the molecule models' (src/runners/config-schemas.ts). */
const SD = SamplingSchema.parse({});
const MD = MoleculeSamplingSchema.parse({});

/** `train`'s defaults, read from the schema and constants training uses (./train-defaults.ts). */
const TD = trainDefaults();

/** A default shown once, or for both models when the conditional one differs. */
function bothDefaults(main: string, conditional: string): string {
  return main === conditional ? main : `${main}; conditional model ${conditional}`;
}

/**
 * The command-line program (commander): every command and option. A command that ends with a code of
 * its own (130 after Ctrl-C saved a checkpoint) leaves it in `result.code`.
 */
export function program(result: { code: number } = { code: 0 }): Command {
  const p = new Command("rewardiff")
    .description("Reward-directed diffusion models: train, sample and evaluate on jax-js (no Python needed).")
    .version(VERSION)
    // Read by hand in bin/rewardiff.js before jax-js loads (src/cli/threads-policy.ts); listed so commander accepts it.
    .option("--threads <auto|0|N>", "jax-js wasm worker pool: auto (by the run's size), 0 (none) or N threads: N − 1 workers and the calling thread (default: REWARDIFF_THREADS, else auto)")
    // Usage errors are one line too: `rewardiff: unknown option '--stpes' (run with --help for usage)`.
    .configureOutput({ outputError: (str, write) => write(`rewardiff: ${oneLine(str.replace(/^error: /, "").trim().replace(/\s*\n\s*/g, " "))} (run with --help for usage)\n`) })
    .exitOverride();

  p.command("demo")
    .description("run the embedded experiment (reward-directed conditional diffusion on a linear subspace, 2307.07055) and write report.json / report.html; `demo molecules`: sample the shipped QM9 model, evaluate, report")
    .argument("[name]", "molecules: the molecule demo (docs/molecules.md); default: the linear-subspace experiment")
    .option("--out <dir>", "output folder (default: runs/demo-<time>)")
    .option("--quick", "a smaller run that finishes in under a minute")
    .option("--seed <n>", "random seed", intArg("--seed"), 0)
    .option("--quiet", "no progress output")
    .option("--force", "replace results already in --out")
    .action(async (name: string | undefined, o) => {
      if (name === undefined) return void (await demoCommand(o));
      if (name !== "molecules") throw new Error(`demo ${name}: unknown demo (there is \`rewardiff demo\` and \`rewardiff demo molecules\`)`);
      if (o.quick) throw new Error("--quick applies to the default demo; `demo molecules` is quick already");
      await moleculeDemoCommand(o);
    });

  p.command("run")
    .description("run a config-driven experiment (see docs/config.md)")
    .argument("<config>", "experiment config (JSON)")
    .option("--out <dir>", "output folder (default: runs/run-<time>)")
    .option("--seed <n>", "override the config's seed", intArg("--seed"))
    .option("--quiet", "no progress output")
    .option("--force", "replace results already in --out")
    .option("--resume <dir>", "continue a stopped run in its folder <dir> (same config): the base model from its last checkpoint; a molecule run: its rcgdm rows' fine-tuning from their training checkpoints (molecules.checkpointEvery)")
    .action(async (config, o) => {
      result.code = await runCommand(config, o);
    });

  p.command("train")
    .description("train a diffusion model on a built-in 2-D task or your own data (with --unlabeled and --reward-model: the conditional model of 2307.07055)")
    .option("--task <name>", `built-in data: moons, 8gaussians, swissroll, checkerboard, or qm9 (the molecule model of docs/molecules.md: ${moleculeDefaultsText()})`)
    .option("--smiles <file>", "a molecule model on your molecules: CSV with a `smiles` column (vocabulary read from the data)")
    .option("--max-atoms <n>", "--smiles: the largest molecule, in heavy atoms (default: the data's largest); larger ones are refused", intArg("--max-atoms", 1))
    .option("--data <file>", "your data: CSV with a header row, or .npy (rows = samples)")
    .option("--columns <a,b,...>", "CSV columns to use (default: all)")
    .addOption(
      new Option("--transform <kind>", `--data / --unlabeled: per-feature scaling fitted on the data, stored in the model and inverted after sampling (default ${CsvTaskSchema.parse({ kind: "csv", path: "-" }).transform})`).choices([...TRANSFORM_KINDS]),
    )
    .requiredOption("--out <model.safetensors>", "where to write the model (a .json sidecar goes beside it)")
    .option("--steps <n>", `optimizer steps (default ${TD.steps})`, intArg("--steps", 1))
    .option("--batch-size <n>", `batch size (default ${TD.batchSize})`, intArg("--batch-size", 1))
    .option("--lr <x>", `learning rate (default ${TD.learningRate})`, numArg("--lr", { min: 0, exclusiveMin: true }))
    .option("--hidden <n>", `hidden width (default ${TD.hidden}; conditional model ${TD.conditional.hidden})`, intArg("--hidden", 1))
    .option("--layers <n>", `hidden layers (default ${TD.layers}; conditional model ${TD.conditional.layers})`, intArg("--layers", 1))
    .addOption(new Option("--schedule <kind>", `noise schedule β_1..β_T (default ${bothDefaults(TD.schedule, TD.conditional.schedule)})`).choices(TRAIN_SCHEDULES))
    .addOption(new Option("--prediction <kind>", `what the network predicts: ε (eps), x₀ (x0) or v (default ${bothDefaults(TD.prediction, TD.conditional.prediction)}; the low-rank network predicts x0)`).choices(TRAIN_PREDICTIONS))
    .option("--seed <n>", "random seed (default 0)", intArg("--seed"))
    .option("--checkpoint-every <n>", "save the training checkpoint to --out every n steps (Ctrl-C also saves one)", intArg("--checkpoint-every", 1))
    .option("--resume <model.safetensors>", "continue training a checkpoint (with the same --task or --data) up to its planned steps (or --steps)")
    .option("--unlabeled <file>", "conditional model (2307.07055): unlabeled data (CSV or .npy) to pseudo-label with --reward-model")
    .option("--reward-model <reward.safetensors>", "conditional model: the reward model from `rewardiff fit-reward` that pseudo-labels --unlabeled")
    .option("--pseudo-label-noise <nu>", "conditional model: ν, noise added to the pseudo-labels ŷ = f̂(x) + ν·ξ (default 0.1)", numArg("--pseudo-label-noise", { min: 0 }))
    .option("--dropout <p>", "conditional model: condition dropout p_uncond, for guidance at sampling time (default 0.1)", probArg("--dropout"))
    .addOption(new Option("--network <kind>", "conditional model: mlp, or the low-rank score network (needs --rank)").choices(["mlp", "low-rank"]))
    .option("--rank <d>", "conditional model, --network low-rank: the subspace dimension d", intArg("--rank", 1))
    .option("--quiet", "no progress output")
    .option("--force", "replace an existing --out")
    .action(async (o) => {
      result.code = await withOutFileLock(o.out, () => trainCommand(o));
    });

  p.command("fit-reward")
    .description("fit a reward model (ridge, MLP or deep ensemble) to a labeled CSV, reporting the held-out fit")
    .requiredOption("--data <labeled.csv>", "labeled data: CSV with a header row")
    .requiredOption("--label <column>", "the column holding the reward labels y")
    .option("--columns <a,b,...>", "feature columns (default: every column but the label)")
    .addOption(new Option("--kind <kind>", "reward model").choices(["ridge", "mlp", "ensemble"]).default("ridge"))
    .option("--holdout <f>", "fraction of rows held out to measure the fit", probArg("--holdout"), 0.2)
    .option("--l2 <x>", "ridge penalty λ (default 1e-3) or MLP weight decay (default 1e-4)", numArg("--l2", { min: 0 }))
    .option("--hidden <n>", "MLP width (default 64)", intArg("--hidden", 1))
    .option("--layers <n>", "MLP hidden layers (default 2)", intArg("--layers", 1))
    .option("--steps <n>", "MLP optimizer steps (default 1500)", intArg("--steps", 1))
    .option("--lr <x>", "MLP learning rate (default 3e-3)", numArg("--lr", { min: 0, exclusiveMin: true }))
    .option("--members <n>", "ensemble members (default 5)", intArg("--members", 1))
    .option("--seed <n>", "random seed (split, initialisation)", intArg("--seed"), 0)
    .requiredOption("--out <reward.safetensors>", "where to write the reward model (a .json sidecar goes beside it)")
    .option("--quiet", "no progress output")
    .option("--force", "replace an existing --out")
    .action(async (o) => {
      await withOutFileLock(o.out, () => fitRewardCommand(o));
    });

  p.command("sample")
    .description("draw samples from a trained model into a CSV file")
    .requiredOption("--model <model.safetensors>", "a model written by `rewardiff train` or `run`, or a shipped one: qm9 (the QM9 molecule model), qm9-logp (conditioned on logP: --target), qm9-logp-stage1 … qm9-logp-stage5 (its first five stages)")
    .option("--n <n>", "number of samples", intArg("--n", 1), 1000)
    .requiredOption("--out <samples.csv>", "output CSV (molecule models: smiles, valid, fragments, atoms, qed, logp, tpsa, mw, graph_smiles)")
    .addOption(new Option("--sampler <kind>", `sampler (default ${SD.sampler}; molecule models ${MD.sampler})`).choices(["ddpm", "ddim"]))
    .option("--steps <n>", `reverse steps (default ${SD.steps}; molecule models ${MD.steps})`, intArg("--steps", 1))
    .option("--eta <x>", `DDIM stochasticity η (0 = deterministic, 1 = DDPM-like; default ${SD.eta})`, numArg("--eta", { min: 0 }))
    .option("--seed <n>", "random seed", intArg("--seed"), 0)
    .option("--raw", "use the raw weights instead of their EMA")
    .option("--target <a>", "conditional models: the target reward a (comma-separated for a vector condition)", targetArg)
    .option("--scale <w>", "conditional models: classifier-free guidance strength w (1 = plain conditioning)", numArg("--scale", { min: 0 }))
    .option("--context <c>", "CTRL models: the context c of the pretrained p_pre(x | c)", intArg("--context"))
    .option("--control <y>", "CTRL models: the added control y (a class of the run's classifier)", intArg("--control"))
    .option("--cfg-scale <w>", "CTRL models trained with a null control (nullProbability > 0): CFG strength w against y = ∅", numArg("--cfg-scale", { min: 0 }))
    .option("--reward-model <reward.safetensors>", "also print the learned reward of the samples under this model")
    .option("--quiet", "no progress output")
    .option("--force", "replace an existing --out")
    .action(async (o) => {
      await withOutFileLock(o.out, () => sampleCommand(o));
    });

  p.command("export")
    .description("write a training checkpoint's EMA weights as an inference checkpoint (smaller; samples like it, cannot resume)")
    .requiredOption("--model <model.safetensors>", "a training checkpoint written by `rewardiff train`")
    .requiredOption("--out <model.safetensors>", "where to write the inference checkpoint (a .json sidecar goes beside it)")
    .option("--force", "replace an existing --out")
    .action(async (o) => {
      result.code = await withOutFileLock(o.out, () => exportCommand(o));
    });

  p.command("evaluate")
    .description("distance between samples and data (sliced Wasserstein, MMD²) with the data-vs-data noise floor; with --molecules, the molecule metrics and report of docs/molecules.md")
    .option("--samples <file>", "generated samples (CSV or .npy)")
    .option("--data <file>", "reference data (CSV or .npy), at least twice as many rows for the floor")
    .option("--molecules <mols.csv>", "generated molecules (a `smiles` column, e.g. from `rewardiff sample` of a molecule model): validity, uniqueness, novelty, fragments, KL score, atom/bond types, each beside its floor")
    .option("--reference <ref.csv>", "--molecules: reference molecules (default: QM9's test split); split at random into the reference and the floor's data sample")
    .option("--training <train.csv>", "--molecules: training molecules for novelty (default: QM9's train split)")
    .option("--reference-size <n>", "--molecules: compare with a seeded sample of n reference molecules (default: all)", intArg("--reference-size", 2))
    .option("--out <dir>", "--molecules: write report.json and report.html into this folder")
    .option("--force", "--molecules: replace a report already in --out")
    .option("--quiet", "no progress output")
    .option("--columns <a,b,...>", "CSV columns to compare (default, or \"\": all). Two CSV files are matched by column name; a .npy file has no names, so it is compared by position and the widths must agree")
    .option("--seed <n>", "random seed of the projections", intArg("--seed"), 0)
    .action(async (o, cmd: Command) => {
      // Without --molecules, --samples and --data are required (commander's own usage error).
      if (o.molecules === undefined) {
        for (const [flag, v] of [["--samples <file>", o.samples], ["--data <file>", o.data]] as const) {
          if (v === undefined) cmd.error(`error: required option '${flag}' not specified`, { exitCode: 1, code: "commander.missingMandatoryOptionValue" });
        }
      }
      await evaluateCommand(o);
    });

  return p;
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const result = { code: 0 };
  const p = program(result);
  for (const c of p.commands) c.exitOverride();
  try {
    await p.parseAsync(argv, { from: "user" });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; usage errors were already printed by commander
      return err.exitCode === 0 || err.code === "commander.helpDisplayed" || err.code === "commander.version" ? 0 : 2;
    }
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`rewardiff: ${oneLine(msg)}\n`);
    return 1;
  }
}
