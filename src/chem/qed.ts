/**
 * QED, the quantitative estimate of drug-likeness (Bickerton, Paolini, Besnard, Muresan, Hopkins, "Quantifying
 * the chemical beauty of drugs", Nature Chemistry 4, 90–98, 2012), as RDKit's rdkit/Chem/QED.py computes it.
 *
 * Eight properties x_k — MW, ALOGP, HBA, HBD, PSA, ROTB, AROM, ALERTS — are each mapped by an asymmetric
 * double sigmoid (ADS) desirability
 *   d(x) = [a + b / (1 + exp(−(x − c + d/2)/e)) · (1 − 1 / (1 + exp(−(x − c − d/2)/f)))] / dmax,
 * and QED is their weighted geometric mean, QED = exp(Σ_k w_k ln d_k / Σ_k w_k), with the paper's mean
 * weights. The descriptors come from RDKit MinimalLib, defined as QED.py defines them:
 * - MW: average molecular weight (`amw`), ALOGP: Wildman–Crippen logP, PSA: TPSA (N, O),
 *   HBD: RDKit's NumHBD, ROTB: RDKit's strict rotatable bonds;
 * - HBA: the number of atoms matching each acceptor SMARTS, summed over the patterns;
 * - AROM: the number of SSSR rings left after deleting the atoms that match `[$([A;R][!a])]` (aliphatic
 *   ring atoms with a non-aromatic neighbour). The SSSR size of a graph is its cycle rank
 *   E − V + (connected components), computed here on the remaining atoms;
 * - ALERTS: the number of structural-alert SMARTS present at least once.
 * The SMARTS tables are RDKit's (QED.py); docs/molecules.md gives the measured agreement with it.
 */
import { descriptors, hasSubstruct, substructMatches } from "./descriptors.js";
import type { Mol, RDKit } from "./rdkit.js";

/** The eight QED properties, in the paper's order. */
export interface QedProperties {
  readonly MW: number;
  readonly ALOGP: number;
  readonly HBA: number;
  readonly HBD: number;
  readonly PSA: number;
  readonly ROTB: number;
  readonly AROM: number;
  readonly ALERTS: number;
}

type Ads = readonly [a: number, b: number, c: number, d: number, e: number, f: number, dmax: number];

/** ADS parameters (a, b, c, d, e, f, dmax) per property (Bickerton et al. 2012, as tabulated in QED.py). */
const ADS: Record<keyof QedProperties, Ads> = {
  MW: [2.817065973, 392.5754953, 290.7489764, 2.419764353, 49.22325677, 65.37051707, 104.9805561],
  ALOGP: [3.172690585, 137.8624751, 2.534937431, 4.581497897, 0.822739154, 0.576295591, 131.3186604],
  HBA: [2.948620388, 160.4605972, 3.615294657, 4.435986202, 0.290141953, 1.300669958, 148.7763046],
  HBD: [1.618662227, 1010.051101, 0.985094388, 0.000000001, 0.713820843, 0.920922555, 258.1632616],
  PSA: [1.876861559, 125.2232657, 62.90773554, 87.83366614, 12.01999824, 28.51324732, 104.5686167],
  ROTB: [0.01, 272.4121427, 2.55837997, 1.565547684, 1.271567166, 2.758063707, 105.4420403],
  AROM: [3.21778897, 957.7374108, 2.274627939, 0.000000001, 1.317690384, 0.375760881, 312.337261],
  ALERTS: [0.01, 1199.094025, -0.09002883, 0.000000001, 0.185904477, 0.875193782, 417.725314],
};

/** The paper's mean weights w_k ("QED_w,mo"), RDKit's default. */
export const QED_WEIGHTS_MEAN: QedProperties = { MW: 0.66, ALOGP: 0.46, HBA: 0.05, HBD: 0.61, PSA: 0.06, ROTB: 0.65, AROM: 0.48, ALERTS: 0.95 };

/** Atoms deleted before counting aromatic rings: aliphatic ring atoms bonded to a non-aromatic atom. */
const ALIPHATIC_RINGS = "[$([A;R][!a])]";

/** Hydrogen-bond acceptor patterns (QED.py). */
const ACCEPTOR_SMARTS: readonly string[] = [
  "[oH0;X2]",
  "[OH1;X2;v2]",
  "[OH0;X2;v2]",
  "[OH0;X1;v2]",
  "[O-;X1]",
  "[SH0;X2;v2]",
  "[SH0;X1;v2]",
  "[S-;X1]",
  "[nH0;X2]",
  "[NH0;X1;v3]",
  "[$([N;+0;X3;v3]);!$(N[C,S]=O)]",
];

/** Structural alerts: the 116 unwanted-functionality SMARTS of QED.py. */
const ALERT_SMARTS: readonly string[] = [
  "*1[O,S,N]*1",
  "[S,C](=[O,S])[F,Br,Cl,I]",
  "[CX4][Cl,Br,I]",
  "[#6]S(=O)(=O)O[#6]",
  "[$([CH]),$(CC)]#CC(=O)[#6]",
  "[$([CH]),$(CC)]#CC(=O)O[#6]",
  "n[OH]",
  "[$([CH]),$(CC)]#CS(=O)(=O)[#6]",
  "C=C(C=O)C=O",
  "n1c([F,Cl,Br,I])cccc1",
  "[CH1](=O)",
  "[#8][#8]",
  "[C;!R]=[N;!R]",
  "[N!R]=[N!R]",
  "[#6](=O)[#6](=O)",
  "[#16][#16]",
  "[#7][NH2]",
  "C(=O)N[NH2]",
  "[#6]=S",
  "[$([CH2]),$([CH][CX4]),$(C([CX4])[CX4])]=[$([CH2]),$([CH][CX4]),$(C([CX4])[CX4])]",
  "C1(=[O,N])C=CC(=[O,N])C=C1",
  "C1(=[O,N])C(=[O,N])C=CC=C1",
  "a21aa3a(aa1aaaa2)aaaa3",
  "a31a(a2a(aa1)aaaa2)aaaa3",
  "a1aa2a3a(a1)A=AA=A3=AA=A2",
  "c1cc([NH2])ccc1",
  "[Hg,Fe,As,Sb,Zn,Se,se,Te,B,Si,Na,Ca,Ge,Ag,Mg,K,Ba,Sr,Be,Ti,Mo,Mn,Ru,Pd,Ni,Cu,Au,Cd,Al,Ga,Sn,Rh,Tl,Bi,Nb,Li,Pb,Hf,Ho]",
  "I",
  "OS(=O)(=O)[O-]",
  "[N+](=O)[O-]",
  "C(=O)N[OH]",
  "C1NC(=O)NC(=O)1",
  "[SH]",
  "[S-]",
  "c1ccc([Cl,Br,I,F])c([Cl,Br,I,F])c1[Cl,Br,I,F]",
  "c1cc([Cl,Br,I,F])cc([Cl,Br,I,F])c1[Cl,Br,I,F]",
  "[CR1]1[CR1][CR1][CR1][CR1][CR1][CR1]1",
  "[CR1]1[CR1][CR1]cc[CR1][CR1]1",
  "[CR2]1[CR2][CR2][CR2][CR2][CR2][CR2][CR2]1",
  "[CR2]1[CR2][CR2]cc[CR2][CR2][CR2]1",
  "[CH2R2]1N[CH2R2][CH2R2][CH2R2][CH2R2][CH2R2]1",
  "[CH2R2]1N[CH2R2][CH2R2][CH2R2][CH2R2][CH2R2][CH2R2]1",
  "C#C",
  "[OR2,NR2]@[CR2]@[CR2]@[OR2,NR2]@[CR2]@[CR2]@[OR2,NR2]",
  "[$([N+R]),$([n+R]),$([N+]=C)][O-]",
  "[#6]=N[OH]",
  "[#6]=NOC=O",
  "[#6](=O)[CX4,CR0X3,O][#6](=O)",
  "c1ccc2c(c1)ccc(=O)o2",
  "[O+,o+,S+,s+]",
  "N=C=O",
  "[NX3,NX4][F,Cl,Br,I]",
  "c1ccccc1OC(=O)[#6]",
  "[CR0]=[CR0][CR0]=[CR0]",
  "[C+,c+,C-,c-]",
  "N=[N+]=[N-]",
  "C12C(NC(N1)=O)CSC2",
  "c1c([OH])c([OH,NH2,NH])ccc1",
  "P",
  "[N,O,S]C#N",
  "C=C=O",
  "[Si][F,Cl,Br,I]",
  "[SX2]O",
  "[SiR0,CR0](c1ccccc1)(c2ccccc2)(c3ccccc3)",
  "O1CCCCC1OC2CCC3CCCCC3C2",
  "N=[CR0][N,n,O,S]",
  "[cR2]1[cR2][cR2]([Nv3X3,Nv4X4])[cR2][cR2][cR2]1[cR2]2[cR2][cR2][cR2]([Nv3X3,Nv4X4])[cR2][cR2]2",
  "C=[C!r]C#N",
  "[cR2]1[cR2]c([N+0X3R0,nX3R0])c([N+0X3R0,nX3R0])[cR2][cR2]1",
  "[cR2]1[cR2]c([N+0X3R0,nX3R0])[cR2]c([N+0X3R0,nX3R0])[cR2]1",
  "[cR2]1[cR2]c([N+0X3R0,nX3R0])[cR2][cR2]c1([N+0X3R0,nX3R0])",
  "[OH]c1ccc([OH,NH2,NH])cc1",
  "c1ccccc1OC(=O)O",
  "[SX2H0][N]",
  "c12ccccc1(SC(S)=N2)",
  "c12ccccc1(SC(=S)N2)",
  "c1nnnn1C=O",
  "s1c(S)nnc1NC=O",
  "S1C=CSC1=S",
  "C(=O)Onnn",
  "OS(=O)(=O)C(F)(F)F",
  "N#CC[OH]",
  "N#CC(=O)",
  "S(=O)(=O)C#N",
  "N[CH2]C#N",
  "C1(=O)NCC1",
  "S(=O)(=O)[O-,OH]",
  "NC[F,Cl,Br,I]",
  "C=[C!r]O",
  "[NX2+0]=[O+0]",
  "[OR0,NR0][OR0,NR0]",
  "C(=O)O[C,H1].C(=O)O[C,H1].C(=O)O[C,H1]",
  "[CX2R0][NX3R0]",
  "c1ccccc1[C;!R]=[C;!R]c2ccccc2",
  "[NX3R0,NX4R0,OR0,SX2R0][CX4][NX3R0,NX4R0,OR0,SX2R0]",
  "[s,S,c,C,n,N,o,O]~[n+,N+](~[s,S,c,C,n,N,o,O])(~[s,S,c,C,n,N,o,O])~[s,S,c,C,n,N,o,O]",
  "[s,S,c,C,n,N,o,O]~[nX3+,NX3+](~[s,S,c,C,n,N])~[s,S,c,C,n,N]",
  "[*]=[N+]=[*]",
  "[SX3](=O)[O-,OH]",
  "N#N",
  "F.F.F.F",
  "[R0;D2][R0;D2][R0;D2][R0;D2]",
  "[cR,CR]~C(=O)NC(=O)~[cR,CR]",
  "C=!@CC=[O,S]",
  "[#6,#8,#16][#6](=O)O[#6]",
  "c[C;R0](=[O,S])[#6]",
  "c[SX2][C;!R]",
  "C=C=C",
  "c1nc([F,Cl,Br,I,S])ncc1",
  "c1ncnc([F,Cl,Br,I,S])c1",
  "c1nc(c2c(n1)nc(n2)[F,Cl,Br,I])",
  "[#6]S(=O)(=O)c1ccc(cc1)F",
  "[15N]",
  "[13C]",
  "[18O]",
  "[34S]",
];

/** The ADS desirability d(x) of one property value. */
export function ads(x: number, [a, b, c, d, e, f, dmax]: Ads): number {
  const exp1 = 1 + Math.exp(-(x - c + d / 2) / e);
  const exp2 = 1 + Math.exp(-(x - c - d / 2) / f);
  return (a + (b / exp1) * (1 - 1 / exp2)) / dmax;
}

interface JsonTopology {
  molecules: Array<{ atoms?: unknown[]; bonds?: Array<{ atoms: [number, number] }> }>;
}

/** Cycle rank E − V + C of the graph left after deleting `removed` atoms. */
function cycleRankWithout(mol: Mol, removed: ReadonlySet<number>): number {
  const m = (JSON.parse(mol.get_json()) as JsonTopology).molecules[0] ?? {};
  const n = (m.atoms ?? []).length;
  const parent = Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const vertices = n - removed.size;
  let edges = 0;
  let components = vertices;
  for (const { atoms: [i, j] } of m.bonds ?? []) {
    if (removed.has(i) || removed.has(j)) continue;
    edges++;
    const [ri, rj] = [find(i), find(j)];
    if (ri !== rj) {
      parent[ri] = rj;
      components--;
    }
  }
  return edges - vertices + components;
}

/** The eight QED properties of a sanitised molecule. */
export function qedProperties(rdkit: RDKit, mol: Mol): QedProperties {
  const d = descriptors(mol);
  const aliphatic = new Set(substructMatches(rdkit, mol, ALIPHATIC_RINGS).map((m) => m[0]!));
  return {
    MW: d.amw,
    ALOGP: d.CrippenClogP,
    HBA: ACCEPTOR_SMARTS.reduce((s, p) => s + substructMatches(rdkit, mol, p).length, 0),
    HBD: d.NumHBD,
    PSA: d.tpsa,
    ROTB: d.NumRotatableBonds,
    AROM: cycleRankWithout(mol, aliphatic),
    ALERTS: ALERT_SMARTS.reduce((s, p) => s + (hasSubstruct(rdkit, mol, p) ? 1 : 0), 0),
  };
}

/** QED from its eight properties: exp(Σ w_k ln d_k(x_k) / Σ w_k). */
export function qedFromProperties(p: QedProperties, weights: QedProperties = QED_WEIGHTS_MEAN): number {
  let t = 0;
  let total = 0;
  for (const k of Object.keys(ADS) as Array<keyof QedProperties>) {
    t += weights[k] * Math.log(ads(p[k], ADS[k]));
    total += weights[k];
  }
  return Math.exp(t / total);
}

/** QED of a sanitised molecule, in (0, 1]. */
export function qed(rdkit: RDKit, mol: Mol, weights: QedProperties = QED_WEIGHTS_MEAN): number {
  return qedFromProperties(qedProperties(rdkit, mol), weights);
}
