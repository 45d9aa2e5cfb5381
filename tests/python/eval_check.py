"""scipy's figures for the pairs `pertitle eval --json` wrote, for tests/it/models.rs.

Usage: eval_check.py EVAL.json OUT.json; OUT: {"srcc", "pcc", "rmse"}: spearmanr of the raw
pairs, and pearsonr and RMSE of the opinion against scipy's curve_fit of the 4-parameter
logistic (method lm, tight tolerances) from pertitle's start point.
"""
import json
import sys

import numpy as np
from scipy import optimize, stats


def logistic(x, b1, b2, b3, b4):
    return (b1 - b2) / (1 + np.exp(-(x - b3) / abs(b4))) + b2


def main():
    with open(sys.argv[1]) as f:
        e = json.load(f)
    x = np.array([p["predicted"] for p in e["pairs"]])
    y = np.array([p["opinion"] for p in e["pairs"]])
    sd = x.std()
    p0 = [y.max(), y.min(), x.mean(), sd if sd > 0 else 1.0]
    b, _ = optimize.curve_fit(
        logistic, x, y, p0=p0, method="lm", ftol=1e-15, xtol=1e-15, gtol=1e-15, maxfev=100000
    )
    fit = logistic(x, *b)
    out = {
        "srcc": float(stats.spearmanr(x, y).statistic),
        "pcc": float(stats.pearsonr(fit, y).statistic),
        "rmse": float(np.sqrt(np.mean((fit - y) ** 2))),
    }
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
