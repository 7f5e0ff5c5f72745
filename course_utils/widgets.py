"""Interactive views that always leave a static figure behind.

:func:`explore` draws the figure for the default value first (so papermill, nbval,
HTML exports and slides all show it), then shows an ipywidgets control that redraws
from *precomputed* results when a front end is attached. Nothing here trains a model.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import matplotlib.pyplot as plt

__all__ = ["explore"]


def explore(draw: Callable[[Any], Any], options: Sequence[Any], default: Any, description: str, kind: str = "slider"):
    """Show ``draw(default)`` as a static figure, then a control that redraws ``draw(value)``.

    ``draw`` must make a matplotlib figure from already-computed results (fast: it runs
    on every move of the control). ``kind`` is ``"slider"`` (a selection slider over
    ``options``), ``"dropdown"`` or ``"toggle"`` (toggle buttons). Returns the control,
    or ``None`` when ipywidgets is not installed.
    """
    options = list(options)
    if default not in options:
        raise ValueError(f"default {default!r} is not one of the options {options!r}")
    if kind not in ("slider", "dropdown", "toggle"):
        raise ValueError(f"kind must be 'slider', 'dropdown' or 'toggle', got {kind!r}")
    from IPython.display import display

    draw(default)
    plt.show()
    try:
        import ipywidgets as w
    except ImportError:  # static figure only
        print("(Install ipywidgets to explore the other values interactively.)")
        return None

    labels = [(str(o), o) for o in options]
    if kind == "slider":
        control = w.SelectionSlider(options=labels, value=default, description=description, continuous_update=False,
                                    style={"description_width": "initial"}, layout=w.Layout(width="420px"))
    elif kind == "dropdown":
        control = w.Dropdown(options=labels, value=default, description=description, style={"description_width": "initial"})
    else:
        control = w.ToggleButtons(options=labels, value=default, description=description, style={"description_width": "initial"})
    out = w.Output()

    def redraw(change=None):
        with out:
            out.clear_output(wait=True)
            draw(control.value)
            plt.show()

    control.observe(redraw, names="value")
    display(w.VBox([control, out]))
    return control
