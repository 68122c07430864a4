/**
 * Drives headless Debian Chromium through the DevTools protocol over a pipe (`--remote-debugging-pipe`:
 * JSON messages ended by NUL on file descriptors 3 and 4), with no dependency: open a page, evaluate
 * expressions (promises awaited, values returned as JSON), send mouse events, take screenshots.
 * (playwright-core speaks the same protocol; this is the part the tests need.)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { chromium } from "./chromium-page.js";

export { chromium };

export interface ChromiumPage {
  /** Evaluates `expression` in the page (awaiting a promise) and returns its value as JSON. */
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** A mouse event at page coordinates (CSS pixels). */
  mouse(type: "mousePressed" | "mouseMoved" | "mouseReleased", x: number, y: number, opts?: { shift?: boolean }): Promise<void>;
  /** A PNG of the viewport. */
  screenshot(): Promise<Buffer>;
  /** Messages the page (or its workers) logged as errors, and uncaught exceptions. */
  errors: string[];
  close(): Promise<void>;
}

/** Launches Chromium with `args`, opens `url` and waits for its load event. */
export async function openChromiumPage(url: string, args: readonly string[] = [], opts: { width?: number; height?: number } = {}): Promise<ChromiumPage> {
  if (!chromium) throw new Error("no chromium on PATH (Debian: apt-get install chromium)");
  const profile = mkdtempSync(join(tmpdir(), "rewardiff-cdp-"));
  const child: ChildProcess = spawn(
    chromium,
    ["--headless=new", "--no-sandbox", "--remote-debugging-pipe", `--user-data-dir=${profile}`, `--window-size=${opts.width ?? 1100},${opts.height ?? 800}`, ...args, "about:blank"],
    { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"], detached: true },
  );
  const toChrome = child.stdio[3] as Writable;
  const fromChrome = child.stdio[4] as Readable;
  let nextId = 0;
  const waiting = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void; method: string }>();
  const errors: string[] = [];
  let buffered = "";
  let exited: Error | undefined;
  fromChrome.on("data", (d: Buffer) => {
    buffered += d.toString();
    let end;
    while ((end = buffered.indexOf("\0")) >= 0) {
      const msg = JSON.parse(buffered.slice(0, end)) as { id?: number; result?: Record<string, unknown>; error?: { message: string }; method?: string; params?: Record<string, any> };
      buffered = buffered.slice(end + 1);
      if (msg.id !== undefined) {
        const w = waiting.get(msg.id);
        waiting.delete(msg.id);
        if (msg.error) w?.reject(new Error(`${w.method}: ${msg.error.message}`));
        else w?.resolve(msg.result ?? {});
      } else if (msg.method === "Runtime.exceptionThrown") {
        errors.push(String(msg.params?.exceptionDetails?.exception?.description ?? msg.params?.exceptionDetails?.text));
      } else if (msg.method === "Runtime.consoleAPICalled" && msg.params?.type === "error") {
        errors.push((msg.params.args as { value?: unknown; description?: string }[]).map((a) => String(a.value ?? a.description)).join(" "));
      } else if (msg.method === "Log.entryAdded" && msg.params?.entry?.level === "error") {
        errors.push(String(msg.params.entry.text));
      }
    }
  });
  child.once("exit", (code, signal) => {
    exited = new Error(`chromium exited (${code ?? signal})`);
    for (const w of waiting.values()) w.reject(exited);
    waiting.clear();
  });
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, any>> => {
    if (exited) return Promise.reject(exited);
    const id = ++nextId;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject, method });
      toChrome.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + "\0");
    });
  };
  const close = async () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once("exit", r));
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  };
  try {
    const { targetId } = await send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = (await send("Target.attachToTarget", { targetId, flatten: true })) as { sessionId: string };
    await send("Runtime.enable", {}, sessionId);
    await send("Log.enable", {}, sessionId);
    await send("Page.enable", {}, sessionId);
    await send("Page.navigate", { url }, sessionId);
    const evaluate = async <T>(expression: string): Promise<T> => {
      const r = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }, sessionId);
      if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
      return r.result.value as T;
    };
    for (let t = 0; (await evaluate<string>("document.readyState")) !== "complete"; t++) {
      if (t > 300) throw new Error(`${url} did not finish loading in 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      evaluate,
      async mouse(type, x, y, o = {}) {
        await send("Input.dispatchMouseEvent", { type, x, y, button: "left", buttons: type === "mouseReleased" ? 0 : 1, clickCount: 1, modifiers: o.shift ? 8 : 0 }, sessionId);
      },
      async screenshot() {
        const r = await send("Page.captureScreenshot", { format: "png" }, sessionId);
        return Buffer.from(r.data as string, "base64");
      },
      errors,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
