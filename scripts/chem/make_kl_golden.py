#!/usr/bin/env python3
"""Golden values for src/chem/kl.ts (test/chem-metrics.test.ts): GuacaMol's continuous_kldiv and
discrete_kldiv written out in numpy float64 (scipy.stats.gaussian_kde with Scott's factor n^(-1/5) and the
sample covariance, scipy.stats.entropy), plus the 2048-bit ECFP4 Tanimoto similarities of a few pairs from
RDKit's Python Morgan fingerprints. Usage: python3 scripts/chem/make_kl_golden.py"""
import json
import os

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import AllChem

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def kde(x, at):
    x = np.asarray(x, dtype=np.float64)
    h = np.std(x, ddof=1) * len(x) ** (-1 / 5)
    return np.exp(-0.5 * ((at[:, None] - x[None, :]) / h) ** 2).sum(axis=1) / (len(x) * h * np.sqrt(2 * np.pi))


def entropy(p, q):
    p = p / p.sum()
    q = q / q.sum()
    return float(np.sum(p * np.log(p / q)))


def continuous_kldiv(base, sampled):
    both = np.hstack([base, sampled])
    grid = np.linspace(both.min(), both.max(), num=1000)
    return entropy(kde(base, grid) + 1e-10, kde(sampled, grid) + 1e-10)


def discrete_kldiv(base, sampled):
    p, bins = np.histogram(base, bins=10, density=True)
    q, _ = np.histogram(sampled, bins=bins, density=True)
    return entropy(p + 1e-10, q + 1e-10)


def main():
    rng = np.random.default_rng(7)
    cases = []
    for n, m, shift, scale in [(50, 40, 0.0, 1.0), (200, 150, 0.5, 1.0), (100, 120, 0.0, 2.0), (30, 30, 3.0, 0.5)]:
        a = rng.normal(size=n).round(6)
        b = (rng.normal(size=m) * scale + shift).round(6)
        cases.append({"kind": "continuous", "reference": a.tolist(), "generated": b.tolist(), "kl": continuous_kldiv(a, b)})
    for n, m, lam1, lam2 in [(80, 60, 2.0, 2.0), (100, 100, 1.0, 3.0), (40, 70, 4.0, 2.5)]:
        a = rng.poisson(lam1, size=n).astype(float)
        b = rng.poisson(lam2, size=m).astype(float)
        cases.append({"kind": "discrete", "reference": a.tolist(), "generated": b.tolist(), "kl": discrete_kldiv(a, b)})
    pairs = [("CCO", "CCN"), ("c1ccccc1O", "c1ccccc1N"), ("CC(=O)O", "CC(=O)OC"), ("C1CCCCC1", "c1ccccc1"), ("N#CC1CC1", "N#CC1CCC1")]
    sims = []
    for s1, s2 in pairs:
        f1 = AllChem.GetMorganFingerprintAsBitVect(Chem.MolFromSmiles(s1), 2, nBits=2048)
        f2 = AllChem.GetMorganFingerprintAsBitVect(Chem.MolFromSmiles(s2), 2, nBits=2048)
        sims.append({"a": s1, "b": s2, "tanimoto": DataStructs.TanimotoSimilarity(f1, f2)})
    out = os.path.join(ROOT, "test", "fixtures", "chem", "kl-golden.json")
    with open(out, "w") as f:
        json.dump({"kl": cases, "tanimoto": sims}, f)
    print(f"wrote {len(cases)} KL cases and {len(sims)} Tanimoto pairs to {out}")


if __name__ == "__main__":
    main()
