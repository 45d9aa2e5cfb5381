"""scikit-learn's NuSVR (libsvm inside) on a problem the Rust tests write, for tests/it/svr.rs.

Usage: nusvr.py PROBLEM.json OUT.json
PROBLEM: {"train_x": [[...]], "train_y": [...], "test_x": [[...]],
          "nu": .., "C": .., "gamma": .., "tol": .., "shrinking": bool}
OUT: {"predict": [...], "intercept": .., "n_support": .., "sklearn": version}
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.svm import NuSVR


def main():
    problem_path, out_path = sys.argv[1], sys.argv[2]
    with open(problem_path) as f:
        p = json.load(f)
    model = NuSVR(
        nu=p["nu"],
        C=p["C"],
        kernel="rbf",
        gamma=p["gamma"],
        tol=p["tol"],
        shrinking=p["shrinking"],
        cache_size=200,
    )
    model.fit(np.array(p["train_x"], dtype=np.float64), np.array(p["train_y"], dtype=np.float64))
    pred = model.predict(np.array(p["test_x"], dtype=np.float64))
    out = {
        "predict": [float(v) for v in pred],
        "intercept": float(model.intercept_[0]),
        "n_support": int(model.support_.shape[0]),
        "sklearn": sklearn.__version__,
    }
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
