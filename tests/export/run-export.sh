#!/bin/sh
# tests/export/run-export.sh CMLC CML — tools/cml-export end to end.
#
# Trains small scikit-learn models (fixed random_state) with Debian's
# python3, exports each with tools/cml-export (whose --check must find the
# exported float model equal to scikit-learn on the test split), compiles it
# with cmlc and compares `cmlc --simulate` with scikit-learn's predictions on
# the test split. Quantization changes a few predictions, so each case states
# its tolerance: for classifiers the share of test rows where the compiled
# model picks scikit-learn's class, for regressors the error relative to the
# range of scikit-learn's predictions. Then the error cases: exit 1, the exact
# message, no output file left behind. Then ONNX graphs (an iris MLP, a digits
# CNN, error cases) built with onnx.helper from scikit-learn fits, unless
# python3 cannot import onnx (Debian: python3-onnx): a line says so.
#
# Skips (exit 77) without scikit-learn (Debian: python3-sklearn).
# Runs in about 45 s (12 s of it ONNX); prints `N passed, N failed` last.
set -u
CMLC=${1:?usage: run-export.sh CMLC CML}
CML=${2:?usage: run-export.sh CMLC CML}
PY=/usr/bin/python3
case $CMLC in /*) ;; */*) CMLC="$PWD/$CMLC" ;; esac # the tests run in a temporary directory
case $CML in /*) ;; */*) CML="$PWD/$CML" ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
export CMLC # the MLP width search of cml-export compiles with the cmlc under test
EXPORT="$HERE/../../tools/cml-export"

if ! "$PY" -c 'import sklearn' 2>/dev/null; then
    echo "skip: $PY cannot import sklearn (apt-get install python3-sklearn)"
    exit 77
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/cml-export-test.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T" || exit 1
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# ---- training: every model, its data and scikit-learn's predictions ----------
# NAME.pkl, DATA_train.csv / DATA_test.csv (features only), NAME.ref (one row
# per test sample: the class index in classes_, or the predicted value).
"$PY" - <<'EOF' || { echo "FAIL training"; echo "0 passed, 1 failed"; exit 1; }
import pickle
import warnings
import joblib
import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                              RandomForestClassifier)
from sklearn.linear_model import LinearRegression, LogisticRegression, PoissonRegressor
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

warnings.simplefilter("ignore")


def split(name, X, y):
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    np.savetxt(name + "_train.csv", Xtr, fmt="%.9g", delimiter=",",
               header="features of %s" % name)
    np.savetxt(name + "_test.csv", Xte, fmt="%.9g", delimiter=",")
    return Xtr, Xte, ytr


def save(name, m, Xte, use_pickle=False):
    if use_pickle:
        with open(name + ".pkl", "wb") as f:
            pickle.dump(m, f)
    else:
        joblib.dump(m, name + ".pkl")
    p = m.predict(Xte)
    if hasattr(m, "classes_"):
        p = np.searchsorted(m.classes_, p)
        np.savetxt(name + ".ref", p, fmt="%d")
    else:
        np.savetxt(name + ".ref", p, fmt="%.9g")


iris = split("iris", *load_iris(return_X_y=True))
diab = split("diabetes", *load_diabetes(return_X_y=True))
bc = split("cancer", *load_breast_cancer(return_X_y=True))  # raw: columns 1e-3 to 4e3

# -- linear and MLP --
save("logistic_iris", LogisticRegression(max_iter=1000).fit(iris[0], iris[2]), iris[1],
     use_pickle=True)
save("logistic_cancer", LogisticRegression(max_iter=5000).fit(bc[0], bc[2]), bc[1])
save("linear_diabetes", LinearRegression().fit(diab[0], diab[2]), diab[1])
save("poisson_diabetes", PoissonRegressor(alpha=1e-3, max_iter=1000).fit(diab[0], diab[2]),
     diab[1])
save("mlp_iris", MLPClassifier(hidden_layer_sizes=(8,), max_iter=3000,
                               random_state=0).fit(iris[0], iris[2]), iris[1])
# a scaler before the estimator is folded into the exported model
save("scaled_mlp_cancer", make_pipeline(StandardScaler(), MLPClassifier(
    hidden_layer_sizes=(16,), max_iter=3000, random_state=0)).fit(bc[0], bc[2]), bc[1])
save("scaled_tree_cancer", make_pipeline(StandardScaler(), DecisionTreeClassifier(
    max_depth=3, random_state=0)).fit(bc[0], bc[2]), bc[1])
# -- trees --
save("tree_cancer", DecisionTreeClassifier(max_depth=3, random_state=0).fit(bc[0], bc[2]),
     bc[1])
save("forest_iris", RandomForestClassifier(n_estimators=5, max_depth=3,
                                           random_state=0).fit(iris[0], iris[2]), iris[1])
save("boost_cancer", GradientBoostingClassifier(n_estimators=20, max_depth=2,
                                                random_state=0).fit(bc[0], bc[2]), bc[1])
save("boost_diabetes", GradientBoostingRegressor(n_estimators=20, max_depth=2,
                                                 random_state=0).fit(diab[0], diab[2]), diab[1])
# -- k-nearest neighbours (raw features; a scaler folded into the points) --
save("knn_iris", KNeighborsClassifier(3).fit(iris[0], iris[2]), iris[1])
save("scaled_knn_iris", make_pipeline(StandardScaler(), KNeighborsClassifier(5)).fit(
    iris[0], iris[2]), iris[1])
# -- error cases --
from sklearn.svm import SVC
joblib.dump(SVC().fit(iris[0], iris[2]), "svc.pkl")
joblib.dump(KNeighborsClassifier(weights="distance").fit(iris[0], iris[2]), "knn_dist.pkl")
joblib.dump(make_pipeline(StandardScaler(), StandardScaler(),
                          LogisticRegression()).fit(iris[0], iris[2]), "pipeline.pkl")
np.savetxt("wide.csv", np.hstack([iris[0], iris[0][:, :1]]), fmt="%.9g", delimiter=",")
with open("ragged.csv", "w") as f:
    f.write("# a header\n5.1,3.5,1.4,0.2\n4.9,3.0,1.4\n")
EOF

# ---- helpers ---------------------------------------------------------------------

# export NAME DATA [options]: cml-export of NAME.onnx if it exists, else of
# NAME.pkl, with --check on the test split.
export_model() {
    name=$1 data=$2
    shift 2
    src=$name.pkl
    [ -f "$name.onnx" ] && src=$name.onnx
    [ -f "$name.json" ] && src=$name.json # an XGBoost model
    if ! "$PY" "$EXPORT" "$src" --calibrate "${data}_train.csv" -o "$name.cml" \
            --check "${data}_test.csv" "$@" >"$name.export" 2>&1; then
        bad "$name: cml-export failed:"
        sed 's/^/    /' "$name.export"
        return 1
    fi
    grep '^check:' "$name.export" | sed 's/^/    /'
    if [ ! -f "$name.calib.csv" ]; then
        bad "$name: no $name.calib.csv"
        return 1
    fi
    if ! "$CMLC" "$name.cml" --simulate --input "${data}_test.csv" >"$name.out" 2>"$name.err"; then
        bad "$name: cmlc --simulate failed:"
        sed 's/^/    /' "$name.err"
        return 1
    fi
    return 0
}

# classes NAME DATA MIN_PERCENT [options]: share of rows where the compiled
# model's class (argmax index) equals the reference's (NAME.ref).
classes() {
    cname=$1 cdata=$2 cmin=$3
    shift 3
    export_model "$cname" "$cdata" "$@" || return
    r=$(paste -d, "$cname.ref" "$cname.out" | awk -F, -v min="$cmin" '
        { n++; if ($1 == $2) a++ }
        END { p = n ? 100 * a / n : 0; printf "%d/%d rows agree (%.1f%%, need >= %d%%)\n", a, n, p, min
              exit !(n > 0 && p >= min) }')
    st=$?
    if [ $st -eq 0 ]; then ok "$cname: $r"; else bad "$cname: $r"; fi
}

# values NAME DATA MAX_PCT MEAN_PCT: |compiled - scikit-learn| at most MAX_PCT %
# of the range of scikit-learn's predictions on every row, MEAN_PCT % on average.
values() {
    export_model "$1" "$2" || return
    r=$(paste -d, "$1.ref" "$1.out" | awk -F, -v maxp="$3" -v meanp="$4" '
        { n++; y[n] = $1; d = $2 - $1; if (d < 0) d = -d; s += d; if (d > m) m = d
          if (n == 1 || $1 < lo) lo = $1; if (n == 1 || $1 > hi) hi = $1 }
        END { r = hi - lo; if (r <= 0) r = 1
              printf "max |diff| %.3g (%.2f%% of the range %.4g, need <= %g%%), mean %.3g (%.2f%%, need <= %g%%), %d rows\n",
                     m, 100 * m / r, r, maxp, s / n, 100 * s / n / r, meanp, n
              exit !(n > 0 && 100 * m / r <= maxp && 100 * s / n / r <= meanp) }')
    st=$?
    if [ $st -eq 0 ]; then ok "$1: $r"; else bad "$1: $r"; fi
}

# fails NAME EXPECTED_PREFIX -- ARGS: exit 1, one line on stderr starting with
# EXPECTED_PREFIX (the whole line when it ends the message), nothing written.
fails() {
    name=$1 want=$2
    shift 3
    rm -f out.cml out.calib.csv
    "$PY" "$EXPORT" "$@" >"$name.stdout" 2>"$name.stderr"
    st=$?
    got=$(cat "$name.stderr")
    lines=$(wc -l <"$name.stderr")
    case $got in
    "$want"*) match=1 ;;
    *) match=0 ;;
    esac
    if [ $st -eq 1 ] && [ "$match" = 1 ] && [ "$lines" -eq 1 ] && [ ! -e out.cml ] &&
        [ ! -e out.calib.csv ] && [ ! -s "$name.stdout" ]; then
        ok "$name: exit 1: $got"
    else
        bad "$name: exit $st, $lines line(s): $got"
        echo "    expected: $want"
        ls out.* 2>/dev/null | sed 's/^/    left behind: /'
    fi
}

# ---- linear models and MLPs (per_feature inputs) --------------------------------
# Regressions: the largest errors are the 3 test rows that leave some column's
# training range (clipped by the input quantization).
classes logistic_iris iris 95
classes logistic_cancer cancer 95   # raw columns: per_feature scales (one scale: 92%)
values linear_diabetes diabetes 5 0.5
values poisson_diabetes diabetes 10 1   # return exp(dense(...)): exp on the client
classes mlp_iris iris 85            # 4-bit MLP: 41/45 at the time of writing
classes scaled_mlp_cancer cancer 95 # StandardScaler folded into the first layer

# ---- trees (tree_ensemble on tree_bins inputs: every split exact) --------------
# Only the 8-bit leaf values differ from scikit-learn.
classes tree_cancer cancer 95
classes forest_iris iris 95
classes boost_cancer cancer 95
classes scaled_tree_cancer cancer 95   # StandardScaler folded into the thresholds
values boost_diabetes diabetes 1 0.5

# ---- k-nearest neighbours (knn: clipped distances on the input grid) ------------
classes knn_iris iris 95
classes scaled_knn_iris iris 90       # the metric is the grid's, not the scaler's
if grep -q '^    return vote(knn(x, P, L, 3, distance_bits=3));$' knn_iris.cml &&
    grep -q '^    quantize inputs 4;$' knn_iris.cml &&
    grep -q '^    param L: f32\[105\] = ' knn_iris.cml; then
    ok "knn format: quantize inputs, points and labels, vote(knn(...))"
else
    bad "knn format: $(grep -E 'quantize|return' knn_iris.cml)"
fi

# ---- the file format: quantize lines, input statements, returns ------------------
if grep -q '^    quantize weights 8;$' tree_cancer.cml &&
    grep -q '^    input x: f32\[30\] calibrate "tree_cancer.calib.csv" tree_bins;$' tree_cancer.cml &&
    grep -q "^    return argmax(tree_ensemble(x, F, T, P, V));$" tree_cancer.cml &&
    grep -q '^// Bits: searched 144 widths on the calibration rows: ' mlp_iris.cml &&
    grep -q '^    quantize inputs [2-5], weights [2-5], activations [2-4]\(, accumulator [56]\)\{0,1\};$' mlp_iris.cml &&
    grep -q '^    input x: f32\[4\] calibrate "mlp_iris.calib.csv" per_feature;$' mlp_iris.cml &&
    grep -q '^    h1 = relu(dense(x, W1, b1));$' mlp_iris.cml &&
    grep -q '^//   0 -> 0, 1 -> 1, 2 -> 2$' logistic_iris.cml &&
    grep -q '^    quantize inputs 8, weights 8;$' linear_diabetes.cml &&
    grep -q '^    return dense(x, W, b);$' linear_diabetes.cml &&
    grep -q '^    return exp(dense(x, W, b));$' poisson_diabetes.cml &&
    [ "$(sed -n 2p tree_cancer.calib.csv | tr -cd , | wc -c)" -eq 29 ]; then
    ok "format: quantize lines, calibrate path, returns, class comment, calibration rows"
else
    bad "format of the exported files"
fi

# A multi-class forest without --weights: leaf values narrowed until the sum
# of their squares (per output) fits 2^16.
if "$PY" "$EXPORT" forest_iris.pkl --calibrate iris_train.csv -o autow.cml >/dev/null 2>autow.err &&
    grep -q '^    quantize weights [4-7];$' autow.cml &&
    grep -q '^// Scores: leaf values at [4-7] bits: the sum of their squares' autow.cml; then
    ok "multi-class ensemble: $(grep -o 'leaf values at [4-7] bits' autow.cml)"
else
    bad "multi-class ensemble weights: $(cat autow.err) $(grep quantize autow.cml)"
fi

# --no-search: an MLP gets the default widths.
if "$PY" "$EXPORT" mlp_iris.pkl --calibrate iris_train.csv -o nosearch.cml --no-search \
        >/dev/null 2>nosearch.err &&
    grep -q '^    quantize inputs 4, weights 4, activations 4, accumulator 6;$' nosearch.cml &&
    ! grep -q '^// Bits' nosearch.cml; then
    ok "--no-search: the default MLP widths"
else
    bad "--no-search: $(cat nosearch.err)"
fi

# Options override the defaults; --name is sanitised into an identifier; a
# tree whose split points do not fit in --inputs bits gets a per_feature grid.
if "$PY" "$EXPORT" logistic_iris.pkl --calibrate iris_train.csv -o opts.cml --inputs 5 \
        --weights 6 --accumulator 7 --input-quant tensor --name "3 iris-model" \
        >/dev/null 2>opts.err &&
    grep -q '^    quantize inputs 5, weights 6, accumulator 7;$' opts.cml &&
    grep -q '^    input x: f32\[4\] calibrate "opts.calib.csv";$' opts.cml &&
    grep -q '^model m_3_iris_model {$' opts.cml &&
    "$CMLC" opts.cml --stats >/dev/null 2>>opts.err &&
    "$PY" "$EXPORT" forest_iris.pkl --calibrate iris_train.csv -o grid.cml --inputs 1 \
        >/dev/null 2>>opts.err &&
    grep -q '^    input x: f32\[4\] calibrate "grid.calib.csv" per_feature;$' grid.cml &&
    grep -q '^    quantize inputs 1, weights [4-8];$' grid.cml &&
    "$CMLC" grid.cml --stats >/dev/null 2>>opts.err; then
    ok "options: --inputs/--weights/--accumulator, --input-quant, --name; tree grid fallback"
else
    bad "options: $(cat opts.err)"
fi

# The compiled tree model: `cml predict --simulate` equals `cmlc --simulate`,
# and two rows run encrypted (--clear: FHE and the clear twin side by side).
head -n 2 cancer_test.csv >two.csv
if "$CMLC" tree_cancer.cml -o tree_cancer.so 2>so.err &&
    "$CML" predict tree_cancer.so cancer_test.csv --simulate >predict.out 2>so.err &&
    cmp -s predict.out tree_cancer.out &&
    "$CML" predict tree_cancer.so two.csv --clear >fhe.out 2>so.err; then
    ok "tree_cancer.so: cml predict --simulate = cmlc --simulate; encrypted: $(tail -n 1 so.err)"
else
    bad "tree_cancer.so: $(cat so.err)"
fi

# ---- XGBoost JSON models (made from scikit-learn boosting: no xgboost here) --------
for kind in binary multi reg; do
    if ! "$PY" "$HERE/make_xgboost.py" $kind >xgb_$kind.log 2>&1; then
        bad "xgboost $kind: making the model: $(cat xgb_$kind.log)"
        continue
    fi
    for f in $kind.json ${kind}_train.csv ${kind}_test.csv $kind.ref; do mv $f xgb_$f; done
done
for kind in binary multi; do
    classes xgb_$kind xgb_$kind 100 # tree_bins: every split exact
done
if export_model xgb_reg xgb_reg; then
    r=$(paste -d, xgb_reg.ref xgb_reg.out | awk -F, '{ d = $2 - $1; if (d < 0) d = -d; if (d > m) m = d; n++ }
        END { printf "max |diff| %.3g over %d rows (need <= 1)", m, n; exit !(n > 0 && m <= 1) }')
    if [ $? -eq 0 ]; then ok "xgboost reg: $r"; else bad "xgboost reg: $r"; fi
fi
printf '{"learner": {"objective": {"name": "rank:pairwise"}, "learner_model_param": {"base_score": "0.5", "num_class": "0", "num_feature": "4"}, "gradient_booster": {"name": "gbtree", "model": {"tree_info": [], "trees": []}}}}' >rank.json
fails xgb_objective "cml-export: rank.json: XGBoost objective 'rank:pairwise' is not supported (" \
    -- rank.json --calibrate iris_train.csv -o out.cml

# ---- error cases ---------------------------------------------------------------------
fails unsupported "cml-export: unsupported estimator 'SVC' (supported: LinearRegression, " \
    -- svc.pkl --calibrate iris_train.csv -o out.cml
fails knn_weights "cml-export: KNeighborsClassifier with weights='distance' is not supported (uniform only: the vote counts the k labels)" \
    -- knn_dist.pkl --calibrate iris_train.csv -o out.cml
fails pipeline "cml-export: unsupported estimator 'Pipeline' with 3 steps (StandardScaler, StandardScaler, LogisticRegression): only a single estimator, optionally after one scaler (StandardScaler, MinMaxScaler, MaxAbsScaler), can be exported" \
    -- pipeline.pkl --calibrate iris_train.csv -o out.cml
fails width "cml-export: wide.csv has 5 columns, but the estimator 'LogisticRegression' expects 4 features" \
    -- logistic_iris.pkl --calibrate wide.csv -o out.cml
fails check_width "cml-export: wide.csv has 5 columns, but the estimator 'RandomForestClassifier' expects 4 features" \
    -- forest_iris.pkl --calibrate iris_train.csv -o out.cml --check wide.csv
fails missing "cml-export: cannot read 'nope.pkl': No such file or directory" \
    -- nope.pkl --calibrate iris_train.csv -o out.cml
fails not_a_model "cml-export: cannot load 'iris_test.csv' as a pickled or joblib estimator: " \
    -- iris_test.csv --calibrate iris_train.csv -o out.cml
fails bad_csv "cml-export: ragged.csv:3: row has 3 values, expected 4 (as on line 2)" \
    -- logistic_iris.pkl --calibrate ragged.csv -o out.cml
fails bits "cml-export: --weights 1 is out of range (2-16 bits)" \
    -- logistic_iris.pkl --calibrate iris_train.csv -o out.cml --weights 1

# ---- ONNX graphs (cml-export MODEL.onnx) ------------------------------------------
# Built with onnx.helper as torch.onnx.export writes them (a symbolic batch
# axis), from weights fitted with scikit-learn; --check compares the exported
# model with cml-export's interpreter of the ONNX graph itself.
if ! "$PY" -c 'import onnx' 2>/dev/null; then
    echo "skip: the ONNX cases: $PY cannot import onnx (apt-get install python3-onnx)"
else
"$PY" - <<'EOF' || { echo "FAIL building the ONNX models"; echo "$pass passed, $((fail + 1)) failed"; exit 1; }
import warnings
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

warnings.simplefilter("ignore")


def init(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def save(path, nodes, inits, in_shape, out_shape, opset=13):
    g = helper.make_graph(nodes, "main_graph",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, in_shape)],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)],
                          inits)
    onnx.save(helper.make_model(g, producer_name="run-export.sh",
                                opset_imports=[helper.make_opsetid("", opset)]), path)


# (1) an iris MLP: Gemm (transB=1, as torch.nn.Linear) + Relu + Gemm + Softmax
# with the weights of a scikit-learn MLPClassifier (the split of iris_*.csv).
X, y = load_iris(return_X_y=True)
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3000, random_state=0).fit(Xtr, ytr)
np.savetxt("onnx_mlp_iris.ref", mlp.predict(Xte), fmt="%d")
(W1, W2), (b1, b2) = mlp.coefs_, mlp.intercepts_
save("onnx_mlp_iris.onnx", [
    helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["h1"], name="fc1", transB=1),
    helper.make_node("Relu", ["h1"], ["a1"], name="relu1"),
    helper.make_node("Gemm", ["a1", "fc2.weight", "fc2.bias"], ["h2"], name="fc2", transB=1),
    helper.make_node("Softmax", ["h2"], ["output"], name="softmax", axis=1)],
    [init("fc1.weight", W1.T), init("fc1.bias", b1), init("fc2.weight", W2.T),
     init("fc2.bias", b2)], ["batch", 4], ["batch", 3])

# (2) a CNN on the 8x8 digits: Conv (2 fixed 3x3 edge filters, pad 1) + Relu
# + AveragePool 2x2 + Flatten + Gemm, the Gemm a logistic regression on the
# pooled features (deterministic). NAME.ref: the float model's classes.
X, y = load_digits(return_X_y=True)
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
np.savetxt("digits_train.csv", Xtr, fmt="%d", delimiter=",")
np.savetxt("digits_test.csv", Xte, fmt="%d", delimiter=",")
K = np.array([[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
              [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]]).reshape(2, 1, 3, 3) / 16
kb = np.array([0.125, -0.125])


def features(X):
    p = np.pad(X.reshape(-1, 1, 8, 8), ((0, 0), (0, 0), (1, 1), (1, 1)))
    c = np.zeros((len(X), 2, 8, 8))
    for i in range(8):
        for j in range(8):
            c[:, :, i, j] = np.tensordot(p[:, :, i:i + 3, j:j + 3], K,
                                         axes=([1, 2, 3], [1, 2, 3])) + kb
    return np.maximum(c, 0).reshape(len(X), 2, 4, 2, 4, 2).mean(axis=(3, 5)).reshape(len(X), -1)


lr = LogisticRegression(max_iter=5000).fit(features(Xtr), ytr)
np.savetxt("onnx_cnn_digits.ref", lr.predict(features(Xte)), fmt="%d")
save("onnx_cnn_digits.onnx", [
    helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["c"], name="conv",
                     kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
    helper.make_node("Relu", ["c"], ["r"], name="relu"),
    helper.make_node("AveragePool", ["r"], ["p"], name="pool", kernel_shape=[2, 2],
                     strides=[2, 2]),
    helper.make_node("Flatten", ["p"], ["f"], name="flatten", axis=1),
    helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["output"], name="fc", transB=1)],
    [init("conv.weight", K), init("conv.bias", kb), init("fc.weight", lr.coef_),
     init("fc.bias", lr.intercept_)], ["batch", 1, 8, 8], ["batch", 10])

# (3) errors: an unsupported op; a grouped convolution; an AveragePool whose
# padding does not count in the mean.
save("onnx_lstm.onnx", [
    helper.make_node("LSTM", ["input", "W", "R"], ["output"], name="lstm_1", hidden_size=2)],
    [init("W", np.ones((1, 8, 4))), init("R", np.ones((1, 8, 2)))], [1, 1, 4], [1, 1, 1, 2])
save("onnx_group.onnx", [
    helper.make_node("Conv", ["input", "W"], ["output"], name="conv_g", group=2,
                     kernel_shape=[3, 3])],
    [init("W", np.ones((2, 1, 3, 3)))], ["batch", 2, 8, 8], ["batch", 2, 6, 6])
save("onnx_pool.onnx", [
    helper.make_node("Conv", ["input", "W"], ["c"], name="conv", kernel_shape=[3, 3]),
    helper.make_node("AveragePool", ["c"], ["output"], name="pool", kernel_shape=[3, 3],
                     pads=[1, 1, 1, 1])],
    [init("W", np.ones((1, 1, 3, 3)))], ["batch", 1, 8, 8], ["batch", 1, 6, 6])
EOF

# The iris MLP: per_feature inputs and the width search, as for an
# MLPClassifier (100% at the time of writing).
classes onnx_mlp_iris iris 90 --argmax
# The CNN, against the float model's classes: 4-bit inputs, weights and
# activations (one scale for the image) flip some of the float model's close
# calls, as in examples/digits_cnn.cml (93.0% at the time of writing;
# 98% at 8 bits; the float model: 92.2% of the labels).
classes onnx_cnn_digits digits 85 --argmax

if grep -q '^    input x: f32\[4\] calibrate "onnx_mlp_iris.calib.csv" per_feature;$' onnx_mlp_iris.cml &&
    grep -q '^// Bits: searched 144 widths on the calibration rows: ' onnx_mlp_iris.cml &&
    grep -q '^    h1 = relu(dense(x, W1, b1));$' onnx_mlp_iris.cml &&
    grep -q '^    return argmax(dense(h1, W2, b2));$' onnx_mlp_iris.cml &&
    grep -q '^    input x: f32\[1, 8, 8\] calibrate "onnx_cnn_digits.calib.csv";$' onnx_cnn_digits.cml &&
    grep -q '^    quantize inputs 4, weights 4, activations 4, accumulator 6;$' onnx_cnn_digits.cml &&
    grep -q '^    h1 = relu(conv2d(x, W1, b1, stride=1, padding=1));$' onnx_cnn_digits.cml &&
    grep -q '^    h2 = avgpool2d(h1, 2, stride=2);$' onnx_cnn_digits.cml &&
    grep -q '^    h3 = flatten(h2);$' onnx_cnn_digits.cml &&
    grep -q '^    return argmax(dense(h3, W2, b2));$' onnx_cnn_digits.cml &&
    [ "$(sed -n 2p onnx_cnn_digits.calib.csv | tr -cd , | wc -c)" -eq 63 ]; then
    ok "ONNX format: per_feature and image inputs, the width search, the layers, argmax"
else
    bad "ONNX format of the exported files"
fi

# Without --argmax the final Softmax stays, computed by the client.
if "$PY" "$EXPORT" onnx_mlp_iris.onnx --calibrate iris_train.csv -o soft.cml \
        >/dev/null 2>soft.err &&
    grep -q '^    return softmax(dense(h1, W2, b2));$' soft.cml &&
    grep -q '^    quantize inputs 4, weights 4, activations 4, accumulator 6;$' soft.cml &&
    "$CMLC" soft.cml --simulate --input iris_test.csv >soft.out 2>>soft.err &&
    [ "$(head -n 1 soft.out | tr -cd , | wc -c)" -eq 2 ]; then
    ok "ONNX softmax output: return softmax(...) with the MLP defaults"
else
    bad "ONNX softmax output: $(cat soft.err)"
fi

fails onnx_unsupported "cml-export: unsupported ONNX op 'LSTM' (node 'lstm_1'; supported: Gemm, MatMul, Add, Conv, " \
    -- onnx_lstm.onnx --calibrate iris_train.csv -o out.cml
fails onnx_group "cml-export: Conv (node 'conv_g') with group=2 is not supported (grouped and depthwise convolutions; group=1 only)" \
    -- onnx_group.onnx --calibrate digits_train.csv -o out.cml
fails onnx_pool "cml-export: AveragePool (node 'pool') with padding and count_include_pad=0 is not supported: avgpool2d counts the padded zeros in the mean (PyTorch's default, count_include_pad=True)" \
    -- onnx_pool.onnx --calibrate digits_train.csv -o out.cml
fails onnx_width "cml-export: iris_train.csv has 4 columns, but the ONNX graph's input 'input' [batch, 1, 8, 8] has 64 values per sample" \
    -- onnx_cnn_digits.onnx --calibrate iris_train.csv -o out.cml
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
