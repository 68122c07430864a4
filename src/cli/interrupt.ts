/**
 * Ctrl-C (SIGINT) and SIGTERM for long commands (`train`, `run`): the first one aborts an
 * {@link AbortSignal} that the work checks between steps (the trainer then stops after the step in
 * flight, and the command saves a checkpoint and says how to resume); a second one restores the
 * terminal and exits at once. The exit code is 128 + the signal's number (130 for SIGINT, 143 for
 * SIGTERM), the shell's convention. Process-global state lives here only; library code sees the signal.
 */
import { restoreTerminal } from "./progress.js";

export interface InterruptWatch {
  /** Aborted by the first SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
  /** The exit code for the signal received (130 when none was). */
  exitCode(): number;
  /** Removes the handlers (the default behaviour of the signals returns). */
  dispose(): void;
}

const CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Installs the handlers until `dispose()`. `stopNow` runs before a second signal exits (stop the
 * progress bar); `note` is printed on stderr at the first one when stderr is a terminal.
 */
export function watchInterrupts(stopNow: () => void, note = "stopping after the current step (press Ctrl-C again to quit at once)"): InterruptWatch {
  const controller = new AbortController();
  let received: string | undefined;
  const handler = (sig: NodeJS.Signals): void => {
    if (received === undefined) {
      received = sig;
      if (process.stderr.isTTY) process.stderr.write(`\nrewardiff: ${note}\n`);
      controller.abort();
      return;
    }
    stopNow();
    restoreTerminal();
    process.stderr.write(`rewardiff: ${sig === "SIGTERM" ? "terminated" : "interrupted"}; nothing saved after the last checkpoint\n`);
    process.exit(CODES[received] ?? 130);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    signal: controller.signal,
    exitCode: () => CODES[received ?? "SIGINT"] ?? 130,
    dispose() {
      process.removeListener("SIGINT", handler);
      process.removeListener("SIGTERM", handler);
    },
  };
}

/**
 * For commands with nothing to save on the way (`demo`, `sample`): the first SIGINT/SIGTERM stops the
 * progress bar (`stopNow`), restores the terminal and exits at once, saying that nothing was written
 * (outputs are written atomically at the end, so none is half-written), or what `kept()` says was (files
 * written on the way, e.g. training checkpoints, and how to resume from them). Returns the disposer.
 */
export function quitOnInterrupt(stopNow: () => void, kept: () => string | undefined = () => undefined): () => void {
  const handler = (sig: NodeJS.Signals): void => {
    stopNow();
    restoreTerminal();
    process.stderr.write(`rewardiff: ${sig === "SIGTERM" ? "terminated" : "interrupted"}; ${kept() ?? "nothing was written"}\n`);
    process.exit(CODES[sig] ?? 130);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.removeListener("SIGINT", handler);
    process.removeListener("SIGTERM", handler);
  };
}

/** A word of a shell command, quoted when it holds anything but safe characters. */
export function shellWord(w: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}
