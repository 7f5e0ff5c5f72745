"""A fixed judge for generated digits: a small classifier trained once and cached, and its two scores.

Generative lessons need a number, not only pictures. The course's answer is a small
convolutional classifier for the 8×8 scikit-learn digits, trained once per seed and
cached under ``datasets/cache/``. Lessons score generated digits in its eyes:

* :func:`inception_score` reads its class probabilities (confident *and* varied?);
* :func:`frechet_distance` compares its 64-number feature vectors of two image sets.

Lesson 15 writes both scores out and checks them against these; later lessons reuse
them. Always print them next to the same score for real held-out digits: on their own
the numbers mean little.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import data

__all__ = ["DigitJudge", "Judged", "digit_judge", "digit_split", "inception_score", "frechet_distance"]

_VERSION = 1  # bump when the architecture or training recipe changes: old caches are then ignored
_SPLIT_SEED = 0  # the held-out digits are the same for every lesson and every judge seed
_EPOCHS, _BATCH, _LR = 40, 64, 2e-3


class DigitJudge(nn.Module):
    """Two conv blocks and a 64-unit feature layer; input (N, 1, 8, 8) in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 8x8 -> 4x4
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.Flatten(),
        )
        self.feat = nn.Sequential(nn.Dropout(0.3), nn.Linear(64 * 16, 64), nn.ReLU())
        self.head = nn.Linear(64, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.feat(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass
class Judged:
    """What :func:`digit_judge` returns: the model (eval mode), its held-out accuracy and the split."""

    model: DigitJudge
    test_accuracy: float
    train_idx: np.ndarray
    test_idx: np.ndarray
    from_cache: bool

    @torch.no_grad()
    def probs(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (N, 10) for images (N, 1, 8, 8) in [0, 1]."""
        return F.softmax(self.model(_check_images(x)), dim=1)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature vectors (N, 64) for images (N, 1, 8, 8) in [0, 1]."""
        return self.model.features(_check_images(x))


def _check_images(x: torch.Tensor) -> torch.Tensor:
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, 8, 8):
        raise ValueError(f"the digit judge takes images of shape (N, 1, 8, 8), got {tuple(x.shape)}")
    return x.detach().float().cpu()


def digit_split() -> tuple[np.ndarray, np.ndarray]:
    """Indices into :func:`course_utils.data.load_digits`: a stratified 80/20 split, the same everywhere."""
    _, y = data.load_digits()
    rng = np.random.default_rng(_SPLIT_SEED)
    train, test = [], []
    for c in range(10):
        idx = np.flatnonzero(y.numpy() == c)
        rng.shuffle(idx)
        k = int(round(0.2 * len(idx)))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _train(seed: int) -> tuple[DigitJudge, float]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread always: the same seed gives the same judge whatever the caller's setting
    try:
        return _train_one_thread(seed)
    finally:
        torch.set_num_threads(threads)


def _train_one_thread(seed: int) -> tuple[DigitJudge, float]:
    x, y = data.load_digits()
    tr, te = digit_split()
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = DigitJudge()
    opt = torch.optim.Adam(model.parameters(), lr=_LR)
    xtr, ytr = x[tr], y[tr]
    for _ in range(_EPOCHS):
        model.train()
        order = torch.randperm(len(tr), generator=gen)
        for i in range(0, len(tr), _BATCH):
            b = order[i : i + _BATCH]
            loss = F.cross_entropy(model(xtr[b]), ytr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(x[te]).argmax(1) == y[te]).float().mean().item()
    return model, acc


def digit_judge(seed: int = 0, retrain: bool = False) -> Judged:
    """The digit judge for ``seed``: loaded from ``datasets/cache/`` or trained (a few seconds) and cached.

    The cache file records the recipe version; a file that does not load, or was written
    by another recipe, is retrained and replaced (written atomically, so two kernels
    starting at once cannot leave half a file).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    folder = data.data_dir() / "cache"
    path = folder / f"digit_judge_v{_VERSION}_seed{seed}.pt"
    tr, te = digit_split()
    if path.exists() and not retrain:
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if saved.get("version") == _VERSION:
                model = DigitJudge()
                model.load_state_dict(saved["state"])
                model.eval()
                return Judged(model, float(saved["test_accuracy"]), tr, te, True)
        except Exception:  # a broken or foreign file: train again below
            pass
    model, acc = _train(seed)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save({"version": _VERSION, "state": model.state_dict(), "test_accuracy": acc}, tmp)
    os.replace(tmp, path)
    return Judged(model, acc, tr, te, False)


def inception_score(probs: torch.Tensor) -> float:
    """exp(mean over samples of KL(p(y|x) ‖ p(y))) for class probabilities (N, C); between 1 and C."""
    p = probs.double().clamp_min(1e-12)
    marginal = p.mean(0, keepdim=True)
    kl = (p * (p.log() - marginal.log())).sum(1)
    return float(kl.mean().exp())


def frechet_distance(feat_a: torch.Tensor, feat_b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors (N, D).

    ‖μa − μb‖² + tr(Σa + Σb − 2 (Σa Σb)^½); the square-root term is computed as
    tr((Σa^½ Σb Σa^½)^½), which has the same trace and only needs symmetric eigendecompositions.
    """
    a, b = feat_a.double(), feat_b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    w, v = torch.linalg.eigh(cov_a)
    root_a = (v * w.clamp_min(0).sqrt()) @ v.T
    middle = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp_min(0).sqrt().sum()
    return float((mu_a - mu_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * middle)
