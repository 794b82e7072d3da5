import numpy as np
import pytest

from benchmark.metrics import clustering_accuracy, score


def test_accuracy_is_invariant_to_label_permutation():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert clustering_accuracy(y, np.array([2, 2, 0, 0, 1, 1])) == 1.0


def test_accuracy_hand_computed_case():
    # clusters {0,1,2} -> class 0 (2 right), {3,4,5} -> class 1 (3 right): 5/6
    y_true = np.array([0, 0, 1, 1, 1, 1])
    y_pred = np.array([5, 5, 5, 7, 7, 7])
    assert clustering_accuracy(y_true, y_pred) == pytest.approx(5 / 6)


def test_accuracy_with_more_clusters_than_classes_counts_unmatched_as_errors():
    y_true = np.array([0, 0, 0, 1])
    y_pred = np.array([0, 1, 2, 3])
    assert clustering_accuracy(y_true, y_pred) == pytest.approx(2 / 4)


def test_scores_of_a_perfect_and_a_hand_computed_labelling():
    y = np.array([0, 0, 1, 1])
    assert score(y, y[::-1]) == {"acc": 1.0, "nmi": 1.0, "ari": 1.0}
    # one cluster for everything: NMI 0, ARI 0, ACC = majority fraction
    s = score(np.array([0, 0, 0, 1]), np.zeros(4, dtype=int))
    assert s["acc"] == 0.75 and s["nmi"] == pytest.approx(0.0) and s["ari"] == pytest.approx(0.0)


def test_ari_hand_computed():
    # contingency [[2,0],[1,1]]: sum C(nij,2)=1, a=C(2,2)+C(2,2)=2, b=C(3,2)+C(1,2)=3, C(4,2)=6
    # expected = 2*3/6 = 1; max = 2.5; ARI = (1-1)/(2.5-1) = 0
    assert score(np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1]))["ari"] == pytest.approx(0.0)


def test_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError, match="labels"):
        clustering_accuracy(np.array([0, 1]), np.array([0]))
