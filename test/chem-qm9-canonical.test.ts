/**
 * The shipped canonical train split (data/qm9/qm9-train-canonical.txt.gz, src/chem/qm9-node.ts qm9TrainCanonical):
 * written for this RDKit and this split (else the library silently recomputes it, and this test says to rerun
 * scripts/chem/canonical-train.ts), and checked against RDKit on seeded samples: every sampled train molecule's
 * canonical SMILES is in the set, and every sampled line of the file is a canonical SMILES (a fixed point).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canonicalize } from "../src/chem/metrics.js";
import { QM9_TRAIN_CANONICAL_FILE, qm9Dir, qm9Splits, qm9TrainCanonical, qm9TrainCanonicalHeader, readGzipText } from "../src/chem/qm9-node.js";
import { loadRDKit } from "../src/chem/rdkit.js";
import { mulberry32 } from "../src/data/host-rng.js";

describe("QM9's canonical train split, shipped", () => {
  it("was written for this RDKit and split, and agrees with RDKit on seeded samples", async () => {
    const rdkit = await loadRDKit();
    const train = qm9Splits().train;
    const lines = readGzipText(join(qm9Dir(), QM9_TRAIN_CANONICAL_FILE)).split("\n").filter((l) => l.length > 0);
    expect(lines[0], "rerun `npx tsx scripts/chem/canonical-train.ts`").toBe(qm9TrainCanonicalHeader(rdkit, train));
    const set = qm9TrainCanonical(rdkit);
    expect(set.size).toBe(lines.length - 1);
    const r = mulberry32(3);
    const pick = <T>(xs: readonly T[], n: number) => Array.from({ length: n }, () => xs[Math.floor(r() * xs.length)]!);
    for (const c of canonicalize(rdkit, pick(train, 400))) if (c !== null) expect(set.has(c), c).toBe(true);
    const shipped = pick(lines.slice(1), 400);
    expect(canonicalize(rdkit, shipped)).toEqual(shipped);
  });
});
