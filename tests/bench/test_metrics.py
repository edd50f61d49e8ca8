"""bench.tasks.recognition.metrics against scikit-learn on random inputs (the oracle for every metric)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

from bench.tasks.recognition.metrics import (
    bootstrap_ci,
    classification_metrics,
    predict_labels,
    top_k_accuracy,
    top_k_labels,
)


def _random_case(seed: int, n: int, n_classes: int, missing: int):
    """Random labels/scores; ``missing`` classes never occur in y_true."""
    rng = np.random.default_rng(seed)
    present = np.arange(missing, n_classes)
    y_true = rng.choice(present, size=n)
    scores = rng.normal(size=(n, n_classes))
    # make the predictions informative so that every metric is away from chance
    scores[np.arange(n), y_true] += rng.uniform(0, 2.0, size=n)
    return y_true, scores


CASES = [
    (0, 60, 4, 0),    # few classes: top-5 clips to C=4
    (1, 200, 10, 0),
    (2, 150, 12, 3),  # 3 classes absent from y_true (may still be predicted)
    (3, 40, 7, 2),
    (4, 25, 30, 0),   # many classes, some absent from both y_true and y_pred
]


@pytest.mark.parametrize("seed,n,n_classes,missing", CASES)
def test_every_metric_matches_sklearn(seed, n, n_classes, missing):
    y_true, scores = _random_case(seed, n, n_classes, missing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns on k >= C and on absent classes
        _check_against_sklearn(seed, y_true, scores, n_classes)


def _check_against_sklearn(seed, y_true, scores, n_classes):
    m = classification_metrics(y_true, scores, n_boot=50, seed=seed)
    y_pred = scores.argmax(axis=1)
    labels = np.arange(n_classes)

    assert m.n == len(y_true)
    assert m.top1 == pytest.approx(accuracy_score(y_true, y_pred))
    k = min(5, n_classes)
    assert m.top5 == pytest.approx(top_k_accuracy_score(y_true, scores, k=k, labels=labels))
    assert m.mean_class_acc == pytest.approx(balanced_accuracy_score(y_true, y_pred))

    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    np.testing.assert_allclose(m.precision, p)
    np.testing.assert_allclose(m.recall, r)
    np.testing.assert_allclose(m.f1, f)
    np.testing.assert_array_equal(m.support, s)

    present = np.unique(y_true)
    mp, mr, mf, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=present, average="macro", zero_division=0
    )
    assert m.macro_precision == pytest.approx(mp)
    assert m.macro_recall == pytest.approx(mr)
    assert m.macro_f1 == pytest.approx(mf)
    # with macro over the classes present in y_true, macro recall is the mean class accuracy
    assert m.macro_recall == pytest.approx(m.mean_class_acc)

    np.testing.assert_array_equal(m.confusion, confusion_matrix(y_true, y_pred, labels=labels))


def test_missing_classes_follow_zero_division_rule():
    # class 2 is in y_true but never predicted; class 3 is predicted but absent from y_true
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 3, 1, 1, 0, 1])
    scores = np.eye(4)[y_pred]
    m = classification_metrics(y_true, scores, n_boot=10)
    p, r, f, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=np.arange(4), average=None, zero_division=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # y_pred holds class 3, absent from y_true
        balanced = balanced_accuracy_score(y_true, y_pred)
    np.testing.assert_allclose(m.precision, p)
    np.testing.assert_allclose(m.recall, r)
    np.testing.assert_allclose(m.f1, f)
    assert m.recall[2] == 0.0 and m.precision[3] == 0.0 and m.f1[3] == 0.0
    assert m.mean_class_acc == pytest.approx(balanced)
    assert m.mean_class_acc == pytest.approx((1 / 2 + 2 / 2 + 0 / 2) / 3)


def test_ties_go_to_lowest_class_index():
    scores = np.array([[0.2, 0.5, 0.5, 0.1], [1.0, 1.0, 1.0, 1.0], [0.0, 0.3, 0.0, 0.3]])
    np.testing.assert_array_equal(predict_labels(scores), [1, 0, 1])
    np.testing.assert_array_equal(top_k_labels(scores, 3), [[1, 2, 0], [0, 1, 2], [1, 3, 0]])
    # the first top-k entry is the top-1 prediction
    np.testing.assert_array_equal(top_k_labels(scores, 1)[:, 0], predict_labels(scores))
    assert top_k_accuracy(np.array([2, 3, 3]), scores, 2) == pytest.approx(2 / 3)


def test_bootstrap_matches_slow_sklearn_reference():
    y_true, scores = _random_case(7, 80, 6, 1)
    y_pred = scores.argmax(axis=1)
    ci = bootstrap_ci(y_true, y_pred, 6, n_boot=200, seed=11)
    # reference: the same resamples, statistics computed one by one by sklearn
    idx = np.random.default_rng(11).integers(0, len(y_true), size=(200, len(y_true)))
    top1 = [accuracy_score(y_true[i], y_pred[i]) for i in idx]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # y_pred classes absent from a resample's y_true
        mca = [balanced_accuracy_score(y_true[i], y_pred[i]) for i in idx]
    np.testing.assert_allclose(ci["top1"], np.percentile(top1, [2.5, 97.5]))
    np.testing.assert_allclose(ci["mean_class_acc"], np.percentile(mca, [2.5, 97.5]))
    assert ci["top1"][0] <= accuracy_score(y_true, y_pred) <= ci["top1"][1]


def test_bootstrap_is_seeded():
    y_true, scores = _random_case(8, 50, 5, 0)
    y_pred = scores.argmax(axis=1)
    a = bootstrap_ci(y_true, y_pred, 5, n_boot=100, seed=3)
    b = bootstrap_ci(y_true, y_pred, 5, n_boot=100, seed=3)
    c = bootstrap_ci(y_true, y_pred, 5, n_boot=100, seed=4)
    assert a == b
    assert a != c


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="NaN"):
        classification_metrics(np.array([0]), np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\)"):
        classification_metrics(np.array([0, 5]), np.ones((2, 2)))
    with pytest.raises(ValueError, match="n_videos, n_classes"):
        classification_metrics(np.array([0]), np.ones(3))
