/**
 * Writes data/qm9/qm9-train-canonical.txt.gz: QM9's train split as RDKit canonical SMILES without stereo (one per
 * line, sorted, RDKit's rejects left out), under a header naming the RDKit version and the split's sha256, which
 * src/chem/qm9-node.ts `qm9TrainCanonical` checks before it uses the file. Rerun it after an RDKit upgrade or a
 * change of the split:   npx tsx scripts/chem/canonical-train.ts
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { loadRDKit } from "../../src/chem/rdkit.js";
import { QM9_TRAIN_CANONICAL_FILE, qm9Dir, qm9Splits, qm9TrainCanonical, qm9TrainCanonicalHeader } from "../../src/chem/qm9-node.js";

const rdkit = await loadRDKit();
const train = qm9Splits().train;
const set = qm9TrainCanonical(rdkit, { fromFile: false });
const text = [qm9TrainCanonicalHeader(rdkit, train), ...[...set].sort()].join("\n") + "\n";
const path = join(qm9Dir(), QM9_TRAIN_CANONICAL_FILE);
writeFileSync(path, gzipSync(text, { level: 9 }));
console.log(`wrote ${path}: ${set.size} canonical SMILES of ${train.length} train molecules`);
