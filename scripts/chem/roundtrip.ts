/**
 * Round trip of all of QM9 through the graph encoding: encode → decode → canonical SMILES, compared with the
 * canonical SMILES of the original, with and without stereochemistry. Prints the counts and lists every
 * failure (ignoring stereo). Usage: npx tsx scripts/chem/roundtrip.ts [--out failures.csv]
 */
import { writeFileSync } from "node:fs";
import { decodeGraph, encodeSmiles, QM9_VOCABULARY } from "../../src/chem/graph.js";
import { canonicalSmiles, loadRDKit } from "../../src/chem/rdkit.js";
import { readQm9Smiles } from "../../src/chem/qm9-node.js";

const rdkit = await loadRDKit();
const all = readQm9Smiles();
let exact = 0;
let noStereo = 0;
const failures: string[] = [];
const t0 = Date.now();
for (const [i, s] of all.entries()) {
  const e = encodeSmiles(rdkit, s, QM9_VOCABULARY);
  if (!e.ok) {
    failures.push(`${i},${s},,encode: ${e.detail}`);
    continue;
  }
  const withStereo = decodeGraph(rdkit, e.graph, QM9_VOCABULARY).smiles;
  const without = decodeGraph(rdkit, e.graph, QM9_VOCABULARY, { stereo: false }).smiles;
  if (withStereo !== null && withStereo === canonicalSmiles(rdkit, s)) exact++;
  if (without !== null && without === canonicalSmiles(rdkit, s, { stereo: false })) noStereo++;
  else failures.push(`${i},${s},${without ?? ""},${without === null ? "invalid decode" : "different molecule"}`);
}
const pct = (k: number) => ((100 * k) / all.length).toFixed(3);
console.log(`QM9 round trip over ${all.length} molecules (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
console.log(`  exact (with stereo):  ${exact} (${pct(exact)}%)`);
console.log(`  ignoring stereo:      ${noStereo} (${pct(noStereo)}%)`);
console.log(`  failures ignoring stereo: ${failures.length}`);
const outIx = process.argv.indexOf("--out");
if (outIx > 0) writeFileSync(process.argv[outIx + 1]!, ["row,smiles,decoded,why", ...failures].join("\n") + "\n");
else for (const f of failures) console.log(`  ${f}`);
