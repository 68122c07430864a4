/**
 * Zod issues → one line: `cfg.json: task.name: expected one of "moons" | "8gaussians", got "moon"`.
 * Unknown keys are reported first (a misspelt key is usually the root cause of the other issues).
 */
import type * as z from "zod";

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

/** One line describing the most useful of the issues, prefixed by `where`. */
export function describeZodIssues(issues: readonly Issue[], where: string): string {
  const first = issues.find((i) => i.code === "unrecognized_keys") ?? issues[0];
  if (!first) return `${where}: invalid`;
  return `${where}: ${describeIssue(first, [])}`;
}

/** "path: message" for one issue (the path is prefixed by `base`, for issues nested in unions). */
export function describeIssue(issue: Issue, base: Path): string {
  const path = [...base, ...issue.path];
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "unrecognized_keys":
      return at(path, issue.message.startsWith("unknown key") ? issue.message : unknownKeysMessage(issue.keys, []));
    case "invalid_type":
      if (input === undefined) return at(path, `missing, expected ${typeName(issue.expected)}`);
      return at(path, `expected ${typeName(issue.expected)}, got ${show(input)}`);
    case "invalid_value":
      if (input === undefined) return at(path, `missing, expected ${oneOf(issue.values)}`);
      return at(path, `expected ${oneOf(issue.values)}, got ${show(input)}`);
    case "invalid_union":
      return describeUnion(issue, path, input);
    case "too_small":
      return at(path, sizeMessage(issue.origin, issue.minimum, issue.inclusive ?? true, "min", input));
    case "too_big":
      return at(path, sizeMessage(issue.origin, issue.maximum, issue.inclusive ?? true, "max", input));
    default:
      return at(path, issue.message);
  }
}

/** `unknown key "hiden" (did you mean "hidden"?)`, or the allowed keys when nothing is close. */
export function unknownKeysMessage(keys: readonly string[], known: readonly string[]): string {
  const quoted = keys.map((k) => JSON.stringify(k)).join(", ");
  const head = `unknown key${keys.length === 1 ? "" : "s"} ${quoted}`;
  if (known.length === 0) return head;
  const guesses = keys.map((k) => closest(k, known));
  if (guesses.every((g) => g !== undefined)) {
    return `${head} (did you mean ${guesses.map((g) => JSON.stringify(g)).join(", ")}?)`;
  }
  return `${head} (allowed: ${known.map((k) => JSON.stringify(k)).join(", ")})`;
}

/** The known word nearest to `word` if it is plausibly a typo of it. */
export function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

function describeUnion(issue: z.core.$ZodIssueInvalidUnion, path: Path, input: unknown): string {
  const disc = (issue as { discriminator?: string }).discriminator;
  const options = (issue as { options?: readonly unknown[] }).options;
  if (disc !== undefined && issue.errors.length === 0) {
    // A discriminated union whose discriminator matched no option; the path already ends in `disc`.
    const value = typeof input === "object" && input !== null ? (input as Record<string, unknown>)[disc] : undefined;
    const p = path[path.length - 1] === disc ? path : [...path, disc];
    const expected = options ? oneOf(options) : "a known value";
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      return at(path.slice(0, p.length - 1), `expected an object with ${JSON.stringify(disc)}, got ${show(input)}`);
    }
    return at(p, value === undefined ? `missing, expected ${expected}` : `expected ${expected}, got ${show(value)}`);
  }
  // Prefer a branch that got past the type check (its issues say what is really wrong).
  const branches = issue.errors.filter((b) => b.length > 0);
  const deep = branches.find((b) => !(b.length === 1 && b[0]!.code === "invalid_type" && b[0]!.path.length === 0));
  if (deep) {
    const first = deep.find((i) => i.code === "unrecognized_keys") ?? deep[0]!;
    return describeIssue(first, path);
  }
  const expected = branches.map((b) => typeName((b[0] as { expected: string }).expected));
  return at(path, `expected ${[...new Set(expected)].join(" or ")}, got ${show(input)}`);
}

function sizeMessage(origin: string, bound: number | bigint, inclusive: boolean, side: "min" | "max", input: unknown): string {
  if (origin === "array" || origin === "set") {
    const n = Number(bound) + (inclusive ? 0 : side === "min" ? 1 : -1);
    const items = `${n} item${n === 1 ? "" : "s"}`;
    const got = Array.isArray(input) ? `, got ${input.length}` : "";
    return side === "min" ? `needs at least ${items}${got}` : `allows at most ${items}${got}`;
  }
  if (origin === "string") {
    if (side === "min" && Number(bound) === 1 && inclusive) return "must not be empty";
    return `must have ${side === "min" ? "at least" : "at most"} ${bound} characters`;
  }
  const op = side === "min" ? (inclusive ? "≥" : ">") : inclusive ? "≤" : "<";
  return `must be ${op} ${bound}, got ${show(input)}`;
}

function at(path: Path, message: string): string {
  return path.length === 0 ? message : `${formatPath(path)}: ${message}`;
}

/** `model.schedule.betas[2]`. */
export function formatPath(path: Path): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (typeof seg === "string" && /^[A-Za-z_$][\w$-]*$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

function oneOf(values: readonly unknown[]): string {
  const shown = values.map((v) => JSON.stringify(v)).join(" | ");
  return values.length === 1 ? shown : `one of ${shown}`;
}

function typeName(expected: string): string {
  switch (expected) {
    case "int":
      return "an integer";
    case "number":
      return "a number";
    case "string":
      return "a string";
    case "boolean":
      return "true or false";
    case "object":
      return "an object";
    case "array":
      return "a list";
    default:
      return expected;
  }
}

/** A short, one-line rendering of a JSON input value. */
function show(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? v.slice(0, 60) + "…" : v);
  return String(v);
}

/** Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps cost 1. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
