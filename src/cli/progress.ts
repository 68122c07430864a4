/**
 * Progress for long work: a bar with step, loss and ETA on a TTY (stderr), nothing otherwise or with
 * --quiet. Stage lines ("training …") are printed on a TTY only, too.
 */
import cliProgress from "cli-progress";

export interface Progress {
  stage(text: string): void;
  update(label: string, done: number, total: number, extra?: Record<string, number>): void;
  done(): void;
}

export function makeProgress(quiet: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (quiet || !stream.isTTY) return { stage: () => {}, update: () => {}, done: () => {} };
  let bar: cliProgress.SingleBar | undefined;
  let current = "";
  const finish = () => {
    bar?.stop();
    bar = undefined;
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
            etaBuffer: 50,
            fps: 5,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0, { extras: "" });
      }
      const extras = Object.entries(extra)
        .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
        .join(" ");
      bar.update(done, { extras });
    },
    done: finish,
  };
}
