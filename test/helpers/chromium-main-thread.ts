/**
 * The main thread's long tasks with their CPU time, from a Chromium trace taken over playwright-core's
 * DevTools session (category `toplevel`: every task the renderer's main thread runs is a
 * `ThreadControllerImpl::RunTask` event with its wall time `dur` and its thread CPU time `tdur`, in µs).
 * A long task (PerformanceObserver `longtask`: wall time > 50 ms) whose CPU time is far below its wall
 * time was the thread waiting for a core, not the page computing: on an oversubscribed machine the OS
 * can deschedule the renderer mid-task.
 */
import type { Page } from "./chromium-launch.js";

const MARK = "rewardiff-trace-origin";

/** A task on the page's main thread: start on the page's clock (performance.now()), wall and CPU ms. */
export interface TracedTask {
  start: number;
  wall: number;
  cpu: number | undefined;
}

/** The main thread's tasks longer than `minMs` of wall time, and whether Chromium says it lost trace data. */
export interface MainThreadTrace {
  tasks: TracedTask[];
  dataLoss: boolean;
}

interface TraceEvent {
  ph: string;
  name: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
}

/**
 * Starts tracing `page`'s tasks; the returned function stops and returns the main thread's tasks longer than
 * `minMs` (by default 10 ms, well under the 50 ms of a long task: the observer and the trace take a task's
 * times at slightly different points, and a preemption in between can stretch one but not the other). A
 * `performance.mark` made right after the start (its trace event carries the mark's own time) puts the
 * trace's clock on the page's.
 */
export async function traceMainThread(page: Page): Promise<(minMs?: number) => Promise<MainThreadTrace>> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Tracing.start", {
    transferMode: "ReturnAsStream",
    traceConfig: { recordMode: "recordAsMuchAsPossible", includedCategories: ["toplevel", "blink.user_timing"] },
  });
  const markAt = await page.evaluate<number>(`performance.mark(${JSON.stringify(MARK)}).startTime`);
  return async (minMs = 10) => {
    const complete = new Promise<{ stream?: string; dataLossOccurred: boolean }>((resolve) => cdp.once("Tracing.tracingComplete", resolve));
    await cdp.send("Tracing.end");
    const { stream, dataLossOccurred } = await complete;
    if (!stream) throw new Error("Chromium returned no trace stream");
    const chunks: Buffer[] = [];
    for (;;) {
      const r = await cdp.send("IO.read", { handle: stream, size: 1 << 22 });
      chunks.push(Buffer.from(r.data, r.base64Encoded ? "base64" : "utf8"));
      if (r.eof) break;
    }
    await cdp.send("IO.close", { handle: stream });
    await cdp.detach();
    const raw = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { traceEvents: TraceEvent[] } | TraceEvent[];
    const events = Array.isArray(raw) ? raw : raw.traceEvents;
    const mark = events.find((e) => e.name === MARK);
    if (!mark) throw new Error(`the trace has no ${MARK} mark to put it on the page's clock`);
    const tasks = events
      .filter((e) => e.ph === "X" && e.name === "ThreadControllerImpl::RunTask" && e.pid === mark.pid && e.tid === mark.tid && e.dur! > minMs * 1000)
      .map((e) => ({ start: markAt + (e.ts - mark.ts) / 1000, wall: e.dur! / 1000, cpu: e.tdur === undefined ? undefined : e.tdur / 1000 }));
    return { tasks, dataLoss: dataLossOccurred };
  };
}

/** The traced task that is the long task starting at `start` (ms, the page's clock) lasting `duration`. */
export function tracedTaskOf(tasks: readonly TracedTask[], start: number, duration: number): TracedTask | undefined {
  // Overlapping tasks; the observer's times are coarsened to 0.1 ms. The longest one is the long task.
  const overlapping = tasks.filter((k) => k.start < start + duration + 1 && k.start + k.wall > start - 1);
  return overlapping.sort((a, b) => b.wall - a.wall)[0];
}
