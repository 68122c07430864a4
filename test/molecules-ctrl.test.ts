/**
 * CTRL on the shipped QM9 model (src/runners/molecule-ctrl.ts, issue 13 §3):
 *  - zero-init: the shipped graph transformer augmented with the control E_y (CTRL's initial θ, trainable
 *    "all", "embedding" and "control", the last with zero-initialised per-layer paths U_l) predicts exactly the pretrained ε on graph rows for y = 0, 1 and ∅, and samples
 *    the same molecules under the same key; a non-zero E_y does change the prediction (the check can fail);
 *  - the chain gradient w.r.t. E_y on graph rows (the graph noise hook) against a central finite difference;
 *  - a tiny end-to-end run: every row's oracle labels, accuracy and macro-F1 recomputed independently from its
 *    SMILES with RDKit's own ring count (an invalid molecule a miss);
 *  - the reject class (`classifier.reject`): its rows are exactly the redrawn pretrained samples that RDKit cannot
 *    parse or that have more than one fragment, and the label columns CTRL and DPS maximise are log p̂(y | x)
 *    normalised over all three classes (compared with the float64 softmax of the classifier's logits).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, tree } from "../src/backend/index.js";
import { toHost } from "../src/backend/ownership.js";
import { loadRDKit } from "../src/chem/rdkit.js";
import { generateWithEps } from "../src/diffusion/generate.js";
import { modelEps } from "../src/diffusion/model.js";
import { effectiveParams, initTrainable, oneHot, policyNetwork, type PolicySpec } from "../src/finetune/policy.js";
import { loadModel } from "../src/io/checkpoints/model-files.js";
import { disposeLoadedModel } from "../src/io/checkpoints/model.js";
import type { DenoiserParams } from "../src/nn/denoiser.js";
import { parseMoleculeCtrlConfig } from "../src/runners/molecule-ctrl-config.js";
import { controlEps, labelColumns, runMoleculeCtrl } from "../src/runners/molecule-ctrl.js";
import { decodeMoleculeRows, moleculeVocabulary, resolveModelPath } from "../src/runners/molecule-sampling.js";
import { classifierLogProbs, classifierProbs, fitClassifier } from "../src/rewards/classifier.js";
import { hostMatrix } from "../src/data/matrix.js";
import { upload } from "../src/backend/ownership.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { noiseHookOf } from "../src/diffusion/noise-space.js";
import { samplerPlan } from "../src/diffusion/sample.js";
import { makeChain, type ChainObjective } from "../src/finetune/chain.js";
import { denoiserChainModel, type TrainableParams } from "../src/finetune/policy.js";
import { paramsFromHost, paramsToHost } from "../src/nn/params.js";

beforeAll(ensureBackend);

describe("molecules-ctrl", () => {
  it("the control added to the shipped QM9 model is exactly the pretrained model at step 0 (graph rows)", async () => {
    const loaded = loadModel(resolveModelPath("qm9"));
    try {
      const model = loaded.meta.model;
      const D = model.network.dataDim;
      const pre = modelEps(model, loaded.ema);
      const schedule = makeSchedule(model.schedule);
      const n = 6;
      const x = np.array(Float32Array.from({ length: n * D }, (_, i) => Math.sin(i * 0.37) * 1.3), { shape: [n, D] });
      const times = [1, 200, 700, 999].map((index) => ({ index, alphaBar: schedule.alphaBars[index]! }));
      const want = await Promise.all(times.map((t) => toHost(pre(x.ref, t))));
      for (const mode of ["all", "embedding", "control"] as const) {
        const spec: PolicySpec = { model, mode, rank: 1, controlClasses: 2 };
        const eff = effectiveParams(initTrainable(spec, loaded.ema, keyFromSeed(3)), { base: tree.ref(loaded.ema) as DenoiserParams });
        const net = policyNetwork(spec);
        for (const y of [0, 1, 2]) {
          const eps = controlEps(model, net, eff, (rows) => oneHot(new Int32Array(rows).fill(y), 2));
          for (const [k, t] of times.entries()) expect(Array.from(await toHost(eps(x.ref, t)))).toEqual(Array.from(want[k]!));
        }
        // Same key, same molecules (the molecule sampler, graph noise space).
        const a = await generateWithEps(controlEps(model, net, eff, (rows) => oneHot(new Int32Array(rows).fill(1), 2)), model, { sampler: "ddpm", steps: 5, eta: 1 }, 4, keyFromSeed(9));
        const b = await generateWithEps(pre, model, { sampler: "ddpm", steps: 5, eta: 1 }, 4, keyFromSeed(9));
        expect(Array.from(a.data)).toEqual(Array.from(b.data));
        tree.dispose(eff);
      }
      // "control": the policy's spec adds the control before every layer, the reference's does not, and only E_y
      // and the per-layer tables E_l train.
      {
        const spec: PolicySpec = { model, mode: "control", rank: 1, controlClasses: 2 };
        const p = initTrainable(spec, loaded.ema, keyFromSeed(3));
        expect(Object.keys(p).sort()).toEqual(["control", "layerControl"]);
        expect(p.layerControl).toHaveLength((model.network as { layers: number }).layers);
        expect((policyNetwork(spec) as { control?: { everyLayer?: boolean } }).control?.everyLayer).toBe(true);
        expect((model.network as { control?: unknown }).control).toBeUndefined();
        // A non-zero row of E_2 for y = 1 moves the prediction for y = 1 and leaves y = 0's unchanged.
        // (not a constant row: a shift shared by every feature would vanish in the layer norm)
        const t0 = p.layerControl![2]!.table;
        const [rows, cols] = t0.shape as [number, number];
        p.layerControl![2]!.table = np.array(Float32Array.from({ length: rows * cols }, (_, i) => (Math.floor(i / cols) === 1 ? 0.05 * Math.sin(1.7 * i + 0.2) : 0)), { shape: [rows, cols] });
        t0.dispose();
        const eff = effectiveParams(p, { base: tree.ref(loaded.ema) as DenoiserParams });
        const at = (y: number) => toHost(controlEps(model, policyNetwork(spec), eff, (r) => oneHot(new Int32Array(r).fill(y), 2))(x.ref, times[1]!));
        const moved = await at(1);
        expect(Math.max(...Array.from(moved, (v, i) => Math.abs(v - want[1]![i]!)))).toBeGreaterThan(1e-3);
        expect(Array.from(await at(0))).toEqual(Array.from(want[1]!));
        tree.dispose(eff);
        // Refused where it has no meaning: without a control (DRaFT) and on an MLP.
        expect(() => initTrainable({ model, mode: "control", rank: 1 }, loaded.ema, keyFromSeed(4))).toThrow(/trainable "control"/);
      }
      // A non-zero control moves the prediction (so the equality above is not vacuous).
      const spec: PolicySpec = { model, mode: "embedding", rank: 1, controlClasses: 2 };
      const p = initTrainable(spec, loaded.ema, keyFromSeed(3));
      p.control!.table.dispose();
      p.control = { table: np.ones([3, model.network.hidden]).mul(0.5) };
      const eff = effectiveParams(p, { base: tree.ref(loaded.ema) as DenoiserParams });
      const moved = await toHost(controlEps(model, policyNetwork(spec), eff, (rows) => oneHot(new Int32Array(rows).fill(0), 2))(x.ref, times[1]!));
      expect(Math.max(...Array.from(moved, (v, i) => Math.abs(v - want[1]![i]!)))).toBeGreaterThan(1e-3);
      tree.dispose(eff);
      x.dispose();
    } finally {
      disposeLoadedModel(loaded);
    }
  });

  it("the chain gradient w.r.t. the control E_y on graph rows matches a central finite difference", async () => {
    // The CTRL chain (src/finetune/chain.ts) on the shipped QM9 model, trainable "embedding", the graph noise
    // hook, a fixed linear objective and KL weight 1; E_y starts away from 0. The loss with the same noise key is a
    // deterministic function of E_y, so its central difference along ĝ = ∇/‖∇‖ must equal ‖∇‖.
    const loaded = loadModel(resolveModelPath("qm9"));
    const model = loaded.meta.model;
    const D = model.network.dataDim;
    const schedule = makeSchedule(model.schedule);
    const plan = samplerPlan(schedule, { sampler: "ddpm", steps: 4, eta: 1 });
    const b = np.array(Float32Array.from({ length: D }, (_, i) => Math.sin(0.7 * i + 0.3) * 0.5), { shape: [D, 1] });
    const objective: ChainObjective = (x, aux) => {
      for (const a of aux) a.dispose();
      return np.matmul(x.reshape([x.shape[0]!, D]), b.ref).reshape([-1]);
    };
    const spec: PolicySpec = { model, mode: "embedding", rank: 1, controlClasses: 2 };
    const p0 = initTrainable(spec, loaded.ema, keyFromSeed(1));
    const host = await paramsToHost(p0);
    for (const t of host.values()) for (let i = 0; i < t.data.length; i++) t.data[i] = 0.3 * Math.sin(i + 1);
    const p = paramsFromHost(p0, host, "start");
    tree.dispose(p0);
    const f = { base: tree.ref(loaded.ema) as DenoiserParams };
    const noise = noiseHookOf(model.noise);
    const chain = makeChain(denoiserChainModel(spec), objective, plan, schedule.T, D, { objectiveScale: 1, klWeight: 1, ...(noise ? { noise } : {}) }, "test");
    const y = Int32Array.from([0, 1, 0, 1]);
    const lossAt = (q: TrainableParams) => chain.lossAndGrad(q, f, [oneHot(y, 2)], [], y.length, keyFromSeed(11));
    try {
      const g = await lossAt(p);
      const gh = await paramsToHost(g.grads);
      tree.dispose(g.grads);
      const norm = Math.hypot(...[...gh.values()].flatMap((t) => Array.from(t.data)));
      expect(g.kl).toBeGreaterThan(1e-3);
      expect(norm).toBeGreaterThan(1e-2);
      // The step is chosen where round-off, not curvature, limits the difference: on the 14,000-step model the
      // central difference was 0.360, 0.343, 0.331, 0.340, 0.348, 0.354 at h = 0.001, 0.0025, 0.005, 0.01, 0.02,
      // 0.04 against ‖∇‖ = 0.3549 — scattered, not converging, as h shrinks (the float32 chain loss is ≈ −0.30 and
      // its round-off ≈ 2e-4), so the largest h is the most accurate.
      const h = 4e-2;
      const at = async (sign: number) => {
        const q = paramsFromHost(p, new Map([...host].map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(t.data, (v, i) => v + (sign * h * gh.get(k)!.data[i]!) / norm) }])), "fd");
        const r = await lossAt(q);
        tree.dispose(r.grads);
        tree.dispose(q);
        return r.loss;
      };
      const fd = ((await at(1)) - (await at(-1))) / (2 * h);
      // Measured on the 14,000-step model: 0.3539 against ‖∇‖ = 0.3549 (0.3%); on the 10,000-step one at h = 0.01,
      // 0.57825 against 0.57239 (1.0%).
      expect(Math.abs(fd - norm)).toBeLessThan(0.02 * norm);
    } finally {
      chain.dispose();
      tree.dispose(p);
      tree.dispose(f);
      b.dispose();
      disposeLoadedModel(loaded);
    }
  });

  it("a tiny end-to-end run: the table's accuracy is RDKit's ring count of the decoded molecules", async () => {
    const cfg = parseMoleculeCtrlConfig(
      {
        labelled: 128,
        label: { property: "rings", atLeast: 2 },
        classifier: { steps: 30, hidden: 16, permutations: 2 },
        ctrl: { steps: 1, batchSize: 2, truncation: 2 },
        methods: ["none", "ctrl"],
        sampling: { steps: 8, samples: 6 },
        evaluation: { referenceSize: 40 },
      },
      "test",
    );
    const r = await runMoleculeCtrl(cfg);
    const rdkit = await loadRDKit();
    const rings = (s: string | null): number | null => {
      if (s === null) return null;
      const mol = rdkit.get_mol(s);
      if (!mol) return null;
      try {
        return (JSON.parse(mol.get_descriptors()) as { NumRings: number }).NumRings;
      } finally {
        mol.delete();
      }
    };
    expect(r.rows.map((x) => x.method)).toEqual(["none", "ctrl"]);
    for (const row of r.rows) {
      let correct = 0;
      const tp = [0, 0];
      const fp = [0, 0];
      const fn = [0, 0];
      for (const p of row.perLabel) {
        expect(p.smiles).toHaveLength(6);
        for (const [i, s] of p.smiles.entries()) {
          const count = rings(s);
          const oracle = count === null ? null : count >= 2 ? 1 : 0;
          expect(p.oracle[i]).toBe(oracle);
          const predicted = oracle ?? 1 - p.y;
          if (predicted === p.y) {
            correct++;
            tp[p.y]!++;
          } else {
            fn[p.y]!++;
            fp[predicted]!++;
          }
        }
        expect(p.validity).toBeCloseTo(p.smiles.filter((s) => rings(s) !== null).length / 6, 12);
      }
      expect(row.accuracy).toBeCloseTo(correct / 12, 12);
      const f1 = [0, 1].map((k) => (2 * tp[k]!) / (2 * tp[k]! + fp[k]! + fn[k]!)).filter((v) => Number.isFinite(v));
      expect(row.macroF1).toBeCloseTo(f1.reduce((a, b) => a + b, 0) / f1.length, 12);
    }
  });

  it("the policy-gradient estimator runs end to end on graph rows (KL 0 in its first round, both labels' objectives per round) and refuses the bounded reward", async () => {
    const input = {
      labelled: 128,
      label: { property: "rings", atLeast: 2 },
      classifier: { steps: 30, hidden: 16, permutations: 2 },
      ctrl: { steps: 2, batchSize: 4, learningRate: 1e-3, trainable: "control", estimator: "policy-gradient", policyGradient: { minibatches: 2 } },
      methods: ["ctrl"],
      sampling: { steps: 8, samples: 4 },
      evaluation: { referenceSize: 40 },
    };
    const r = await runMoleculeCtrl(parseMoleculeCtrlConfig(input, "test"));
    const row = r.rows[0]!;
    expect(row.label).toMatch(/policy gradient/);
    const hist = row.details.history as { step: number; objective: number; kl: number; objectiveByLabel: number[]; clipFraction: number }[];
    expect(hist.map((h) => h.step)).toEqual([1, 2]);
    expect(hist[0]!.kl).toBe(0);
    for (const h of hist) {
      // log p̂ ≤ 0, the round's mean the mean of the two labels' (two chains each).
      expect(h.objective).toBeLessThanOrEqual(0);
      expect(h.objective).toBeCloseTo((h.objectiveByLabel[0]! + h.objectiveByLabel[1]!) / 2, 5);
    }
    expect(() => parseMoleculeCtrlConfig({ ...input, ctrl: { ...input.ctrl, reward: "prob" } }, "cfg.json")).toThrow(/cfg\.json: ctrl\.reward: reward "prob" applies to the pathwise estimator/);
  });

  it("the reject class holds the pretrained samples RDKit rejects, and CTRL/DPS read log p̂(y | x) over all three classes (graph-feature input of the snapped row)", async () => {
    const cfg = parseMoleculeCtrlConfig(
      {
        seed: 3,
        labelled: 128,
        label: { property: "rings", atLeast: 2 },
        classifier: { steps: 30, hidden: 16, permutations: 2, reject: { samples: 40 }, input: "graph-features", snap: true },
        ctrl: { steps: 1, batchSize: 2, truncation: 2 },
        dps: { start: 0.5, batch: 6 },
        methods: ["none", "ctrl", "dps"],
        sampling: { steps: 8, samples: 6 },
        evaluation: { referenceSize: 40 },
      },
      "test",
    );
    const r = await runMoleculeCtrl(cfg);
    expect(r.rows.map((x) => x.method)).toEqual(["none", "ctrl", "dps"]);
    // Redraw the reject class's samples (the pretrained sampler under seed + 17) and classify them with RDKit itself.
    const rdkit = await loadRDKit();
    const loaded = loadModel(resolveModelPath("qm9", "test"));
    try {
      const model = loaded.meta.model;
      const x = await generateWithEps(modelEps(model, loaded.ema), model, { sampler: cfg.sampling.sampler, steps: 8, eta: cfg.sampling.eta }, 40, keyFromSeed(cfg.seed + 17));
      let invalid = 0;
      let fragmented = 0;
      for (const m of decodeMoleculeRows(rdkit, x, moleculeVocabulary(loaded.meta, "test"))) {
        const mol = m.smiles === null ? null : rdkit.get_mol(m.smiles);
        if (!mol) {
          invalid++;
          continue;
        }
        // More than one connected component: RDKit's own fragment count.
        const frags = mol.get_frags() as { molList: { size(): number; delete(): void } };
        if (frags.molList.size() > 1) fragmented++;
        frags.molList.delete();
        mol.delete();
      }
      const reject = r.classifier.reject!;
      expect(reject.samples).toBe(40);
      expect(reject.invalid).toBe(invalid);
      expect(reject.fragmented).toBe(fragmented);
      expect(reject.rows).toBe(invalid + fragmented);
      expect(reject.fitted + (reject.heldOut?.n ?? 0)).toBe(reject.rows);
      expect(reject.rows).toBeGreaterThan(0);
    } finally {
      disposeLoadedModel(loaded);
    }
  });

  it("labelColumns: the first K columns of log p̂ over all classes, each row's exp summing below 1", async () => {
    const n = 64;
    const D = 8;
    const xs = new Float32Array(n * D);
    const ys = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      ys[i] = i % 3;
      for (let j = 0; j < D; j++) xs[i * D + j] = Math.sin(1.3 * i + 0.7 * j) + (j === ys[i] ? 1.5 : 0);
    }
    const cls = await fitClassifier(hostMatrix(n, D, xs), ys, { classes: 3, hidden: 8, steps: 40 }, keyFromSeed(5));
    const lp = await toHost(labelColumns(classifierLogProbs(cls), 3, 2)(upload(xs, n, D)));
    const p = await classifierProbs(cls, hostMatrix(n, D, xs));
    for (let i = 0; i < n; i++) {
      expect(lp[2 * i]!).toBeCloseTo(Math.log(p[3 * i]!), 4);
      expect(lp[2 * i + 1]!).toBeCloseTo(Math.log(p[3 * i + 1]!), 4);
      expect(Math.exp(lp[2 * i]!) + Math.exp(lp[2 * i + 1]!)).toBeCloseTo(1 - p[3 * i + 2]!, 4);
    }
    expect(Math.max(...Array.from({ length: n }, (_, i) => p[3 * i + 2]!))).toBeGreaterThan(0.05);
  });
});
