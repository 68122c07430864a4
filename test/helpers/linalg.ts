/** Tiny float64 linear algebra for tests (independent of the library's code). */

export function invert(a: number[][]): number[][] {
  const n = a.length;
  const m = a.map((r, i) => [...r, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const d = m[c]![c]!;
    for (let j = 0; j < 2 * n; j++) m[c]![j]! /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]!;
      for (let j = 0; j < 2 * n; j++) m[r]![j]! -= f * m[c]![j]!;
    }
  }
  return m.map((r) => r.slice(n));
}

export function sampleMoments(data: Float32Array, dim: number): { mean: number[]; cov: number[][] } {
  const n = data.length / dim;
  const mean = new Array(dim).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += data[i * dim + j]! / n;
  const cov = Array.from({ length: dim }, () => new Array(dim).fill(0));
  for (let i = 0; i < n; i++)
    for (let a = 0; a < dim; a++)
      for (let b = 0; b < dim; b++) cov[a]![b] += ((data[i * dim + a]! - mean[a]) * (data[i * dim + b]! - mean[b])) / (n - 1);
  return { mean, cov };
}

export function matmul(a: number[][], b: number[][]): number[][] {
  return a.map((r) => b[0]!.map((_, j) => r.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
}

export function transpose(a: number[][]): number[][] {
  return a[0]!.map((_, j) => a.map((r) => r[j]!));
}

export function eye(n: number, scale = 1): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? scale : 0)));
}
