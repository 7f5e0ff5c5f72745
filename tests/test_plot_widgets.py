import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_utils import plot, widgets  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_style_and_curves():
    plot.use_style()
    assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0] == plot.COLORS[0]
    ax = plot.curves({"a": [3, 2, 1], "b": [1, 2, 3]}, "t", "epoch", "loss", logy=True)
    assert ax.get_title() == "t" and ax.get_xlabel() == "epoch" and len(ax.lines) == 2
    ax = plot.curves({"a": [1, 2]}, "t", "x", "y", x={"a": [10, 20]})
    assert list(ax.lines[0].get_xdata()) == [10, 20]
    with pytest.raises(ValueError):
        plot.curves({}, "t", "x", "y")
    with pytest.raises(ValueError):
        plot.curves({"a": [1, 2]}, "t", "x", "y", x=[1])


def test_image_grid_shapes():
    fig = plot.image_grid(torch.rand(5, 1, 8, 8), titles=list("abcde"), ncols=3, title="g")
    assert len([a for a in fig.axes if a.images]) == 5
    fig = plot.image_grid(np.random.rand(2, 3, 8, 8))
    assert fig.axes[0].images[0].get_array().shape == (8, 8, 3)
    fig = plot.image_grid(torch.randn(2, 4, 4), symmetric=True)
    lo, hi = fig.axes[0].images[0].get_clim()
    assert lo == -hi
    with pytest.raises(ValueError):
        plot.image_grid(torch.rand(2, 3), titles=None)
    with pytest.raises(ValueError):
        plot.image_grid(torch.rand(2, 4, 4), titles=["a"])


def test_heatmap():
    ax = plot.heatmap(np.eye(3), "attention", "key", "query", xticklabels="abc", yticklabels="xyz", annotate=True)
    assert ax.get_title() == "attention" and len(ax.texts) == 9
    with pytest.raises(ValueError):
        plot.heatmap(np.zeros(3), "t", "x", "y")


def test_explore_draws_default_then_redraws_on_change():
    seen = []

    def draw(v):
        seen.append(v)
        plt.figure()
        plt.plot([0, v])

    control = widgets.explore(draw, [0.0, 0.5, 0.9], 0.5, "rate")
    assert seen == [0.5]
    control.value = 0.9
    assert seen == [0.5, 0.9]
    dd = widgets.explore(draw, ["a", "b"], "a", "kind", kind="dropdown")
    dd.value = "b"
    assert seen[-1] == "b"
    with pytest.raises(ValueError):
        widgets.explore(draw, [1, 2], 3, "x")
    with pytest.raises(ValueError):
        widgets.explore(draw, [1, 2], 1, "x", kind="knob")


def test_explore_grid_redraws_with_every_slider():
    seen = []

    def draw(rate, size):
        seen.append((rate, size))
        plt.figure()
        plt.plot([0, rate * size])

    rate, size = widgets.explore_grid(draw, {"rate": [0.1, 0.5], "size": [1, 2, 3]}, {"rate": 0.5, "size": 2})
    assert seen == [(0.5, 2)]
    size.value = 3
    rate.value = 0.1
    assert seen == [(0.5, 2), (0.5, 3), (0.1, 3)]
    with pytest.raises(ValueError):
        widgets.explore_grid(draw, {"rate": [0.1]}, {"rate": 0.2})
    with pytest.raises(ValueError):
        widgets.explore_grid(draw, {"rate": [0.1]}, {"rate": 0.1, "size": 1})


def test_track_colors_cover_every_track_with_distinct_colours():
    from matplotlib.colors import is_color_like

    tracks = ("tour", "foundations", "vision", "language", "generative", "reinforcement", "beyond")
    assert set(plot.TRACK_COLORS) == set(tracks)
    assert all(is_color_like(c) for c in plot.TRACK_COLORS.values())
    assert len(set(plot.TRACK_COLORS.values())) == len(tracks), "two tracks share a colour"
