import numpy as np
import pytest
import torch

from course_utils import repro


def test_seed_everything_is_reproducible():
    g1 = repro.seed_everything(3)
    a = (torch.rand(3), np.random.rand(2), torch.rand(2, generator=g1))
    g2 = repro.seed_everything(3)
    b = (torch.rand(3), np.random.rand(2), torch.rand(2, generator=g2))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and torch.equal(a[2], b[2])


@pytest.mark.parametrize("bad", [-1, 1.0, "1", True])
def test_seed_everything_refuses_bad_seeds(bad):
    with pytest.raises(ValueError):
        repro.seed_everything(bad)


def test_pick_device():
    assert repro.pick_device("cpu").type == "cpu"
    assert repro.pick_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="DEVICE"):
        repro.pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA"):
            repro.pick_device("cuda")


def test_auto_prefers_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert repro.pick_device("auto").type == "cuda"


def test_set_threads_and_setup(monkeypatch, capsys):
    before = torch.get_num_threads()
    try:
        assert repro.set_threads(1) == 1
        monkeypatch.delenv("COURSE_THREADS", raising=False)
        assert repro.set_threads() == 1, "one thread is the course default"
        monkeypatch.setenv("COURSE_THREADS", "2")
        assert repro.set_threads() == 2
        monkeypatch.setenv("COURSE_THREADS", "two")
        with pytest.raises(ValueError, match="COURSE_THREADS"):
            repro.set_threads()
        with pytest.raises(ValueError):
            repro.set_threads(0)
        dev = repro.setup(0, "cpu", threads=1)
        assert dev.type == "cpu" and "seed=0" in capsys.readouterr().out
    finally:
        torch.set_num_threads(before)
