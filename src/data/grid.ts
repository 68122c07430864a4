/**
 * A density (or any scalar field) on a grid, drawn as a heatmap under the points. `x` and `y` are the
 * strictly increasing cell centres; `z[j][i]` is the value at (x[i], y[j]) (rows follow y, as in
 * numpy's `meshgrid` default). Non-finite values leave their cell blank.
 */
export interface DensityGrid {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  z: ArrayLike<number>[];
  /** Legend title for the heatmap; default "density". */
  label?: string;
}
