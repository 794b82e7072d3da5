"""LRSC's teacher Φ_T: the networks, cross-entropy training, cross-fitting and its cache."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.deep.teacher import (
    IMAGE_SCHEDULE,
    TEXT_SCHEDULE,
    ResNet18,
    TeacherArchitecture,
    architecture_for,
    build_teacher,
    cross_fitted_teachers,
    extract_features,
    stratified_halves,
    train_teacher,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread", "private_data_home")


def blobs(n_per_class: int, n_classes: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Well separated Gaussian clusters in R^dim."""
    rng = np.random.default_rng(seed)
    centres = 4.0 * rng.standard_normal((n_classes, dim))
    y = np.repeat(np.arange(n_classes), n_per_class)
    return (centres[y] + rng.standard_normal((len(y), dim))).astype(np.float32), y


def bars(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """32×32 images of three classes: a bright horizontal, vertical or diagonal bar."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n_per_class)
    images = 0.1 * rng.random((len(y), 1, 32, 32)).astype(np.float32)
    for i, label in enumerate(y):
        offset = rng.integers(8, 24)
        if label == 0:
            images[i, 0, offset - 2 : offset + 2, :] += 1.0
        elif label == 1:
            images[i, 0, :, offset - 2 : offset + 2] += 1.0
        else:
            for k in range(32):
                images[i, 0, k, max(0, k - 2) : k + 2] += 1.0
    return images, y


TINY_TEXT = TeacherArchitecture("mlp", hidden=(32, 32, 16))
TINY_TEXT_SCHEDULE = dataclasses.replace(TEXT_SCHEDULE, epochs=15, batch_size=16, lr=3e-3)
TINY_IMAGE = TeacherArchitecture("resnet18", width=4)
TINY_IMAGE_SCHEDULE = dataclasses.replace(IMAGE_SCHEDULE, epochs=6, batch_size=16, lr=0.05)


def test_resnet18_has_17_convolutions_and_one_linear_layer():
    model = ResNet18(in_channels=1, n_classes=5, width=8)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(convs) == 17 and len(linears) == 1
    assert model.feature_dim == 64  # 8 × width
    features = model.features(torch.zeros(2, 1, 32, 32))
    assert features.shape == (2, 64) and model(torch.zeros(2, 1, 32, 32)).shape == (2, 5)


def test_architecture_follows_the_sample_shape_and_the_paper_width():
    assert architecture_for((1, 32, 32)) == TeacherArchitecture("resnet18", width=64)
    assert architecture_for((256,)).kind == "mlp"
    mlp = build_teacher(TeacherArchitecture("mlp"), (256,), n_classes=10, seed=0)
    assert sum(isinstance(m, nn.Linear) for m in mlp.modules()) == 4
    with pytest.raises(ValueError, match="takes images"):
        build_teacher(TeacherArchitecture("resnet18"), (256,), n_classes=10, seed=0)


def test_initialisation_is_seeded():
    first = build_teacher(TINY_IMAGE, (1, 32, 32), 3, seed=7).state_dict()
    again = build_teacher(TINY_IMAGE, (1, 32, 32), 3, seed=7).state_dict()
    other = build_teacher(TINY_IMAGE, (1, 32, 32), 3, seed=8).state_dict()
    assert all(torch.equal(first[name], again[name]) for name in first)
    assert not torch.equal(first["stem.0.weight"], other["stem.0.weight"])


def test_text_teacher_learns_separable_classes():
    X, y = blobs(30, 4, 20, seed=0)
    model = build_teacher(TINY_TEXT, (20,), 4, seed=0)
    history = train_teacher(model, torch.from_numpy(X), torch.from_numpy(y), TINY_TEXT_SCHEDULE, 0)
    assert len(history) == 15 and history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["accuracy"] >= 0.95


def test_image_teacher_learns_separable_classes():
    X, y = bars(16, seed=0)
    model = build_teacher(TINY_IMAGE, (1, 32, 32), 3, seed=0)
    history = train_teacher(
        model, torch.from_numpy(X), torch.from_numpy(y), TINY_IMAGE_SCHEDULE, seed=0
    )
    assert history[-1]["accuracy"] >= 0.9
    with torch.no_grad():
        predicted = model.eval()(torch.from_numpy(X)).argmax(dim=1).numpy()
    assert (predicted == y).mean() >= 0.9  # in eval mode (batch-norm running statistics) too


def test_halves_are_disjoint_and_stratified():
    y = np.array([0] * 7 + [1] * 4 + [2] * 1)
    first, second = stratified_halves(y, seed=3)
    assert set(first).isdisjoint(second) and len(first) + len(second) == len(y)
    assert np.bincount(y[first], minlength=3).tolist() == [4, 2, 1]
    assert np.bincount(y[second], minlength=3).tolist() == [3, 2, 0]
    assert not np.array_equal(first, stratified_halves(y, seed=4)[0])


def test_cross_fitted_features_come_from_the_other_half():
    X, y = blobs(12, 3, 10, seed=1)
    teachers = cross_fitted_teachers(
        X, y + 5, TINY_TEXT, TINY_TEXT_SCHEDULE, seed=0, device="cpu", use_cache=False
    )
    first, second = teachers.halves
    assert teachers.meta_features.shape == (36, 16) and teachers.n_classes == 3
    assert set(first).isdisjoint(second) and len(first) + len(second) == 36
    assert (teachers.meta_group[first] == 0).all() and (teachers.meta_group[second] == 1).all()
    for half, others in ((0, second), (1, first)):
        expected = extract_features(teachers.teacher(half), torch.from_numpy(X[others]))
        np.testing.assert_allclose(teachers.meta_features[others], expected.numpy(), rtol=1e-6)
    own = extract_features(teachers.teacher(0), torch.from_numpy(X[first])).numpy()
    assert not np.allclose(teachers.meta_features[first], own)  # not the teacher that saw them
    target, _ = blobs(5, 3, 10, seed=2)
    np.testing.assert_allclose(
        teachers.target_features(target, device="cpu", use_cache=False),
        extract_features(teachers.teacher(0), torch.from_numpy(target)).numpy(),
        rtol=1e-6,
    )


def test_cache_hit_returns_identical_features():
    X, y = blobs(10, 3, 10, seed=3)
    target, _ = blobs(4, 3, 10, seed=4)
    first = cross_fitted_teachers(X, y, TINY_TEXT, TINY_TEXT_SCHEDULE, seed=1, device="cpu")
    first_target = first.target_features(target, device="cpu")
    again = cross_fitted_teachers(X, y, TINY_TEXT, TINY_TEXT_SCHEDULE, seed=1, device="cpu")
    again_target = again.target_features(target, device="cpu")
    assert not first.cached and not first.target_cached and again.cached and again.target_cached
    np.testing.assert_array_equal(first.meta_features, again.meta_features)
    np.testing.assert_array_equal(first_target, again_target)
    assert again.histories == first.histories
    other = cross_fitted_teachers(X, y, TINY_TEXT, TINY_TEXT_SCHEDULE, seed=2, device="cpu")
    assert not other.cached  # the seed is part of the key


def test_bad_meta_data_is_refused():
    X, y = blobs(5, 2, 4, seed=0)
    with pytest.raises(ValueError, match=">= 2 classes"):
        cross_fitted_teachers(X, np.zeros(10), TINY_TEXT, TEXT_SCHEDULE, 0, "cpu", False)
    with pytest.raises(ValueError, match="one label each"):
        cross_fitted_teachers(X, y[:3], TINY_TEXT, TEXT_SCHEDULE, 0, "cpu", False)
