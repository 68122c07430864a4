/**
 * Host-side data: a row-major float32 matrix in a JS typed array. Data sets live here, not in the wasm
 * heap (which never shrinks); training uploads one batch at a time.
 */

/** A row-major matrix of `rows` samples with `cols` features each. */
export interface HostMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

/** Makes a matrix, checking that `data` has exactly rows × cols values. */
export function hostMatrix(rows: number, cols: number, data?: Float32Array): HostMatrix {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 1) {
    throw new Error(`a matrix needs a whole number of rows and at least one column, got ${rows}×${cols}`);
  }
  const d = data ?? new Float32Array(rows * cols);
  if (d.length !== rows * cols) throw new Error(`${d.length} values do not fill a ${rows}×${cols} matrix`);
  return { rows, cols, data: d };
}

/** A matrix from nested JS arrays (all rows the same length). */
export function fromRows(rows: readonly (readonly number[])[]): HostMatrix {
  if (rows.length === 0) throw new Error("fromRows: no rows");
  const cols = rows[0]!.length;
  const out = new Float32Array(rows.length * cols);
  rows.forEach((r, i) => {
    if (r.length !== cols) throw new Error(`fromRows: row ${i} has ${r.length} values, expected ${cols}`);
    out.set(r, i * cols);
  });
  return hostMatrix(rows.length, cols, out);
}

/** Row i as a fresh JS array. */
export function rowOf(m: HostMatrix, i: number): number[] {
  return Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols));
}

/** Rows [start, end) as a view (no copy). */
export function sliceRows(m: HostMatrix, start: number, end: number): HostMatrix {
  return hostMatrix(end - start, m.cols, m.data.subarray(start * m.cols, end * m.cols));
}

/** Gathers the given rows into a new matrix. */
export function takeRows(m: HostMatrix, index: ArrayLike<number>): HostMatrix {
  const out = new Float32Array(index.length * m.cols);
  for (let i = 0; i < index.length; i++) {
    const r = index[i]!;
    out.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols);
  }
  return hostMatrix(index.length, m.cols, out);
}

/** The rows of several matrices of the same width, one after another. */
export function concatRows(ms: readonly HostMatrix[]): HostMatrix {
  const cols = ms[0]?.cols ?? 0;
  const rows = ms.reduce((s, m) => s + m.rows, 0);
  const data = new Float32Array(rows * cols);
  let at = 0;
  for (const m of ms) {
    if (m.cols !== cols) throw new Error(`concatRows: a matrix of ${m.cols} columns among matrices of ${cols}`);
    data.set(m.data, at);
    at += m.data.length;
  }
  return hostMatrix(rows, cols, data);
}

/** Throws a one-line error naming the first non-finite value and where it is. */
export function assertFinite(m: HostMatrix, where: string): void {
  for (let i = 0; i < m.data.length; i++) {
    if (!Number.isFinite(m.data[i]!)) {
      const r = Math.floor(i / m.cols);
      const c = i % m.cols;
      throw new Error(`${where}: non-finite value ${m.data[i]} at row ${r + 1}, column ${c + 1}`);
    }
  }
}
