"""scipy's SRCC, PCC and RMSE after a 4-parameter logistic fit, for tests/it/agreement.rs.

The fit is VQEG/BT.500 practice as the VMAF Development Kit does it: scipy.optimize.curve_fit
(MINPACK's Levenberg-Marquardt, finite-difference Jacobian) of
f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2 from b1 = max y, b2 = min y, b3 = mean x,
b4 = population std of x (1 if 0), at tight tolerances.

Usage: agreement.py SETS.json OUT.json
SETS: [{"name": .., "predicted": [...], "opinion": [...]}, ...]
OUT: [{"name": .., "srcc": .., "pcc": .., "rmse": .., "fit": [b1, b2, b3, b4]}, ...], one per set
"""
import json
import sys

import numpy as np
import scipy
from scipy.optimize import curve_fit
from scipy.stats import pearsonr, spearmanr


def logistic(x, b1, b2, b3, b4):
    return (b1 - b2) / (1 + np.exp(-(x - b3) / abs(b4))) + b2


def one(s):
    x = np.array(s["predicted"], dtype=np.float64)
    y = np.array(s["opinion"], dtype=np.float64)
    std = float(np.std(x))
    p0 = [float(np.max(y)), float(np.min(y)), float(np.mean(x)), std if std != 0 else 1.0]
    popt, _ = curve_fit(
        logistic, x, y, p0=p0, method="lm", ftol=1e-15, xtol=1e-15, gtol=1e-15, maxfev=100000
    )
    fitted = logistic(x, *popt)
    return {
        "name": s["name"],
        "srcc": float(spearmanr(x, y).statistic),
        "pcc": float(pearsonr(fitted, y).statistic),
        "rmse": float(np.sqrt(np.mean((fitted - y) ** 2))),
        "fit": [float(popt[0]), float(popt[1]), float(popt[2]), abs(float(popt[3]))],
        "scipy": scipy.__version__,
    }


def main():
    sets_path, out_path = sys.argv[1], sys.argv[2]
    with open(sets_path) as f:
        sets = json.load(f)
    with open(out_path, "w") as f:
        json.dump([one(s) for s in sets], f)


if __name__ == "__main__":
    main()
