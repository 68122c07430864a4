/**
 * QM9's DFT properties (B3LYP/6-31G(2df,p); data/qm9/README.md) that a molecule run can condition on
 * (reward kind "dft"; docs/molecules.md "RCGDM on a DFT property"), with the unit reported. No Node imports:
 * the config schemas read this table.
 */

/** Hartree → eV (CODATA 2018). */
export const HARTREE_EV = 27.211386245988;

/** The DFT properties a run can condition on: the file's column, the unit reported and the factor from the file's unit. */
export const QM9_DFT_PROPERTIES = {
  gap: { column: "gap", unit: "eV", factor: HARTREE_EV, name: "HOMO–LUMO gap" },
  homo: { column: "homo", unit: "eV", factor: HARTREE_EV, name: "HOMO energy" },
  lumo: { column: "lumo", unit: "eV", factor: HARTREE_EV, name: "LUMO energy" },
  alpha: { column: "alpha", unit: "Bohr³", factor: 1, name: "isotropic polarisability" },
  mu: { column: "mu", unit: "D", factor: 1, name: "dipole moment" },
  cv: { column: "cv", unit: "cal/(mol K)", factor: 1, name: "heat capacity at 298 K" },
} as const;

export type Qm9DftProperty = keyof typeof QM9_DFT_PROPERTIES;
export const QM9_DFT_PROPERTY_NAMES = Object.keys(QM9_DFT_PROPERTIES) as [Qm9DftProperty, ...Qm9DftProperty[]];
