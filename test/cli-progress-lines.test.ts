import { PassThrough } from "node:stream";
import { expect, it } from "vitest";
import { LOG_EVERY_MS, makeProgress } from "../src/cli/progress.js";

function pipe(): { s: NodeJS.WriteStream; text: () => string } {
  const s = new PassThrough() as unknown as NodeJS.WriteStream;
  Object.assign(s, { isTTY: false });
  let text = "";
  (s as unknown as PassThrough).on("data", (c: Buffer) => (text += c.toString()));
  return { s, text: () => text };
}

it("off a terminal, progress is one plain line per LOG_EVERY_MS of work, with the rate's ETA; silent before", () => {
  const { s, text } = pipe();
  let now = 0;
  const p = makeProgress(false, s, () => now);
  p.stage("training on qm9");
  p.update("train", 101, 14000, { loss: 2.5 }); // a resumed run: starts at step 100
  now = LOG_EVERY_MS - 1;
  p.update("train", 150, 14000, { loss: 2 });
  expect(text()).toBe("");
  now = 2 * 60_000; // 2 minutes for 100 steps: 1.2 s per step
  p.update("train", 200, 14000, { loss: 1.5 });
  expect(text()).toBe("train 200/14000 loss 1.500 (2.0 min, eta 4.6 h)\n");
  p.done();
});

it("--quiet writes nothing, off a terminal too", () => {
  const { s, text } = pipe();
  let now = 0;
  const p = makeProgress(true, s, () => now);
  p.update("train", 1, 10);
  now = 10 * LOG_EVERY_MS;
  p.update("train", 10, 10);
  expect(text()).toBe("");
});
