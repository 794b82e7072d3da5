"""LRSC's deeper network Φ_T (Li et al., AAAI 2021, "Model-level" and the "Remark" of "Training").

Φ_T is trained on the meta data M with a classification (cross-entropy) loss; its
penultimate layer gives the features T of Eq. (5). Networks ("Implementation Details"):

* images: "a deep convolutional neural network with 17 convolutional layers plus one
  fully-connected layer" on 32×32 inputs, built here as ResNet-18 in its CIFAR form
  (He et al., CVPR 2016; a 3×3 stem, four stages of two basic blocks, global average
  pooling, one linear layer; the 1×1 projection shortcuts are not counted, as in the
  name ResNet-18). ``width`` is the stem's channel count (stages: w, 2w, 4w, 8w); the
  paper's network is w = 64, and a smaller w keeps CPU training affordable (recorded
  in the cache key and by the caller).
* text: "a deep neural network with four fully-connected layers": D → h1 → h2 → h3 →
  classes with ReLU; the paper gives no widths (ours: :data:`TEXT_HIDDEN`).

Cross-fitting (the paper's Remark): M is split into two halves M1, M2 (seeded,
stratified by class); a teacher trained on M1 extracts the features of M2 and one
trained on M2 those of M1, so no meta point's features come from a network that saw
its label. The target's features come from the teacher trained on M1: the paper allows
either, and averaging the two teachers' features would add up coordinates of two
separately trained networks, which do not correspond. Because each half's features
come from a different network, distances between a point of M1 and one of M2 mean
little; :attr:`CrossFittedTeachers.meta_group` tells the episode sampler which half
each point is in, so that an episode's W compares features of one network.

Teachers (with the cross-fitted meta features) and target features are cached with
:class:`benchmark.deep.artifact_cache.ArtifactCache` under the kinds ``teachers`` and
``teacher-features``; keys hold the meta data's digest, the architecture with its
width, the seed, the schedule and :data:`TEACHER_CODE_VERSION`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from benchmark.deep.artifact_cache import CODE_VERSIONS, ArtifactCache, array_digest
from benchmark.deep.estimator import resolve_device

log = logging.getLogger(__name__)

TEACHER_CODE_VERSION = CODE_VERSIONS["teachers"]
"""Bumped (there) whenever a change here changes what a teacher or its features are."""
PAPER_WIDTH = 64
"""ResNet-18's stem width (stages 64-128-256-512): the paper's network."""
TEXT_HIDDEN = (512, 256, 128)
"""Hidden widths of the 4-layer text teacher (our choice: the paper gives none)."""
EXTRACTION_BATCH = 512


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with batch norm and an identity (or 1×1 projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18 for 32×32 images: 17 convolutions (stem + 8 blocks × 2) and one linear layer."""

    def __init__(self, in_channels: int, n_classes: int, width: int = PAPER_WIDTH) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"the teacher's width must be >= 1, got {width}")
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        blocks: list[nn.Module] = []
        c_in = width
        for stage in range(4):
            c_out = width * 2**stage
            for block in range(2):
                blocks.append(BasicBlock(c_in, c_out, 2 if stage > 0 and block == 0 else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c_in, n_classes)
        self.feature_dim = c_in

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate layer: globally average-pooled activations of the last stage."""
        return self.blocks(self.stem(x)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


class MLPTeacher(nn.Module):
    """Four fully connected layers with ReLU: ``input_dim → h1 → h2 → h3 → n_classes``."""

    def __init__(self, input_dim: int, n_classes: int, hidden: Sequence[int] = TEXT_HIDDEN):
        super().__init__()
        if len(hidden) != 3:
            raise ValueError(f"the text teacher has 4 layers, so 3 hidden widths; got {hidden}")
        widths = [int(input_dim), *(int(h) for h in hidden)]
        layers: list[nn.Module] = []
        for d_in, d_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(d_in, d_out), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(widths[-1], n_classes)
        self.feature_dim = widths[-1]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate layer: the third hidden layer's activations."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def _initialise(model: nn.Module, generator: torch.Generator) -> None:
    """He-normal convolutions (fan-out, as torchvision's ResNet), He-uniform linear layers,
    unit/zero batch norm, zero biases; drawn from ``generator``."""
    for layer in model.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(
                layer.weight, mode="fan_out", nonlinearity="relu", generator=generator
            )
        elif isinstance(layer, nn.Linear):
            nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu", generator=generator)
            nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)


@dataclass(frozen=True)
class TeacherArchitecture:
    """Which Φ_T: ``resnet18`` (images, ``width``) or ``mlp`` (vectors, ``hidden``)."""

    kind: Literal["resnet18", "mlp"]
    width: int = PAPER_WIDTH
    hidden: tuple[int, ...] = TEXT_HIDDEN

    def describe(self) -> dict[str, Any]:
        """The settings that define the network (for cache keys and records)."""
        if self.kind == "resnet18":
            return {"kind": self.kind, "width": self.width}
        return {"kind": self.kind, "hidden": list(self.hidden)}


def architecture_for(sample_shape: Sequence[int], width: int = PAPER_WIDTH) -> TeacherArchitecture:
    """ResNet-18 of ``width`` for (C, 32, 32) images, the 4-layer MLP for (D,) vectors."""
    if len(sample_shape) == 3:
        return TeacherArchitecture("resnet18", width=width)
    if len(sample_shape) == 1:
        return TeacherArchitecture("mlp")
    raise ValueError(f"samples must be vectors (D,) or images (C, H, W), got {tuple(sample_shape)}")


def build_teacher(
    architecture: TeacherArchitecture, sample_shape: Sequence[int], n_classes: int, seed: int
) -> ResNet18 | MLPTeacher:
    """A freshly initialised Φ_T for samples of ``sample_shape`` and ``n_classes`` classes."""
    if architecture.kind == "resnet18":
        if len(sample_shape) != 3:
            raise ValueError(f"the ResNet-18 teacher takes images (C, H, W), got {sample_shape}")
        model: ResNet18 | MLPTeacher = ResNet18(sample_shape[0], n_classes, architecture.width)
    elif architecture.kind == "mlp":
        if len(sample_shape) != 1:
            raise ValueError(f"the MLP teacher takes vectors (D,), got {sample_shape}")
        model = MLPTeacher(sample_shape[0], n_classes, architecture.hidden)
    else:
        raise ValueError(f"unknown teacher kind {architecture.kind!r}; use 'resnet18' or 'mlp'")
    _initialise(model, torch.Generator().manual_seed(int(seed)))
    return model


@dataclass(frozen=True)
class TeacherSchedule:
    """Mini-batch training of Φ_T with cross-entropy; ``source`` says where it comes from.

    ``optimizer="sgd"``: SGD with Nesterov-free momentum and weight decay, the learning
    rate annealed by a cosine over all epochs; ``"adam"``: Adam at a constant rate.
    """

    optimizer: Literal["sgd", "adam"]
    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.0
    weight_decay: float = 0.0
    source: str = ""


IMAGE_SCHEDULE = TeacherSchedule(
    optimizer="sgd",
    epochs=30,
    batch_size=128,
    lr=0.1,
    momentum=0.9,
    weight_decay=5e-4,
    source=(
        "reference code: the common CIFAR ResNet-18 recipe (He et al. 2016; "
        "kuangliu/pytorch-cifar): SGD, lr 0.1, momentum 0.9, weight decay 5e-4, batch 128, "
        "cosine annealing; epochs: our choice (the paper gives none), no augmentation"
    ),
)
TEXT_SCHEDULE = TeacherSchedule(
    optimizer="adam",
    epochs=30,
    batch_size=128,
    lr=1e-3,
    source="choice: Adam at its default rate 1e-3, batch 128 (the paper gives none)",
)


def _optimizer(
    model: nn.Module, schedule: TeacherSchedule
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
    if schedule.optimizer == "sgd":
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=schedule.lr,
            momentum=schedule.momentum,
            weight_decay=schedule.weight_decay,
        )
        return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, schedule.epochs)
    if schedule.optimizer == "adam":
        optimizer = torch.optim.Adam(
            model.parameters(), lr=schedule.lr, weight_decay=schedule.weight_decay
        )
        return optimizer, None
    raise ValueError(f"unknown optimizer {schedule.optimizer!r}; use 'sgd' or 'adam'")


def train_teacher(
    model: ResNet18 | MLPTeacher,
    X: torch.Tensor,
    y: torch.Tensor,
    schedule: TeacherSchedule,
    seed: int,
    name: str = "teacher",
) -> list[dict[str, float]]:
    """Train ``model`` on (``X``, ``y``) with cross-entropy; one history entry per epoch.

    Batches are drawn in a seeded random order; ``X`` and ``y`` live on the model's
    device. Logs epoch, loss, training accuracy and the estimated time left.
    """
    if schedule.epochs < 1 or schedule.batch_size < 1:
        raise ValueError(f"need epochs >= 1 and batch_size >= 1, got {schedule}")
    optimizer, annealing = _optimizer(model, schedule)
    order_generator = torch.Generator().manual_seed(int(seed))
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    model.train()
    for epoch in range(schedule.epochs):
        total_loss, correct = 0.0, 0
        for batch in torch.randperm(len(y), generator=order_generator).split(schedule.batch_size):
            batch = batch.to(X.device)
            logits = model(X[batch])
            loss = nn.functional.cross_entropy(logits, y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(batch)
            correct += int((logits.detach().argmax(dim=1) == y[batch]).sum())
        if annealing is not None:
            annealing.step()
        history.append(
            {"epoch": epoch + 1, "loss": total_loss / len(y), "accuracy": correct / len(y)}
        )
        elapsed = time.perf_counter() - started
        log.info(
            "%s epoch %d/%d: cross-entropy %.4f, train accuracy %.3f, %.0f s left",
            name,
            epoch + 1,
            schedule.epochs,
            history[-1]["loss"],
            history[-1]["accuracy"],
            elapsed / (epoch + 1) * (schedule.epochs - epoch - 1),
        )
    return history


@torch.no_grad()
def extract_features(
    model: ResNet18 | MLPTeacher, X: torch.Tensor, batch_size: int = EXTRACTION_BATCH
) -> torch.Tensor:
    """Penultimate-layer features of ``X`` (n × feature_dim, float32, on the CPU)."""
    model.eval()
    return torch.cat([model.features(chunk).float().cpu() for chunk in X.split(batch_size)])


def stratified_halves(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices of two disjoint halves M1, M2 of the meta data, class by class.

    Each class's points are shuffled by ``numpy.random.default_rng(seed)`` and dealt
    alternately: the halves differ by at most one point per class (M1 gets the extra
    one), and a class of two or more points is in both.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    first, second = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        first.append(members[0::2])
        second.append(members[1::2])
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(second))


@dataclass
class CrossFittedTeachers:
    """Two teachers trained on M1 and M2 and the meta data's cross-fitted features.

    ``meta_features[i]`` are point i's features from the teacher trained on the half
    that does not hold it; ``meta_group[i]`` is 0 when point i is in M1 (features by the
    M2 teacher), 1 when it is in M2 (features by the M1 teacher). ``states[k]`` is the
    teacher trained on half k (M1: 0, M2: 1).
    """

    key: dict[str, Any]
    architecture: TeacherArchitecture
    sample_shape: tuple[int, ...]
    n_classes: int
    halves: tuple[np.ndarray, np.ndarray]
    states: tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]
    meta_features: np.ndarray
    meta_group: np.ndarray
    histories: tuple[list[dict[str, float]], list[dict[str, float]]]
    cached: bool
    target_cached: bool = field(default=False)

    def teacher(self, half: int, device: torch.device | str = "cpu") -> ResNet18 | MLPTeacher:
        """The teacher trained on half ``half`` (0: M1, 1: M2), in eval mode on ``device``."""
        model = build_teacher(self.architecture, self.sample_shape, self.n_classes, seed=0)
        model.load_state_dict(self.states[half])
        return model.to(device).eval()

    def target_features(
        self, X_target: np.ndarray, device: str = "auto", use_cache: bool = True
    ) -> np.ndarray:
        """Features of the target data by the teacher trained on M1 (n × p, float32)."""
        X_target = np.ascontiguousarray(X_target, dtype=np.float32)
        if tuple(X_target.shape[1:]) != self.sample_shape:
            raise ValueError(
                f"target samples have shape {X_target.shape[1:]}, but the teachers were trained "
                f"on samples of shape {self.sample_shape}"
            )
        torch_device = resolve_device(device)

        def build() -> dict[str, Any]:
            model = self.teacher(0, torch_device)
            data = torch.from_numpy(X_target).to(torch_device)
            return {"features": extract_features(model, data)}

        if not use_cache:
            self.target_cached = False
            return build()["features"].numpy()
        key = {"teachers": self.key, "target": array_digest(X_target), "extractor": "M1"}
        value, self.target_cached = ArtifactCache("teacher-features").get_or_build(key, build)
        return value["features"].numpy()


def teacher_key(
    X: np.ndarray,
    y: np.ndarray,
    architecture: TeacherArchitecture,
    schedule: TeacherSchedule,
    seed: int,
) -> dict[str, Any]:
    """Everything that determines a pair of cross-fitted teachers."""
    return {
        "meta_data": {"X": array_digest(X), "y": array_digest(y)},
        "architecture": architecture.describe(),
        "seed": int(seed),
        "schedule": asdict(schedule),
        "split": "stratified halves, dealt alternately",
        "code_version": TEACHER_CODE_VERSION,
    }


def cross_fitted_teachers(
    X: np.ndarray,
    y: np.ndarray,
    architecture: TeacherArchitecture,
    schedule: TeacherSchedule,
    seed: int,
    device: str = "auto",
    use_cache: bool = True,
) -> CrossFittedTeachers:
    """Train Φ_T on M1 and on M2 and extract each half's features with the other teacher.

    ``X`` holds the meta data (images (n̂, C, H, W) or vectors (n̂, D)), ``y`` its class
    labels (any integers). The teacher of half k (M1: 0, M2: 1) is initialised and its
    batches shuffled with ``seed + k``; the halves are drawn with ``seed``. Loaded from
    the ``teachers`` cache when this very configuration was trained before.
    """
    X = np.ascontiguousarray(X, dtype=np.float32)
    y = np.asarray(y)
    if X.ndim not in (2, 4) or len(X) != len(y):
        raise ValueError(
            f"meta data must be vectors (n, D) or images (n, C, H, W) with one label each; "
            f"got X of shape {X.shape} and {len(y)} labels"
        )
    classes, labels = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"the teacher is a classifier: meta data needs >= 2 classes, got {classes}"
        )
    sample_shape = tuple(int(s) for s in X.shape[1:])
    key = teacher_key(X, labels, architecture, schedule, seed)
    torch_device = resolve_device(device)

    def build() -> dict[str, Any]:
        halves = stratified_halves(labels, seed)
        data = torch.from_numpy(X).to(torch_device)
        targets = torch.from_numpy(labels).to(torch_device)
        features = torch.empty(len(y), 0)
        states, histories = [], []
        for half, (train, other) in enumerate(((halves[0], halves[1]), (halves[1], halves[0]))):
            model = build_teacher(architecture, sample_shape, len(classes), seed + half)
            model.to(torch_device)
            index = torch.from_numpy(train).to(torch_device)
            name = f"teacher M{half + 1}"
            histories.append(
                train_teacher(model, data[index], targets[index], schedule, seed + half, name)
            )
            extracted = extract_features(model, data[torch.from_numpy(other).to(torch_device)])
            if features.shape[1] == 0:
                features = torch.empty(len(y), extracted.shape[1])
            features[torch.from_numpy(other)] = extracted
            states.append({name: t.detach().cpu() for name, t in model.state_dict().items()})
        return {
            "halves": [torch.from_numpy(h) for h in halves],
            "states": states,
            "meta_features": features,
            "histories": histories,
        }

    if use_cache:
        value, cached = ArtifactCache("teachers").get_or_build(key, build)
    else:
        value, cached = build(), False
    halves = (value["halves"][0].numpy(), value["halves"][1].numpy())
    group = np.zeros(len(y), dtype=np.int64)
    group[halves[1]] = 1
    return CrossFittedTeachers(
        key=key,
        architecture=architecture,
        sample_shape=sample_shape,
        n_classes=len(classes),
        halves=halves,
        states=(value["states"][0], value["states"][1]),
        meta_features=value["meta_features"].numpy(),
        meta_group=group,
        histories=(value["histories"][0], value["histories"][1]),
        cached=cached,
    )
