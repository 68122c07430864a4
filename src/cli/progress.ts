/**
 * Progress for long work: a bar with step, loss and ETA on a TTY (stderr), nothing otherwise or with
 * --quiet. Stage lines ("training …") are printed on a TTY only, too. The bar's total is the planned
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

export function makeProgress(quiet: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (quiet || !stream.isTTY) return { stage: () => {}, update: () => {}, done: () => {} };
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
