"""Image data: real handwritten digits, digits on a canvas, and procedural shapes scenes."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from .store import _spec

# --------------------------------------------------------------------------- digits


def load_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """Real handwritten digits from scikit-learn: images (1797, 1, 8, 8) in [0, 1], labels (1797,)."""
    from sklearn.datasets import load_digits as _sk_digits

    d = _sk_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d.target, dtype=torch.long)
    return x, y


def _stratified_split(y: np.ndarray, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    train, test = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        k = int(round(len(idx) * test_fraction))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _place(digits: torch.Tensor, canvas: int, noise_std: float, rng: np.random.Generator) -> torch.Tensor:
    n, _, s, _ = digits.shape
    out = torch.zeros(n, 1, canvas, canvas)
    rows = rng.integers(0, canvas - s + 1, size=n)
    cols = rng.integers(0, canvas - s + 1, size=n)
    for i in range(n):
        out[i, 0, rows[i] : rows[i] + s, cols[i] : cols[i] + s] = digits[i, 0]
    noise = torch.from_numpy(rng.normal(0.0, noise_std, size=out.shape).astype(np.float32))
    return (out + noise).clamp_(0.0, 1.0)


def digits_on_canvas(train_copies: int | None = None, test_copies: int | None = None) -> dict[str, torch.Tensor]:
    """Real digits placed at random on a larger noisy canvas (translation matters).

    The canvas size, digit size, noise and split come from the ``digits_canvas`` entry
    of the manifest, so every lesson sees the same data. The split is made by *source
    image* before placement: no handwritten digit appears in both train and test.
    Each training digit is placed ``train_copies`` times and each test digit
    ``test_copies`` times, at different positions (defaults from the manifest). Several
    placements of each held-out digit make the test set large enough that one image
    moves the accuracy by less than 0.1 point. Returns ``x_train (N,1,C,C)``, ``y_train``,
    ``x_test``, ``y_test``, and the source indices ``src_train``/``src_test`` into
    :func:`load_digits`.
    """
    spec = _spec("digits_canvas")
    copies = spec["train_copies"] if train_copies is None else train_copies
    t_copies = spec.get("test_copies", 1) if test_copies is None else test_copies
    for name, value in (("train_copies", copies), ("test_copies", t_copies)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    x, y = load_digits()
    rng = np.random.default_rng(spec["seed"])
    tr, te = _stratified_split(y.numpy(), spec["test_fraction"], rng)
    size = spec["digit_size"]
    big = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    x_test = _place(big[te], spec["canvas"], spec["noise_std"], rng)  # the first placement of each test digit
    # Train copies and further test copies are drawn from their own streams, so changing one
    # count leaves the other set alone.
    rng_train = np.random.default_rng(spec["seed"] + 1)
    src_train = np.tile(tr, copies)
    x_train = _place(big[src_train], spec["canvas"], spec["noise_std"], rng_train)
    src_test = np.tile(te, t_copies)
    if t_copies > 1:
        rng_test = np.random.default_rng(spec["seed"] + 2)
        x_test = torch.cat([x_test, _place(big[src_test[len(te):]], spec["canvas"], spec["noise_std"], rng_test)])
    return {
        "x_train": x_train,
        "y_train": y[src_train],
        "x_test": x_test,
        "y_test": y[src_test],
        "src_train": torch.from_numpy(src_train),
        "src_test": torch.from_numpy(src_test),
    }


# --------------------------------------------------------------------------- shapes scenes

#: Pixel classes of :func:`shapes_scenes` masks.
SHAPE_CLASSES = ("background", "circle", "square", "triangle")


def _shape_mask(kind: int, cy: float, cx: float, r: float, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    if kind == 1:
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
    if kind == 2:
        return (np.abs(yy - cy) <= r * 0.85) & (np.abs(xx - cx) <= r * 0.85)
    # upward triangle: apex at top, base at bottom
    top, bottom = cy - r, cy + r * 0.8
    half = (yy - top) / (bottom - top) * r
    return (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half)


def _outline(kind: int, cy: float, cx: float, r: float, circle_points: int = 16) -> list[tuple[float, float]]:
    """Vertices (x, y) of a shape's outline, clockwise on screen from the top; a circle as a regular polygon."""
    if kind == 1:
        a = np.pi / 2 - 2 * np.pi * np.arange(circle_points) / circle_points  # from the top, clockwise
        return [(float(cx + r * np.cos(t)), float(cy - r * np.sin(t))) for t in a]
    if kind == 2:
        h = 0.85 * r
        return [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    return [(cx, cy - r), (cx + r, cy + 0.8 * r), (cx - r, cy + 0.8 * r)]


@lru_cache(maxsize=1)
def _photos() -> tuple[np.ndarray, ...]:
    """scikit-learn's two sample photos (a temple in China, a flower) as float32 (3, H, W) arrays in [0, 1]."""
    from sklearn.datasets import load_sample_images

    return tuple(np.ascontiguousarray(im.transpose(2, 0, 1), dtype=np.float32) / 255.0 for im in load_sample_images().images)


def _photo_background(size: int, rng: np.random.Generator) -> np.ndarray:
    photo = _photos()[rng.integers(2)]
    _, h, w = photo.shape
    side = int(rng.integers(2 * size, min(h, w) + 1))
    top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = torch.from_numpy(photo[:, top : top + side, left : left + side])[None]
    return torch.nn.functional.interpolate(crop, size=(size, size), mode="area")[0].numpy().copy()


DOMAINS = ("fixed", "randomized", "photo")


def shapes_scenes(
    n: int,
    size: int = 32,
    max_shapes: int = 3,
    domain: str = "fixed",
    seed: int = 0,
    noise_std: float = 0.03,
    min_gap: int | None = None,
) -> dict:
    """Procedural scenes of circles, squares and triangles with pixel masks.

    Returns ``images`` (n, 3, size, size) in [0, 1]; ``masks`` (n, size, size) with class
    ids from :data:`SHAPE_CLASSES` (later shapes occlude earlier ones); ``instances``
    (n, size, size), 0 for background and k + 1 where the k-th shape of the scene is
    visible; and ``factors``: one list per image of dicts, one per shape in painting
    order, with ``shape``, ``colour``, ``radius``, ``centre`` (y, x), ``polygon`` (its
    outline's vertices as (x, y), a circle as a 16-gon), ``box`` (x1, y1, x2, y2) around
    its visible pixels, x2 and y2 one past the last pixel (None if fully hidden), and
    ``visible`` (the fraction of its pixels not hidden by later shapes).

    ``domain`` picks the rendering:

    * ``"fixed"``: grey background, four saturated colours, even light.
    * ``"randomized"``: domain randomization (Tremblay et al. 2018): random background
      colour and texture, random shape colours, a lighting gradient, stronger noise.
    * ``"photo"``: a shifted domain that neither of the others shows: the background is
      a random crop of one of scikit-learn's two sample photographs, shape colours are
      random.

    ``min_gap=None`` lets shapes overlap. An integer g >= 0 places them so that at least
    g background pixels separate any two (g = 1: no overlap, no touching); a shape that
    finds no room in 100 tries is left out, so a scene may have fewer shapes.
    """
    if n < 0 or size < 8 or max_shapes < 1:
        raise ValueError(f"need n >= 0, size >= 8, max_shapes >= 1; got n={n}, size={size}, max_shapes={max_shapes}")
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DOMAINS}, got {domain!r}")
    if min_gap is not None and (isinstance(min_gap, bool) or not isinstance(min_gap, int) or min_gap < 0):
        raise ValueError(f"min_gap must be None or an integer >= 0, got {min_gap!r}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    palette = np.array([[0.9, 0.2, 0.2], [0.2, 0.7, 0.2], [0.2, 0.3, 0.9], [0.9, 0.8, 0.1]], dtype=np.float32)
    images = np.empty((n, 3, size, size), dtype=np.float32)
    masks = np.zeros((n, size, size), dtype=np.int64)
    instances = np.zeros((n, size, size), dtype=np.int64)
    factors = []
    for i in range(n):
        if domain == "randomized":
            bg = rng.uniform(0, 1, size=3).astype(np.float32)
            img = np.broadcast_to(bg[:, None, None], (3, size, size)).copy()
            img += rng.normal(0, 0.08, size=(3, size, size)).astype(np.float32)  # texture
        elif domain == "photo":
            img = _photo_background(size, rng)
        else:
            img = np.full((3, size, size), 0.5, dtype=np.float32)
        scene, full = [], []
        taken = np.zeros((size, size), dtype=bool)  # pixels within min_gap of a placed shape
        for _ in range(rng.integers(1, max_shapes + 1)):
            kind = int(rng.integers(1, 4))
            for _try in range(1 if min_gap is None else 100):
                r = float(rng.uniform(0.12, 0.25) * size)
                cy, cx = rng.uniform(r, size - r, size=2)
                m = _shape_mask(kind, cy, cx, r, yy, xx)
                if min_gap is None or not (m & taken).any():
                    break
            else:
                continue  # no room for this shape
            if min_gap is not None:
                taken |= _grow(m, min_gap)
            colour = palette[rng.integers(len(palette))] if domain == "fixed" else rng.uniform(0, 1, size=3).astype(np.float32)
            img[:, m] = colour[:, None]
            masks[i][m] = kind
            instances[i][m] = len(scene) + 1
            full.append(m)
            scene.append({"shape": SHAPE_CLASSES[kind], "colour": colour.tolist(), "radius": r, "centre": (float(cy), float(cx)),
                          "polygon": _outline(kind, float(cy), float(cx), r)})
        for k, (o, m) in enumerate(zip(scene, full)):
            ys, xs = np.nonzero(instances[i] == k + 1)
            o["box"] = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) if len(xs) else None
            o["visible"] = len(xs) / max(int(m.sum()), 1)
        if domain == "randomized":
            angle = rng.uniform(0, 2 * math.pi)
            grad = (np.cos(angle) * (xx / size - 0.5) + np.sin(angle) * (yy / size - 0.5)) * rng.uniform(0.3, 0.8)
            img = img * (1.0 + grad)[None]
            img += rng.normal(0, noise_std * 3, size=img.shape).astype(np.float32)
        else:
            img += rng.normal(0, noise_std, size=img.shape).astype(np.float32)
        images[i] = np.clip(img, 0, 1)
        factors.append(scene)
    return {"images": torch.from_numpy(images), "masks": torch.from_numpy(masks), "instances": torch.from_numpy(instances),
            "factors": factors}


def _grow(mask: np.ndarray, gap: int) -> np.ndarray:
    """The pixels within ``gap`` pixels (8-neighbourhood steps) of ``mask``."""
    t = torch.from_numpy(mask.astype(np.float32))[None, None]
    return torch.nn.functional.max_pool2d(t, 2 * gap + 1, stride=1, padding=gap)[0, 0].numpy() > 0
