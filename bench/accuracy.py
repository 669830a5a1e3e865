#!/usr/bin/python3
"""bench/accuracy.py — accuracy of exported scikit-learn models on real
data, in FHE (issue 6; docs/accuracy.md is this script's output).

For each (dataset, model family): train the float model (fixed seeds, a
stratified 70/30 split), export it with tools/cml-export (calibrated on the
training split), compile it with cmlc, then on the test split report

  float       the float model's accuracy (R^2 for regression)
  quantized   the compiled model's clear twin (`cml predict --simulate`)
  fhe         the same rows encrypted, run on the server key, decrypted
              (`cml predict --clear`: every row also run in clear)
  agreement   FHE rows equal to the clear twin (must be 100%)
  latency     encrypted run time of one row, all cores (`cml bench
              infer`: median of 5; keygen and encryption excluded)
  PBS, bits   bootstraps per row and the widest PBS (cmlc --stats=json)

Usage (from the repository root, after building into BUILD):

    bench/accuracy.py [--build BUILD] [--fhe-rows N] [--only NAME] [--markdown FILE]

--fhe-rows bounds the encrypted rows per model (default: all test rows for
linear models and single trees, 10 for k-NN, 30 for the others; 0 = all
everywhere).
Prints one `name value unit` line per figure, and the table as markdown
into FILE (docs/accuracy.md is written that way). Runs with Debian's
/usr/bin/python3 (python3-sklearn).
"""
import argparse
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    from sklearn import datasets
except ImportError:  # the test treats 77 as skipped
    print("skip: %s cannot import scikit-learn (apt-get install python3-sklearn)"
          % sys.executable, file=sys.stderr)
    sys.exit(77)
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, PoissonRegressor, Ridge
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(name):
    loader = {
        "iris": datasets.load_iris,
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
        "digits": datasets.load_digits,
        "diabetes": datasets.load_diabetes,
    }[name]
    d = loader()
    return d.data.astype(np.float64), d.target


# (name, dataset, estimator factory, regression?, all test rows in FHE?,
# standardize?). Standardized models are Pipeline(StandardScaler, model):
# cml-export folds the scaler in, so every model reads raw features.
CASES = [
    ("logreg_iris", "iris", lambda: LogisticRegression(max_iter=5000), False, True, True),
    ("logreg_breast_cancer", "breast_cancer", lambda: LogisticRegression(max_iter=5000), False, True, True),
    ("logreg_wine", "wine", lambda: LogisticRegression(max_iter=5000), False, True, True),
    ("logreg_digits", "digits", lambda: LogisticRegression(max_iter=5000), False, True, True),
    ("linreg_diabetes", "diabetes", lambda: LinearRegression(), True, True, False),
    ("ridge_diabetes", "diabetes", lambda: Ridge(alpha=0.1), True, True, False),
    ("poisson_diabetes", "diabetes", lambda: PoissonRegressor(alpha=1e-3, max_iter=1000), True, True, True),
    ("tree5_breast_cancer", "breast_cancer", lambda: DecisionTreeClassifier(max_depth=5, random_state=0), False, True, False),
    ("tree4_iris", "iris", lambda: DecisionTreeClassifier(max_depth=4, random_state=0), False, True, False),
    ("tree4_wine", "wine", lambda: DecisionTreeClassifier(max_depth=4, random_state=0), False, True, False),
    ("tree5_diabetes", "diabetes", lambda: DecisionTreeRegressor(max_depth=5, random_state=0), True, True, False),
    ("forest_breast_cancer", "breast_cancer", lambda: RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0), False, False, False),
    ("gbt_breast_cancer", "breast_cancer", lambda: GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=0), False, False, False),
    ("mlp_iris", "iris", lambda: MLPClassifier(hidden_layer_sizes=(16,), max_iter=5000, random_state=0), False, True, True),
    ("mlp_breast_cancer", "breast_cancer", lambda: MLPClassifier(hidden_layer_sizes=(16,), max_iter=3000, random_state=0), False, False, True),
    ("knn_iris", "iris", lambda: KNeighborsClassifier(3), False, False, False),
]
# Cases whose rows take tens of seconds: fewer encrypted rows by default, and
# one latency run instead of five.
FHE_ROWS = {"knn_iris": 10}
LATENCY_RUNS = {"knn_iris": 1}


def write_csv(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(",".join("%.9g" % v for v in np.ravel(r)) + "\n")


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return p


def parse_rows(text):
    return [[float(v) for v in line.split(",")] for line in text.strip().splitlines() if line]


def metric(regression, y, pred):
    return r2_score(y, pred) if regression else accuracy_score(y, pred)


def case(build, tmp, name, ds, make, regression, all_rows, scale, fhe_rows):
    X, y = load(ds)
    strat = None if regression else y
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=strat)
    est = (make_pipeline(StandardScaler(), make()) if scale else make()).fit(Xtr, ytr)
    float_m = metric(regression, yte, est.predict(Xte))
    pkl, train, test = (os.path.join(tmp, name + s) for s in (".pkl", ".train.csv", ".test.csv"))
    cml, so = os.path.join(tmp, name + ".cml"), os.path.join(tmp, name + ".so")
    with open(pkl, "wb") as f:
        pickle.dump(est, f)
    write_csv(train, Xtr)
    write_csv(test, Xte)
    run([os.path.join(ROOT, "tools", "cml-export"), pkl, "--calibrate", train, "-o", cml],
        env=dict(os.environ, CMLC=os.path.join(build, "tools", "cmlc")))
    t0 = time.time()
    run([os.path.join(build, "tools", "cmlc"), cml, "-o", so])
    compile_ms = (time.time() - t0) * 1000
    stats = json.loads(run([os.path.join(build, "tools", "cmlc"), cml, "--stats=json"]).stdout)
    cmlbin = os.path.join(build, "tools", "cml")
    sim = parse_rows(run([cmlbin, "predict", so, test, "--simulate"]).stdout)
    sim_pred = np.array([r[0] for r in sim])
    quant_m = metric(regression, yte, sim_pred)
    default_rows = FHE_ROWS.get(name, 30)
    n = len(Xte) if (fhe_rows == 0 or (all_rows and fhe_rows < 0)) else min(len(Xte), fhe_rows if fhe_rows > 0 else default_rows)
    sub = os.path.join(tmp, name + ".fhe.csv")
    write_csv(sub, Xte[:n])
    p = subprocess.run([cmlbin, "predict", so, sub, "--clear", "-v"], capture_output=True, text=True)
    if p.returncode not in (0, 1):
        raise RuntimeError("cml predict --clear failed: " + p.stderr.strip())
    fhe, equal = [], 0
    for line in p.stdout.strip().splitlines():
        m = re.match(r"fhe: (.*) \| clear: (.*)$", line)
        if m:
            fhe.append(float(m.group(1).split(",")[0]))
            equal += m.group(1) == m.group(2)
    b = run([cmlbin, "bench", "infer", so, "--runs", str(LATENCY_RUNS.get(name, 5))]).stdout
    m = re.search(r"\.latency\.tall ([0-9.]+) ms", b)
    latency = float(m.group(1)) / 1000 if m else float("nan")
    fhe_m = metric(regression, yte[:n], np.array(fhe))
    quant_rows_m = metric(regression, yte[:n], sim_pred[:n])
    return {
        "name": name, "dataset": ds, "model": type(est[-1] if scale else est).__name__, "regression": regression,
        "float": float_m, "quantized": quant_m, "fhe": fhe_m, "quantized_rows": quant_rows_m, "fhe_rows": n, "test_rows": len(Xte),
        "agreement": equal / max(n, 1), "latency_ms": latency * 1000, "pbs": stats["pbs_count"],
        "bits": stats["max_precision"], "compile_ms": compile_ms,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--fhe-rows", type=int, default=-1)
    ap.add_argument("--only", action="append", help="case name (repeatable)")
    ap.add_argument("--markdown", help="write the table here")
    a = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, ds, make, regression, all_rows, scale in CASES:
            if a.only and name not in a.only:
                continue
            print("# %s ..." % name, file=sys.stderr, flush=True)
            r = case(a.build, tmp, name, ds, make, regression, all_rows, scale, a.fhe_rows)
            results.append(r)
            unit = "r2" if regression else "accuracy"
            for k in ("float", "quantized", "quantized_rows", "fhe"):
                print("accuracy.%s.%s %.4f %s" % (name, k, r[k], unit))
            print("accuracy.%s.agreement %.4f fraction" % (name, r["agreement"]))
            print("accuracy.%s.fhe_rows %d rows" % (name, r["fhe_rows"]))
            print("accuracy.%s.latency %.4g ms" % (name, r["latency_ms"]))
            print("accuracy.%s.pbs %d count" % (name, r["pbs"]))
            print("accuracy.%s.bits %d bits" % (name, r["bits"]))
            sys.stdout.flush()
    worse = [r["name"] for r in results if r["agreement"] < 1]
    if worse:  # FHE must equal the clear twin on every row
        print("accuracy: FHE differs from the clear simulation on some rows of: %s"
              % ", ".join(worse), file=sys.stderr)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write("| case | model | metric | float | quantized (clear) | FHE rows | quantized, FHE rows | FHE | FHE = clear | latency / row | PBS / row | max PBS bits |\n")
            f.write("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
            for r in results:
                f.write("| %s | %s | %s | %.3f | %.3f | %d / %d | %.3f | %.3f | %.0f%% | %s | %d | %d |\n" % (
                    r["name"], r["model"], "R²" if r["regression"] else "accuracy", r["float"],
                    r["quantized"], r["fhe_rows"], r["test_rows"], r["quantized_rows"], r["fhe"],
                    100 * r["agreement"],
                    ("%.3g ms" % r["latency_ms"]) if r["latency_ms"] < 100 else ("%.2f s" % (r["latency_ms"] / 1000)),
                    r["pbs"], r["bits"]))
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
