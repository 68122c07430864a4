/**
 * The playground's geometry, shared by the page and the worker (no library import, so the page's own
 * script stays tiny): the view box, the painting grid and the heat map's resolution.
 */

/** The square the canvas shows, [−VIEW, VIEW]², in the models' (standardised) units. */
export const VIEW = 3;
/** Cells per side of the painting grid. */
export const GRID = 24;
/** Width Δ of a painting cell. */
export const CELL = (2 * VIEW) / GRID;
/** Pixels per side of the exact heat map. */
export const HEAT = 64;

/** The centre of painting cell `k` (row-major from the bottom-left corner). */
export function cellCenter(k: number): [number, number] {
  const i = k % GRID;
  const j = Math.floor(k / GRID);
  return [-VIEW + (i + 0.5) * CELL, -VIEW + (j + 0.5) * CELL];
}

/** The cell a point falls in, or −1 outside the view box. */
export function cellOf(x: number, y: number): number {
  const i = Math.floor((x + VIEW) / CELL);
  const j = Math.floor((y + VIEW) / CELL);
  return i >= 0 && i < GRID && j >= 0 && j < GRID ? j * GRID + i : -1;
}
