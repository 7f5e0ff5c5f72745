"""Reproducibility plumbing: seeds, device choice and CPU threads."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["seed_everything", "pick_device", "set_threads", "setup"]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; return a ``torch.Generator`` seeded with ``seed``.

    Use the returned generator (or ``np.random.default_rng(seed)``) wherever a lesson
    wants randomness that does not depend on how many random numbers ran before.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick_device(device: str = "auto") -> torch.device:
    """Turn the ``DEVICE`` parameter into a ``torch.device``.

    ``"auto"`` picks CUDA, then Apple's MPS, then the CPU. Asking for a device that is
    not present raises a ``RuntimeError`` that says what is available.
    """
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("DEVICE='cuda' but no CUDA GPU is visible to PyTorch; use 'auto' or 'cpu'.")
        return torch.device("cuda")
    if device == "mps":
        if not _mps_available():
            raise RuntimeError("DEVICE='mps' but Apple MPS is not available; use 'auto' or 'cpu'.")
        return torch.device("mps")
    raise ValueError(f"DEVICE must be one of 'auto', 'cpu', 'cuda', 'mps', got {device!r}")


def set_threads(n: int | None = None) -> int:
    """Set PyTorch's intra-op CPU threads: ``n``, else the ``COURSE_THREADS`` variable, else 1.

    One thread is the course default, from measurements of lesson 01 on a 2-core machine
    (README, "Threads"): two threads were about 30 % faster on an idle machine, but two kernels
    with two threads each on two cores slowed each other down more than four times over, while
    two one-thread kernels side by side lost about 6 %. Returns the number of threads in use.
    """
    if n is None:
        text = os.environ.get("COURSE_THREADS", "").strip()
        try:
            n = int(text) if text else 1
        except ValueError:
            raise ValueError(f"COURSE_THREADS must be a whole number of threads, got {text!r}") from None
    if n < 1:
        raise ValueError(f"thread count must be >= 1, got {n}")
    torch.set_num_threads(n)
    return torch.get_num_threads()


def setup(seed: int, device: str = "auto", threads: int | None = None) -> torch.device:
    """Seed everything, set CPU threads and pick the device; print what was chosen."""
    seed_everything(seed)
    n = set_threads(threads)
    dev = pick_device(device)
    print(f"seed={seed}  device={dev}  torch={torch.__version__}  cpu threads={n}")
    return dev
