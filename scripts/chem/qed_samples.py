#!/usr/bin/env python3
"""QED of sampled molecules, recomputed with RDKit's Python build (an independent check of rewardiff's oracle).

Usage: /usr/bin/python3 scripts/chem/qed_samples.py RUN/samples-*.csv

For each samples CSV written by `rewardiff run` (column `smiles`, empty for an invalid molecule): the mean ± standard
error over all rows of plain QED (an invalid molecule at 0; a molecule of several fragments scored as RDKit computes
it) and of one-molecule QED (a molecule of several fragments also at 0, the reward `fragmentedReward: 0`).
Needs Debian's python3-rdkit; a test/bench oracle, never a runtime dependency.
"""
import csv
import math
import sys

from rdkit import Chem
from rdkit.Chem import QED


def mean_se(values):
    m = sum(values) / len(values)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))
    return m, sd / math.sqrt(len(values))


for path in sys.argv[1:]:
    plain, one = [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            s = row["smiles"]
            mol = Chem.MolFromSmiles(s) if s else None
            q = QED.qed(mol) if mol is not None else 0.0
            plain.append(q)
            one.append(0.0 if mol is None or "." in s else q)
    print(f"{path}: {len(plain)} molecules, plain QED {mean_se(plain)[0]:.4f} ± {mean_se(plain)[1]:.4f}, one-molecule QED {mean_se(one)[0]:.4f} ± {mean_se(one)[1]:.4f}")
