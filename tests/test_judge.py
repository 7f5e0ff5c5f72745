import numpy as np
import pytest
import torch
from scipy import linalg

from course_utils import data, judge


def test_inception_score_bounds():
    sure = torch.eye(10)  # every sample sure, classes evenly used: the maximum
    assert judge.inception_score(sure) == pytest.approx(10.0)
    one_class = torch.zeros(50, 10)
    one_class[:, 3] = 1  # confident but all the same class: no diversity
    assert judge.inception_score(one_class) == pytest.approx(1.0)
    assert judge.inception_score(torch.full((50, 10), 0.1)) == pytest.approx(1.0)  # unsure


def test_frechet_distance_matches_scipy():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(300, 12, generator=g, dtype=torch.float64)
    b = torch.randn(300, 12, generator=g, dtype=torch.float64) @ torch.randn(12, 12, generator=g, dtype=torch.float64) * 0.5 + 1.0
    A, B = a.numpy(), b.numpy()
    ca, cb = np.cov(A, rowvar=False), np.cov(B, rowvar=False)
    ref = ((A.mean(0) - B.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * linalg.sqrtm(ca @ cb).real)
    assert judge.frechet_distance(a, b) == pytest.approx(ref, rel=1e-8)
    assert abs(judge.frechet_distance(a, a)) < 1e-8


def test_split_is_fixed_stratified_and_disjoint():
    tr, te = judge.digit_split()
    tr2, te2 = judge.digit_split()
    assert np.array_equal(tr, tr2) and np.array_equal(te, te2)
    assert len(set(tr) & set(te)) == 0 and len(tr) + len(te) == 1797
    _, y = data.load_digits()
    counts = np.bincount(y[te].numpy(), minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38


def test_judge_trains_caches_and_refuses_a_broken_file(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(judge, "_EPOCHS", 2)
    first = judge.digit_judge(5)
    assert not first.from_cache and 0.0 <= first.test_accuracy <= 1.0
    path = tmp_path / "cache" / f"digit_judge_v{judge._VERSION}_seed5.pt"
    assert path.exists() and not list((tmp_path / "cache").glob("*.tmp*"))
    again = judge.digit_judge(5)
    assert again.from_cache and again.test_accuracy == first.test_accuracy
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(first.probs(x), again.probs(x))
    path.write_bytes(b"not a checkpoint")
    assert not judge.digit_judge(5).from_cache  # retrained, not crashed
    with pytest.raises(ValueError, match="seed"):
        judge.digit_judge(-1)
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        first.probs(torch.rand(4, 8, 8))


def test_the_cached_judge_reads_real_digits():
    j = judge.digit_judge(0)  # the lessons' own judge (trained once, then cached)
    x, y = data.load_digits()
    assert j.test_accuracy >= 0.95
    probs = j.probs(x[j.test_idx])
    assert (probs.argmax(1) == y[j.test_idx]).float().mean() == pytest.approx(j.test_accuracy)
    assert judge.inception_score(probs) > 9.0
    assert j.features(x[:3]).shape == (3, 64)
