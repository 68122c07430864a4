/**
 * One-hot training targets of graph rows (docs/molecules.md "Runs", fine-tuning). The molecule model is
 * trained with the cross-entropy of one-hot blocks (src/nn/categorical.ts), so a row a method regresses
 * toward (RWR's model samples, RGDM's chosen candidates: points of the simplex, or off it) must be one-hot.
 * `snapGraphRows` replaces each row by the one-hot row of its argmax decoding — the molecule the oracle
 * rewards (src/chem/graph.ts `graphToMolblock`): per node the argmax element or "no atom", per atom its
 * argmax charge, per pair i < j the argmax bond of the upper triangle, mirrored to (j, i); "no bond" on the
 * diagonal and at every pair with a "no atom" node, whose charge is 0 (as `encodeTopology` pads a molecule).
 * Decoding the snapped row gives the same molecule; it is the row the data encoding would give it.
 */
import { graphShape, graphRowLength, type GraphVocabulary } from "../chem/graph.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";

/** Index of the largest of a[offset .. offset + width) (the first on ties, as the decoding takes). */
function argmax(a: ArrayLike<number>, offset: number, width: number): number {
  let best = 0;
  for (let k = 1; k < width; k++) if (a[offset + k]! > a[offset + best]!) best = k;
  return best;
}

/** The one-hot row of each row's argmax decoding (see the module doc). Pure: returns a new matrix. */
export function snapGraphRows(x: HostMatrix, vocab: GraphVocabulary): HostMatrix {
  const D = graphRowLength(vocab);
  if (x.cols !== D) throw new Error(`snap: graph rows of maxAtoms ${vocab.maxAtoms} hold ${D} values, got ${x.cols}`);
  const n = vocab.maxAtoms;
  const { nodeFeatures: F, chargeFeatures: C, edgeFeatures: E } = graphShape(vocab);
  const chargeAt = n * F;
  const edgeAt = chargeAt + n * C;
  const out = new Float32Array(x.rows * D);
  const atom = new Array<boolean>(n);
  for (let r = 0; r < x.rows; r++) {
    const row = x.data.subarray(r * D, (r + 1) * D);
    const o = r * D;
    for (let i = 0; i < n; i++) {
      const a = argmax(row, i * F, F);
      atom[i] = a !== F - 1;
      out[o + i * F + a] = 1;
      out[o + chargeAt + i * C + (atom[i] ? argmax(row, chargeAt + i * C, C) : 0)] = 1;
    }
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        const b = j > i && atom[i] && atom[j] ? argmax(row, edgeAt + (i * n + j) * E, E) : 0;
        out[o + edgeAt + (i * n + j) * E + b] = 1;
        if (j > i) out[o + edgeAt + (j * n + i) * E + b] = 1;
      }
    }
  }
  return hostMatrix(x.rows, D, out);
}
