/**
 * Progress for long work: a bar with step, loss and ETA on a TTY (stderr); elsewhere (a log file, CI) one
 * plain line every {@link LOG_EVERY_MS} of work (so short commands stay silent and a job run in the background
 * can be followed with `tail -f`); nothing with --quiet. Stage lines ("training …") go to a TTY only. The bar's total is the planned
 * total of the work it shows (a run trained in chunks, or resumed, keeps one bar: "757/1000", never
 * "757/500"); `done()` stops it and gives the terminal back its cursor and line wrap.
 */
import cliProgress from "cli-progress";

export interface Progress {
  stage(text: string): void;
  update(label: string, done: number, total: number, extra?: Record<string, number>): void;
  /** Stops the bar (if any) and restores the terminal; safe to call more than once. */
  done(): void;
}

/** Shows the cursor (`ESC[?25h`) and turns line wrap back on (`ESC[?7h`) when `stream` is a terminal. */
export function restoreTerminal(stream: NodeJS.WriteStream = process.stderr): void {
  if (stream.isTTY) stream.write("\x1b[?25h\x1b[?7h");
}

/** How often a non-terminal progress line is written. */
export const LOG_EVERY_MS = 60_000;

/** Progress as plain lines for a non-terminal stream: `label 250/14000 loss 2.31 (4.1 min, eta 3.2 h)`. */
function lineProgress(stream: NodeJS.WritableStream, now: () => number): Progress {
  let label = "";
  let start = 0;
  let startDone = 0;
  let last = -Infinity;
  const duration = (ms: number) => (ms < 120_000 ? `${(ms / 1000).toFixed(0)} s` : ms < 7_200_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 3_600_000).toFixed(1)} h`);
  return {
    stage: () => {},
    update(l, done, total, extra = {}) {
      const t = now();
      if (l !== label) {
        label = l;
        start = t;
        startDone = Math.max(0, done - 1);
        last = t;
        return;
      }
      if (t - last < LOG_EVERY_MS) return;
      last = t;
      const rate = (t - start) / Math.max(1, done - startDone);
      const extras = Object.entries(extra).map(([k, v]) => ` ${k} ${v.toPrecision(4)}`).join("");
      stream.write(`${l} ${done}/${total}${extras} (${duration(t - start)}, ${done < total ? `eta ${duration(rate * (total - done))}` : "done"})\n`);
    },
    done: () => {},
  };
}

export function makeProgress(quiet: boolean, stream: NodeJS.WriteStream = process.stderr, now: () => number = Date.now): Progress {
  if (quiet) return { stage: () => {}, update: () => {}, done: () => {} };
  if (!stream.isTTY) return lineProgress(stream, now);
  let bar: cliProgress.SingleBar | undefined;
  let current = "";
  let barTotal = 0;
  const finish = () => {
    if (!bar) return;
    bar.stop();
    bar = undefined;
    restoreTerminal(stream);
  };
  return {
    stage(text) {
      finish();
      stream.write(`${text}\n`);
    },
    update(label, done, total, extra = {}) {
      if (!bar || label !== current) {
        finish();
        current = label;
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: `${label} [{bar}] {value}/{total} {extras} eta {eta_formatted}`,
            hideCursor: true,
            gracefulExit: false,
            etaBuffer: 50,
            fps: 5,
          },
          cliProgress.Presets.shades_classic,
        );
        // A resumed run starts its bar where it stands (step k of the planned total).
        bar.start(total, Math.max(0, done - 1), { extras: "" });
        barTotal = total;
      } else if (total !== barTotal) {
        bar.setTotal(total);
        barTotal = total;
      }
      const extras = Object.entries(extra)
        .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
        .join(" ");
      bar.update(done, { extras });
    },
    done: finish,
  };
}

/** An experiment's hooks (stage lines, training and sampling progress) shown through `progress`. */
export function experimentHooks(progress: Progress) {
  return {
    onStage: (s: string) => progress.stage(s),
    onTrain: (p: { step: number; total: number; loss: number }) => progress.update("train ", p.step, p.total, { loss: p.loss }),
    onSample: (d: number, t: number) => progress.update("sample", d, t),
  };
}
