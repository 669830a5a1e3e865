"""make_xgboost.py KIND — writes KIND.json, an XGBoost model in the layout of
Booster.save_model("model.json"), built from a scikit-learn gradient boosting
model (Debian has no xgboost; its JSON layout is what cml-export reads), plus
KIND_train.csv, KIND_test.csv and KIND.ref (scikit-learn's predictions,
which the XGBoost model reproduces: XGBoost sends a sample left when
float32(x) < c, scikit-learn when float32(x) <= t, so c is the float32 just
above t). KIND: binary (breast cancer, binary:logistic), multi (iris,
multi:softprob), reg (diabetes, reg:squarederror)."""
import json, sys
import numpy as np
from sklearn.datasets import load_breast_cancer, load_iris, load_diabetes
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.model_selection import train_test_split

def f32_cond(t):
    a = np.float32(t)
    if float(a) > t: a = np.nextafter(a, np.float32(-np.inf))
    return float(np.nextafter(a, np.float32(np.inf)))  # float32(x) <= t  <=>  float32(x) < c

def tree_json(tree, scale, i):
    t = tree.tree_
    n = t.node_count
    left = [int(v) for v in t.children_left]; right = [int(v) for v in t.children_right]
    cond = [f32_cond(t.threshold[j]) if left[j] != -1 else float(np.float32(scale * t.value[j][0][0])) for j in range(n)]
    feat = [int(t.feature[j]) if left[j] != -1 else 0 for j in range(n)]
    return {"id": i, "left_children": left, "right_children": right, "split_indices": feat,
            "split_conditions": cond, "default_left": [0] * n, "split_type": [0] * n,
            "tree_param": {"num_nodes": str(n), "num_feature": str(t.n_features)}}

def model_json(est, objective, base_score, n_class, n_feat):
    trees, info = [], []
    for stage in est.estimators_:
        for k, tr in enumerate(stage):
            trees.append(tree_json(tr, est.learning_rate, len(trees))); info.append(k)
    return {"learner": {"objective": {"name": objective},
                        "learner_model_param": {"base_score": repr(base_score), "num_class": str(n_class), "num_feature": str(n_feat)},
                        "gradient_booster": {"name": "gbtree", "model": {"tree_info": info, "trees": trees}}},
            "version": [1, 7, 6]}

which = sys.argv[1]
if which == "binary":
    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    est = GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0).fit(Xtr, ytr)
    raw0 = float(est._raw_predict_init(Xtr[:1])[0, 0])
    doc = model_json(est, "binary:logistic", 1 / (1 + np.exp(-raw0)), 0, X.shape[1])
elif which == "multi":
    X, y = load_iris(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    est = GradientBoostingClassifier(n_estimators=8, max_depth=2, random_state=0).fit(Xtr, ytr)
    doc = model_json(est, "multi:softprob", 0.5, 3, X.shape[1])
else:
    X, y = load_diabetes(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    est = GradientBoostingRegressor(n_estimators=15, max_depth=2, random_state=0).fit(Xtr, ytr)
    doc = model_json(est, "reg:squarederror", float(est.init_.constant_[0][0]), 0, X.shape[1])
json.dump(doc, open(which + ".json", "w"))
np.savetxt(which + "_train.csv", Xtr, delimiter=",", fmt="%.17g")
np.savetxt(which + "_test.csv", Xte, delimiter=",", fmt="%.17g")
p = est.predict(Xte)
np.savetxt(which + ".ref", p, fmt="%.9g")
