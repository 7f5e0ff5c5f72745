"""Interactive views that always leave a static figure behind.

:func:`explore` draws the figure for the default value first (so papermill, nbval,
HTML exports and slides all show it), then shows an ipywidgets control that redraws
from *precomputed* results when a front end is attached. Nothing here trains a model.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import matplotlib.pyplot as plt

__all__ = ["explore", "explore_grid"]


def _draw_static(draw_default: Callable[[], Any]):
    """Draw the default figure (every front end, papermill and HTML export show it); return
    ipywidgets, or ``None`` when it is not installed."""
    draw_default()
    plt.show()
    try:
        import ipywidgets as w
    except ImportError:  # static figure only
        print("(Install ipywidgets to explore the other values interactively.)")
        return None
    return w


def _show_controls(w, controls: list, draw_current: Callable[[], Any]) -> None:
    """Display the controls above one output area that ``draw_current()`` redraws on every change."""
    from IPython.display import display

    out = w.Output()

    def redraw(change=None):
        with out:
            out.clear_output(wait=True)
            draw_current()
            plt.show()

    for control in controls:
        control.observe(redraw, names="value")
    display(w.VBox([*controls, out]))


def _slider(w, options: list, default: Any, description: str):
    return w.SelectionSlider(options=[(str(o), o) for o in options], value=default, description=description,
                             continuous_update=False, style={"description_width": "initial"},
                             layout=w.Layout(width="420px"))


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
    w = _draw_static(lambda: draw(default))
    if w is None:
        return None
    labels = [(str(o), o) for o in options]
    if kind == "slider":
        control = _slider(w, options, default, description)
    elif kind == "dropdown":
        control = w.Dropdown(options=labels, value=default, description=description, style={"description_width": "initial"})
    else:
        control = w.ToggleButtons(options=labels, value=default, description=description, style={"description_width": "initial"})
    _show_controls(w, [control], lambda: draw(control.value))
    return control


def explore_grid(draw: Callable[..., Any], options: dict[str, Sequence[Any]], defaults: dict[str, Any]):
    """Like :func:`explore` with one selection slider per knob: ``draw(**values)``.

    ``options`` maps each keyword of ``draw`` to its allowed values, ``defaults`` to the value
    drawn first (the static figure). Any slider's move redraws. Returns the list of sliders, or
    ``None`` when ipywidgets is not installed.
    """
    options = {name: list(values) for name, values in options.items()}
    if set(defaults) != set(options):
        raise ValueError(f"defaults must name exactly the knobs {sorted(options)}, got {sorted(defaults)}")
    for name, values in options.items():
        if defaults[name] not in values:
            raise ValueError(f"default {name}={defaults[name]!r} is not one of the options {values!r}")
    w = _draw_static(lambda: draw(**defaults))
    if w is None:
        return None
    sliders = {name: _slider(w, values, defaults[name], name) for name, values in options.items()}
    _show_controls(w, list(sliders.values()), lambda: draw(**{name: s.value for name, s in sliders.items()}))
    return list(sliders.values())
