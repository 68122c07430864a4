/** Parsing of numeric command-line options with one-line errors naming the option. */
import { InvalidArgumentError } from "commander";

export function intArg(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^[-+]?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${name} must be a whole number ≥ ${min}, got "${v}"`);
    }
    return n;
  };
}

export function numArg(name: string, opts: { min?: number; exclusiveMin?: boolean } = {}) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${v}"`);
    if (opts.min !== undefined && (opts.exclusiveMin ? n <= opts.min : n < opts.min)) {
      throw new InvalidArgumentError(`${name} must be ${opts.exclusiveMin ? ">" : "≥"} ${opts.min}, got ${n}`);
    }
    return n;
  };
}
