/** Orthonormal columns on the host in float64 (used by the low-rank network in nn/ and by tasks/). */

/**
 * Orthonormalises the columns of a rows×cols matrix (row-major) by modified Gram–Schmidt applied
 * twice (numerically orthonormal to float64 precision): the Q of a thin QR decomposition.
 */
export function orthonormalColumns(g: ArrayLike<number>, rows: number, cols: number): Float64Array {
  if (cols > rows) throw new Error(`cannot orthonormalise ${cols} columns in ${rows} dimensions`);
  const q = Float64Array.from(g);
  for (let j = 0; j < cols; j++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        let dot = 0;
        for (let i = 0; i < rows; i++) dot += q[i * cols + k]! * q[i * cols + j]!;
        for (let i = 0; i < rows; i++) q[i * cols + j]! -= dot * q[i * cols + k]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < rows; i++) norm += q[i * cols + j]! ** 2;
    norm = Math.sqrt(norm);
    if (!(norm > 1e-12)) throw new Error(`column ${j + 1} is linearly dependent on the previous ones`);
    for (let i = 0; i < rows; i++) q[i * cols + j]! /= norm;
  }
  return q;
}
