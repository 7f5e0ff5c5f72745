"""Toy point clouds for generative models."""

from __future__ import annotations

import math

import numpy as np
import torch


def gaussian_mixture(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05, layout: str = "ring", seed: int = 0):
    """Samples from a mixture of equal-weight 2-D Gaussians.

    ``layout="ring"`` puts ``modes`` centres on a circle of ``radius``; ``"grid"`` puts
    them on a square grid (``modes`` must be a square number) spanning
    ``[-radius, radius]``. Returns ``(x (n, 2) float32 tensor, mode labels (n,), centres (modes, 2))``.
    """
    if modes < 1 or n < 0 or std <= 0:
        raise ValueError(f"need modes >= 1, n >= 0, std > 0; got modes={modes}, n={n}, std={std}")
    if layout == "ring":
        ang = 2 * np.pi * np.arange(modes) / modes
        centres = radius * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    elif layout == "grid":
        k = int(round(math.sqrt(modes)))
        if k * k != modes:
            raise ValueError(f"layout='grid' needs a square number of modes, got {modes}")
        g = np.linspace(-radius, radius, k)
        centres = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    else:
        raise ValueError(f"layout must be 'ring' or 'grid', got {layout!r}")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, modes, size=n)
    x = centres[labels] + rng.normal(0, std, size=(n, 2))
    return (torch.tensor(x, dtype=torch.float32), torch.tensor(labels), torch.tensor(centres, dtype=torch.float32))

