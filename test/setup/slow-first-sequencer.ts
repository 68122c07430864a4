/**
 * Test-file order for `npm test` (vitest.config.ts `sequence.sequencer`): the slowest files start first, so that
 * the two workers do not end with one long file running alone. Vitest's own order is by the durations of the
 * previous run, which a fresh clone (CI) does not have, so it falls back to file size: there the two ~40 s quality
 * files started last and ran at the tail (vitest 371 s on 2026-12-03, summed test time 640 s).
 *
 * SLOW_FILES: seconds per file measured in that CI run (`bash .ci/run` on a fresh clone, 2 cores), files of 8 s or
 * more. Only the order depends on them: a stale figure costs balance, never a result. Other files keep vitest's order.
 */
import { BaseSequencer, type TestSpecification } from "vitest/node";

export const SLOW_FILES: ReadonlyArray<readonly [string, number]> = [
  ["test/quality-8gaussians.test.ts", 41],
  ["test/quality-moons.test.ts", 40],
  ["test/training-hidden-scale.test.ts", 31],
  ["test/molecules-ctrl.test.ts", 24],
  ["test/rgdm-train.test.ts", 22],
  ["test/guidance-methods.test.ts", 22],
  ["test/molecules-finetune.test.ts", 21],
  ["test/guidance-exact.test.ts", 20],
  ["test/rcgdm-e2e.test.ts", 18],
  ["test/molecules-run.test.ts", 18],
  ["test/molecules-sample.test.ts", 17],
  ["test/playground-e2e.test.ts", 15],
  ["test/cli-resume.test.ts", 15],
  ["test/molecules-rcgdm-dft.test.ts", 14],
  ["test/playground-molecules-e2e.test.ts", 14],
  ["test/rcgdm-exact.test.ts", 14],
  ["test/ctrl-cli.test.ts", 13],
  ["test/nn-graph-transformer.test.ts", 12],
  ["test/classifier-tilt-pipeline.test.ts", 11],
  ["test/molecules-rcgdm.test.ts", 10],
  ["test/diffusion-sampler.test.ts", 10],
  ["test/ddpo.test.ts", 9],
  ["test/ddpo-molecule-memory.test.ts", 9],
  ["test/guidance-predictor.test.ts", 8],
  ["test/diffusion-structured.test.ts", 8],
  ["test/molecules-train.test.ts", 8],
  ["test/chem-metrics.test.ts", 8],
];

const secondsOf = new Map(SLOW_FILES);

export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rel = (f: TestSpecification) => f.moduleId.slice(f.moduleId.lastIndexOf("/test/") + 1);
    const slow = sorted.filter((f) => secondsOf.has(rel(f))).sort((a, b) => secondsOf.get(rel(b))! - secondsOf.get(rel(a))!);
    return [...slow, ...sorted.filter((f) => !secondsOf.has(rel(f)))];
  }
}
