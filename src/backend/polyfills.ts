/**
 * Node 20 lacks two things @jax-js/jax 0.1.25 touches at run time (design.md, "Facts to build on"):
 * a `Float16Array` global (an `instanceof Float16Array` check throws without one) and the
 * Iterator helpers (`.map`, `.filter`, `.toArray` on iterators; einsum uses them).
 * This module must be evaluated before jax-js runs; `./jax.ts` imports it first.
 * Every polyfill is installed only where the platform has none, so browsers and newer Node are untouched.
 */

const g = globalThis as Record<string, unknown>;
if (typeof g.Float16Array === "undefined") {
  // Never constructed by our code paths (we use float32/float64); it exists for `instanceof` checks.
  g.Float16Array = class Float16ArrayPolyfill {};
}

/* eslint-disable @typescript-eslint/no-this-alias -- generator closures need the receiver */
type IterFn = (this: Iterator<unknown>, ...args: any[]) => unknown;

const iteratorPrototype: Record<string, unknown> = Object.getPrototypeOf(
  Object.getPrototypeOf([][Symbol.iterator]()),
);

function* iterate(it: Iterator<unknown>): Generator<unknown> {
  for (let r = it.next(); !r.done; r = it.next()) yield r.value;
}

const helpers: Record<string, IterFn> = {
  map(fn: (v: unknown, i: number) => unknown) {
    const it = this;
    return (function* () {
      let i = 0;
      for (const v of iterate(it)) yield fn(v, i++);
    })();
  },
  filter(fn: (v: unknown, i: number) => boolean) {
    const it = this;
    return (function* () {
      let i = 0;
      for (const v of iterate(it)) if (fn(v, i++)) yield v;
    })();
  },
  flatMap(fn: (v: unknown, i: number) => Iterable<unknown>) {
    const it = this;
    return (function* () {
      let i = 0;
      for (const v of iterate(it)) yield* fn(v, i++);
    })();
  },
  toArray() {
    return [...iterate(this)];
  },
  forEach(fn: (v: unknown, i: number) => void) {
    let i = 0;
    for (const v of iterate(this)) fn(v, i++);
  },
  some(fn: (v: unknown, i: number) => boolean) {
    let i = 0;
    for (const v of iterate(this)) if (fn(v, i++)) return true;
    return false;
  },
  every(fn: (v: unknown, i: number) => boolean) {
    let i = 0;
    for (const v of iterate(this)) if (!fn(v, i++)) return false;
    return true;
  },
  reduce(fn: (acc: unknown, v: unknown, i: number) => unknown, ...init: unknown[]) {
    let i = 0;
    let acc: unknown;
    let started = init.length > 0;
    if (started) acc = init[0];
    for (const v of iterate(this)) {
      if (!started) {
        acc = v;
        started = true;
      } else acc = fn(acc, v, i);
      i++;
    }
    if (!started) throw new TypeError("Reduce of empty iterator with no initial value");
    return acc;
  },
};

for (const [name, fn] of Object.entries(helpers)) {
  if (typeof iteratorPrototype[name] !== "function") {
    Object.defineProperty(iteratorPrototype, name, { value: fn, writable: true, configurable: true });
  }
}

export {};
