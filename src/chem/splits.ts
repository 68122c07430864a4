/**
 * Fixed, seeded train/validation/test splits of a dataset's row indices: a Fisher–Yates shuffle of
 * 0..n−1 driven by the host generator mulberry32(seed) (src/data/host-rng.ts), cut into consecutive
 * blocks. Pure and deterministic: the same n, fractions and seed give the same split on every machine.
 */
import { mulberry32 } from "../data/host-rng.js";

/** Row indices of each split, each sorted ascending. */
export interface Splits {
  readonly train: number[];
  readonly validation: number[];
  readonly test: number[];
}

/** Options of `splitIndices`: the validation and test fractions (of n, rounded) and the shuffle seed. */
export interface SplitOptions {
  readonly validation?: number;
  readonly test?: number;
  readonly seed?: number;
}

/** The default split: 10% validation, 10% test, seed 12 (docs/molecules.md lists the QM9 sizes). */
export const DEFAULT_SPLIT = { validation: 0.1, test: 0.1, seed: 12 } as const;

/** Splits 0..n−1 into train/validation/test by a seeded shuffle (test = round(n·test), validation likewise). */
export function splitIndices(n: number, options: SplitOptions = {}): Splits {
  const { validation, test, seed } = { ...DEFAULT_SPLIT, ...options };
  if (!(validation >= 0 && test >= 0 && validation + test < 1)) {
    throw new Error(`split fractions must be ≥ 0 with validation + test < 1, got validation ${validation}, test ${test}`);
  }
  const order = Array.from({ length: n }, (_, i) => i);
  const rand = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const nTest = Math.round(n * test);
  const nVal = Math.round(n * validation);
  const byIndex = (a: number, b: number) => a - b;
  return {
    test: order.slice(0, nTest).sort(byIndex),
    validation: order.slice(nTest, nTest + nVal).sort(byIndex),
    train: order.slice(nTest + nVal).sort(byIndex),
  };
}
