#!/usr/bin/env python3
"""Golden values for the TypeScript QED and descriptors (test/chem-qed.test.ts), from RDKit's Python QED
(rdkit.Chem.QED, Bickerton et al. 2012) and descriptors. Offline oracle only: RDKit's Python package is
never a runtime dependency. Usage: python3 scripts/chem/make_golden.py (writes test/fixtures/chem/qed-golden.csv).

Molecules: a seeded sample of 520 QM9 SMILES (random.Random(20120101), rows RDKit cannot parse skipped)
plus hand-picked drug-like molecules with structural alerts, formal charges and aromatic rings."""
import csv
import gzip
import os
import random

import rdkit
from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, MolSurf
from rdkit.Chem import rdMolDescriptors as rdmd

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

DRUG_LIKE = [
    "CC(=O)Oc1ccccc1C(=O)O",  # aspirin (aryl ester alert)
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",  # caffeine
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O",  # ibuprofen
    "CC(=O)Nc1ccc(O)cc1",  # paracetamol
    "N=C(CCSCc1csc(N=C(N)N)n1)NS(N)(=O)=O",  # famotidine (QED paper example)
    "CNC(=NCCSCc1nc[nH]c1C)NC#N",  # cimetidine (QED paper example)
    "CCCCCNC(=N)NN=Cc1c[nH]c2ccc(CO)cc12",  # QED paper example
    "O=[N+]([O-])c1ccc(cc1)C=O",  # nitro + aldehyde alerts, charges
    "C[N+](C)(C)CCOC(C)=O",  # quaternary ammonium (acetylcholine)
    "NCC(=O)[O-].[Na+]",  # salt: two fragments, metal alert
    "[NH3+]CC(=O)[O-]",  # zwitterion
    "CN1CCC[C@H]1c1cccnc1",  # nicotine (stereo)
    "OC(=O)C1=CC=CC=C1Cl",
    "Clc1ccc(Cl)c(Cl)c1",  # trihalobenzene alert
    "CC1=C(C(=O)c2ccccc2C1=O)C",  # quinone-like
    "c1ccc2cc3ccccc3cc2c1",  # anthracene (polycyclic alert)
    "c1ccc2c(c1)ccc1ccccc12",  # phenanthrene
    "O=C1CCCN1",  # lactam
    "C1CCC2(CC1)OCCO2",  # spiro aliphatic
    "c1ccc(cc1)-c1ccccc1",  # biphenyl
    "O=S(=O)(O)c1ccccc1",  # sulfonic acid alert
    "CCSSCC",  # disulfide alert
    "C=CC(=O)OC",  # Michael acceptor
    "N#CCC#N",
    "CC(C)(C)c1ccc(O)cc1",
    "COc1ccc2[nH]cc(CCN(C)C)c2c1",  # 5-MeO-DMT
    "CC12CCC3C(CCC4=CC(=O)CCC34C)C1CCC2O",  # testosterone (aliphatic rings)
    "Cn1cnc2c1c(=O)n(C)c(=O)n2C",  # caffeine aromatic form
    "c1ccc2[nH]ccc2c1",  # indole
    "OC1=CC=C(C=C1)C1=CC(=O)C2=C(O)C=C(O)C=C2O1",  # apigenin
    "FC(F)(F)c1ccc(Oc2ccc(cc2)[N+](=O)[O-])cc1",
    "C1=CC=C2C(=C1)C=CC=C2",
    "c1cc[n+](C)cc1",  # pyridinium
    "CC(=O)[O-]",
    "O=C(O)CCCCCCCCCCCCCCC",  # palmitic acid (many rotatable bonds)
    "CC(C)NCC(O)COc1cccc2ccccc12",  # propranolol
    "CN(C)CCCN1c2ccccc2CCc2ccccc21",  # imipramine
    "OCC1OC(O)C(O)C(O)C1O",  # glucose
    "Ic1ccccc1",  # iodine alert
    "C#CCO",
]


def row(smiles, mol):
    p = QED.properties(mol)
    return {
        "smiles": smiles,
        "qed": repr(QED.qed(mol)),
        "mw": repr(p.MW), "alogp": repr(p.ALOGP), "hba": p.HBA, "hbd": p.HBD, "psa": repr(p.PSA),
        "rotb": p.ROTB, "arom": p.AROM, "alerts": p.ALERTS,
        "logp": repr(Crippen.MolLogP(mol)), "tpsa": repr(MolSurf.TPSA(mol)), "amw": repr(Descriptors.MolWt(mol)),
        "bertz": repr(Descriptors.BertzCT(mol)),
        "rotb_default": rdmd.CalcNumRotatableBonds(mol),
        "aromatic_rings": rdmd.CalcNumAromaticRings(mol), "aliphatic_rings": rdmd.CalcNumAliphaticRings(mol),
        "num_hba": rdmd.CalcNumHBA(mol), "num_hbd": rdmd.CalcNumHBD(mol),
    }


def main():
    with gzip.open(os.path.join(ROOT, "data", "qm9", "qm9-smiles.csv.gz"), "rt") as f:
        qm9 = [line.strip() for line in f][1:]
    rng = random.Random(20120101)
    rows = []
    for i in rng.sample(range(len(qm9)), 540):
        mol = Chem.MolFromSmiles(qm9[i])
        if mol is not None and len(rows) < 520:
            rows.append(row(qm9[i], mol))
    for s in DRUG_LIKE:
        mol = Chem.MolFromSmiles(s)
        assert mol is not None, s
        rows.append(row(s, mol))
    out = os.path.join(ROOT, "test", "fixtures", "chem", "qed-golden.csv")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", newline="") as f:
        f.write(f"# RDKit {rdkit.__version__} rdkit.Chem.QED; written by scripts/chem/make_golden.py\n")
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} molecules to {out}")


if __name__ == "__main__":
    main()
