/**
 * JSON text → value, with one-line errors that give the line and column of the first syntax error
 * (Node's own messages sometimes omit the position and sometimes quote the whole, multi-line input).
 */

/** Where and why a JSON text is malformed; `line` and `column` count from 1. */
export interface JsonSyntaxError {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
  readonly reason: string;
}

/** Options for {@link parseJson}. */
export interface ParseJsonOptions {
  /** Refuse objects that repeat a key (JSON.parse silently keeps the last one). Default false. */
  readonly rejectDuplicateKeys?: boolean;
}

/** Parses JSON text (a leading byte-order mark is ignored); throws `where: invalid JSON at line L column C: reason`. */
export function parseJson(text: string, where: string, options: ParseJsonOptions = {}): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    const found = locateJsonError(body);
    if (found) throw new Error(`${where}: invalid JSON at line ${found.line} column ${found.column}: ${found.reason}`, { cause: err });
    throw new Error(`${where}: invalid JSON: ${oneLine(String((err as Error).message))}`, { cause: err });
  }
  if (options.rejectDuplicateKeys) {
    const found = locateJsonError(body, true);
    if (found) throw new Error(`${where}: line ${found.line} column ${found.column}: ${found.reason}`);
  }
  return value;
}

/**
 * Finds the first syntax error of a JSON text (and, if asked, the first repeated key in an object), or
 * returns undefined if there is none.
 */
export function locateJsonError(text: string, duplicateKeys = false): JsonSyntaxError | undefined {
  const scanner = new Scanner(text, duplicateKeys);
  const problem = scanner.run();
  if (problem === undefined) return undefined;
  const { line, column } = lineColumn(text, problem.offset);
  return { offset: problem.offset, line, column, reason: problem.reason };
}

/** Line and column (from 1) of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === "\n") {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ");
}

interface Problem {
  offset: number;
  reason: string;
}

class Fail {
  constructor(readonly problem: Problem) {}
}

/** A strict recursive-descent JSON recogniser (RFC 8259) that stops at the first error. */
class Scanner {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly duplicateKeys: boolean,
  ) {}

  run(): Problem | undefined {
    try {
      this.ws();
      if (this.i >= this.s.length) this.fail("the input is empty");
      this.value(0);
      this.ws();
      if (this.i < this.s.length) this.fail(`unexpected ${this.show()} after the end of the JSON value`);
      return undefined;
    } catch (e) {
      if (e instanceof Fail) return e.problem;
      throw e;
    }
  }

  private fail(reason: string, offset = this.i): never {
    throw new Fail({ offset, reason });
  }

  private show(): string {
    if (this.i >= this.s.length) return "end of input";
    return JSON.stringify(this.s[this.i]);
  }

  private ws(): void {
    while (this.i < this.s.length && " \t\n\r".includes(this.s[this.i]!)) this.i++;
  }

  private value(depth: number): void {
    if (depth > 10_000) this.fail("nesting is too deep");
    const c = this.s[this.i];
    if (c === "{") return this.object(depth);
    if (c === "[") return this.array(depth);
    if (c === '"') return this.string();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return this.number();
    for (const word of ["true", "false", "null"]) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return;
      }
    }
    if (c === undefined) this.fail("unexpected end of input, expected a value");
    const bare = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i, this.i + 40));
    if (bare) this.fail(`unexpected word ${JSON.stringify(bare[0])}, expected a value (strings need double quotes)`);
    if (c === "'") this.fail("single quotes are not JSON, use double quotes");
    this.fail(`unexpected ${this.show()}, expected a value`);
  }

  private object(depth: number): void {
    this.i++; // {
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      return;
    }
    const keys = new Set<string>();
    for (;;) {
      this.ws();
      if (this.s[this.i] === "}") this.fail('trailing comma before "}"');
      if (this.s[this.i] !== '"') {
        if (this.i >= this.s.length) this.fail("unexpected end of input, expected a key");
        this.fail(`unexpected ${this.show()}, expected a double-quoted key`);
      }
      const keyStart = this.i;
      this.string();
      if (this.duplicateKeys) {
        const key = JSON.parse(this.s.slice(keyStart, this.i)) as string;
        if (keys.has(key)) this.fail(`duplicate key ${JSON.stringify(key)}`, keyStart);
        keys.add(key);
      }
      this.ws();
      if (this.s[this.i] !== ":") this.fail(`unexpected ${this.show()}, expected ":" after the key`);
      this.i++;
      this.ws();
      this.value(depth + 1);
      this.ws();
      const c = this.s[this.i];
      if (c === ",") {
        this.i++;
        continue;
      }
      if (c === "}") {
        this.i++;
        return;
      }
      this.fail(`unexpected ${this.show()}, expected "," or "}"`);
    }
  }

  private array(depth: number): void {
    this.i++; // [
    this.ws();
    if (this.s[this.i] === "]") {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] === "]") this.fail('trailing comma before "]"');
      this.value(depth + 1);
      this.ws();
      const c = this.s[this.i];
      if (c === ",") {
        this.i++;
        continue;
      }
      if (c === "]") {
        this.i++;
        return;
      }
      this.fail(`unexpected ${this.show()}, expected "," or "]"`);
    }
  }

  private string(): void {
    const start = this.i;
    this.i++; // opening quote
    for (;;) {
      if (this.i >= this.s.length) this.fail("unterminated string", start);
      const c = this.s.charCodeAt(this.i);
      if (c === 0x22) {
        this.i++;
        return;
      }
      if (c < 0x20) this.fail("control character (e.g. a raw line break) inside a string");
      if (c === 0x5c) {
        const e = this.s[this.i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(this.s.slice(this.i + 2, this.i + 6))) this.fail("bad \\u escape in a string");
          this.i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) this.fail(`bad escape "\\${e ?? ""}" in a string`);
        this.i += 2;
        continue;
      }
      this.i++;
    }
  }

  private number(): void {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.s.slice(this.i, this.i + 400));
    const start = this.i;
    if (!m) this.fail("malformed number", start);
    this.i += m[0].length;
    const next = this.s[this.i];
    if (next !== undefined && /[0-9.eE+-]/.test(next)) this.fail("malformed number", start);
  }
}

/**
 * Checks that a value survives JSON.stringify → JSON.parse unchanged (plain objects, arrays, strings,
 * finite numbers, booleans, null; object properties that are undefined are left out); throws
 * `where.path: …` naming the first offending entry.
 */
export function checkJsonValue(value: unknown, where: string): void {
  check(value, where, new Set());
}

function check(value: unknown, where: string, open: Set<object>): void {
  const t = typeof value;
  if (value === null || t === "string" || t === "boolean") return;
  if (t === "number") {
    if (!Number.isFinite(value)) throw new Error(`${where}: ${value} is not representable in JSON`);
    return;
  }
  if (t !== "object") throw new Error(`${where}: ${t === "undefined" ? "undefined" : `a ${t}`} is not representable in JSON`);
  const obj = value as object;
  if (open.has(obj)) throw new Error(`${where}: circular reference, not representable in JSON`);
  open.add(obj);
  if (Array.isArray(obj)) {
    obj.forEach((v, i) => check(v, `${where}[${i}]`, open));
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      throw new Error(`${where}: a ${obj.constructor?.name ?? "non-plain object"} is not representable in JSON`);
    }
    for (const [k, v] of Object.entries(obj)) {
      if (v !== undefined) check(v, `${where}.${k}`, open); // undefined properties are simply left out
    }
  }
  open.delete(obj);
}
