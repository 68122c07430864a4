/**
 * The main thread's long tasks with their CPU time, from a Chromium trace taken through playwright-core
 * (`browser.startTracing`, category `toplevel`: every task the renderer's main thread runs is a
 * `ThreadControllerImpl::RunTask` event with its wall time `dur` and its thread CPU time `tdur`, in µs).
 * A long task (PerformanceObserver `longtask`: wall time > 50 ms) whose CPU time is far below its wall
 * time was the thread waiting for a core, not the page computing: on an oversubscribed machine the OS
 * can deschedule the renderer mid-task.
 */
import type { Browser, Page } from "./chromium-launch.js";

const MARK = "rewardiff-trace-origin";

/** A task on the page's main thread: start on the page's clock (performance.now()), wall and CPU ms. */
export interface TracedTask {
  start: number;
  wall: number;
  cpu: number | undefined;
}

interface TraceEvent {
  ph: string;
  name: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string };
}

/**
 * Starts tracing `page`'s tasks; the returned function stops and gives the page's main-thread tasks longer
 * than `minMs` of wall time. A `performance.mark` made right after the start puts the trace's clock on
 * the page's.
 */
export async function traceMainThread(browser: Browser, page: Page): Promise<(minMs?: number) => Promise<TracedTask[]>> {
  await browser.startTracing(page, { categories: ["toplevel", "blink.user_timing"] });
  const markAt = await page.evaluate<number>(`performance.mark(${JSON.stringify(MARK)}).startTime`);
  return async (minMs = 50) => {
    const raw = JSON.parse((await browser.stopTracing()).toString()) as { traceEvents: TraceEvent[] } | TraceEvent[];
    const events = Array.isArray(raw) ? raw : raw.traceEvents;
    const mark = events.find((e) => e.name === MARK);
    if (!mark) throw new Error(`the trace has no ${MARK} mark to put it on the page's clock`);
    return events
      .filter((e) => e.ph === "X" && e.name === "ThreadControllerImpl::RunTask" && e.pid === mark.pid && e.tid === mark.tid && e.dur! > minMs * 1000)
      .map((e) => ({ start: markAt + (e.ts - mark.ts) / 1000, wall: e.dur! / 1000, cpu: e.tdur === undefined ? undefined : e.tdur / 1000 }));
  };
}
