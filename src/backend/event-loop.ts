/**
 * Giving the event loop a turn from long device loops. Device reads resolve as microtasks, so a loop of
 * `await x.data()` never lets signal handlers (Ctrl-C), timers or a browser's rendering run unless it
 * waits for a macrotask now and then: loops call {@link nextTask} every {@link YIELD_MS} milliseconds.
 */

/** How often (ms) a loop gives the event loop a turn. */
export const YIELD_MS = 100;

/**
 * Waits one turn of the event loop (a resolved promise would not let signal handlers or rendering run).
 * Node: setImmediate, which runs after the poll phase that delivers signals (a 0 ms timer can stay in the
 * timers phase when the work between two of them outlasts it); browsers: a 0 ms timer.
 */
export const nextTask = (): Promise<void> =>
  new Promise((r) => (typeof setImmediate === "function" ? setImmediate(r) : setTimeout(r, 0)));
