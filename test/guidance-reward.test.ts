/** Rewards as plug-ins (src/rewards/reward.ts): shapes, validation, differentiability, async host rewards. */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, np, toHost, upload } from "../src/backend/index.js";
import { fromRows } from "../src/data/matrix.js";
import {
  deviceReward,
  evaluateReward,
  evaluateRewardHost,
  halfspaceIndicator,
  hostReward,
  linearRewardFn,
  requireDifferentiable,
  rewardGrad,
} from "../src/rewards/reward.js";

beforeAll(async () => {
  await ensureBackend();
});

const pts = fromRows([
  [1, 2],
  [-1, 0.5],
  [0, -3],
]);
const batch = () => upload(pts.data, 3, 2);

describe("reward plug-ins", () => {
  it("linear reward: values, gradient rows equal to b, and a clear error for the wrong dimension", async () => {
    const r = linearRewardFn([2, -1]);
    expect(Array.from(await evaluateReward(r, batch()))).toEqual([0, -2.5, 3]);
    expect(Array.from(await toHost(rewardGrad(r)(batch())))).toEqual([2, -1, 2, -1, 2, -1]);
    await expect(evaluateReward(r, upload(new Float32Array(3), 1, 3))).rejects.toThrow(/reward "linear": expected samples of shape \[n, 2\], got \[1, 3\]/);
  });

  it("host rewards may be sync or async and are validated: one finite value per sample, errors name the reward", async () => {
    const asyncR = hostReward("remote", async (x) => Array.from({ length: x.rows }, (_, i) => i * 0.5));
    expect(Array.from(await evaluateReward(asyncR, batch()))).toEqual([0, 0.5, 1]);
    const short = hostReward("short", () => [1, 2]);
    await expect(evaluateRewardHost(short, pts)).rejects.toThrow(/reward "short" returned 2 values for 3 samples/);
    const nan = hostReward("flaky", () => [1, Number.NaN, 2]);
    await expect(evaluateRewardHost(nan, pts)).rejects.toThrow(/reward "flaky" returned a non-finite value \(NaN\) for sample 2 of 3/);
    const wrongShape = deviceReward("matrix", (x) => x);
    await expect(evaluateReward(wrongShape, batch())).rejects.toThrow(/reward "matrix" returned shape \[3, 2\] for 3 samples \(expected \[3\]\)/);
    const inf = deviceReward("blowup", (x) => np.log(x.sum(1).mul(0)));
    await expect(evaluateReward(inf, batch())).rejects.toThrow(/reward "blowup" returned a non-finite value/);
  });

  it("non-differentiable rewards (host, or device marked so) are refused by gradient code with a clear error", async () => {
    const ind = halfspaceIndicator([1, 0], 0);
    expect(Array.from(await evaluateReward(ind, batch()))).toEqual([1, 0, 0]);
    expect(() => requireDifferentiable(ind, "DPS guidance")).toThrow(
      /DPS guidance needs a differentiable reward, but reward "indicator" is not differentiable \(a host\/black-box reward\); use a derivative-free method \(svdd, best-of-n\)/,
    );
    const step = deviceReward("step", (x) => np.greater(x.sum(1), 0).astype(np.float32), { differentiable: false });
    expect(() => rewardGrad(step, "target guidance")).toThrow(/target guidance needs a differentiable reward, but reward "step"/);
    expect(() => deviceReward("", (x) => x)).toThrow(/non-empty name/);
  });
});
