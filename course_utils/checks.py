"""Exercise checks with helpful messages, and the lesson milestones.

* ``check_*`` functions are called from ``check``-tagged cells. On a wrong answer they
  raise :class:`NotYet` with a message that says what was expected and a hint.
* :func:`milestone` records a headline metric where it is measured;
  :func:`assert_milestones` (the lesson's last code cell) asserts them all together and
  says by how much each was met or missed.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np

from . import record

__all__ = [
    "NotYet",
    "check",
    "check_close",
    "check_shape",
    "milestone",
    "milestones",
    "reset_milestones",
    "assert_milestones",
]


class NotYet(AssertionError):
    """An exercise answer is not right yet. The message says why and how to fix it."""


def _ok(message: str) -> None:
    print("✓ " + message)


def check(condition: bool, fail_message: str, ok_message: str = "Correct!", hint: str | None = None) -> None:
    """Pass if ``condition`` is true; otherwise raise :class:`NotYet` with a hint."""
    if not condition:
        raise NotYet(fail_message + (f"\nHint: {hint}" if hint else ""))
    _ok(ok_message)


def _to_float_list(x: Any) -> list[float]:
    if isinstance(x, (str, bytes)):
        raise TypeError("text is not a number")
    if hasattr(x, "detach"):
        x = x.detach().cpu()
    if hasattr(x, "tolist"):
        x = x.tolist()
    if isinstance(x, (int, float)):
        return [float(x)]
    out: list[float] = []
    for item in x:
        out.extend(_to_float_list(item))
    return out


def _to_floats(x: Any) -> np.ndarray:
    """``x`` flattened to float64: one NumPy conversion for arrays and tensors, element by element otherwise."""
    if hasattr(x, "detach") and not x.is_complex():  # a tensor
        return x.detach().cpu().double().reshape(-1).numpy()
    if isinstance(x, np.ndarray) and x.dtype != object:
        return x.astype(np.float64).reshape(-1)
    return np.asarray(_to_float_list(x), dtype=np.float64)


def check_close(actual: Any, expected: Any, name: str, atol: float = 1e-6, rtol: float = 1e-5, hint: str | None = None) -> None:
    """Pass if ``actual`` matches ``expected`` elementwise within tolerances.

    Works for numbers, lists, NumPy arrays and tensors. The failure message gives the
    largest difference and where it is.
    """
    if actual is None:
        raise NotYet(f"{name} is None: the TODO has not been filled in yet." + (f"\nHint: {hint}" if hint else ""))
    try:
        a = _to_floats(actual)
    except (TypeError, ValueError):
        raise NotYet(f"{name} holds something that is not a number ({actual!r:.80}): a TODO may still return None."
                     + (f"\nHint: {hint}" if hint else "")) from None
    e = _to_floats(expected)
    if len(a) != len(e):
        raise NotYet(f"{name} has {len(a)} values, expected {len(e)}." + (f"\nHint: {hint}" if hint else ""))
    diffs = np.abs(a - e)
    worst, where = 0.0, -1
    for i in np.flatnonzero(~(diffs <= atol + rtol * np.abs(e))):  # the failing elements; NaN fails too
        if diffs[i] > worst or where < 0:
            worst, where = float(diffs[i]), int(i)
    if where >= 0:
        raise NotYet(
            f"{name} is not right yet: at element {where} you have {a[where]:.6g}, expected {e[where]:.6g} "
            f"(difference {worst:.3g})." + (f"\nHint: {hint}" if hint else "")
        )
    _ok(f"{name} matches ({len(a)} value{'s' if len(a) != 1 else ''}).")


def check_shape(tensor: Any, shape: tuple, name: str, hint: str | None = None) -> None:
    """Pass if ``tensor.shape`` equals ``shape`` (``None`` in ``shape`` matches any size)."""
    if tensor is None:
        raise NotYet(f"{name} is None: the TODO has not been filled in yet." + (f"\nHint: {hint}" if hint else ""))
    if not hasattr(tensor, "shape"):
        raise NotYet(f"{name} should be a tensor with a shape, got {type(tensor).__name__} ({tensor!r:.80})."
                     + (f"\nHint: {hint}" if hint else ""))
    got = tuple(tensor.shape)
    ok = len(got) == len(shape) and all(s is None or s == g for s, g in zip(shape, got))
    if not ok:
        raise NotYet(f"{name} has shape {got}, expected {tuple(shape)}." + (f"\nHint: {hint}" if hint else ""))
    _ok(f"{name} has shape {got}.")


_OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_MILESTONES: dict[str, dict] = {}


def milestone(name: str, value: float, target: float, op: str = ">=", note: str = "") -> None:
    """Record a headline metric and its target, e.g. ``milestone("cnn_test_acc", 0.97, 0.95)``.

    ``op`` is how ``value`` must compare with ``target`` (``>=``, ``>``, ``<=``, ``<``).
    The margin is positive when met (how far past the target) and negative when missed.
    Nothing is asserted here: :func:`assert_milestones` does that at the end of the lesson;
    :func:`milestones` returns the records.
    """
    if op not in _OPS:
        raise ValueError(f"op must be one of {sorted(_OPS)}, got {op!r}")
    value = float(value.item() if hasattr(value, "item") else value)
    target = float(target)
    met = bool(_OPS[op](value, target))
    margin = value - target if op in (">=", ">") else target - value
    _MILESTONES[name] = record._record(name, value, target=target, op=op, met=met, margin=margin, milestone=True, note=note)


def milestones() -> dict[str, dict]:
    """The milestones recorded so far in this kernel, by name."""
    return dict(_MILESTONES)


def reset_milestones() -> None:
    """Forget recorded milestones (used by tests)."""
    _MILESTONES.clear()


def assert_milestones(smoke: bool = False, expected: list[str] | None = None) -> None:
    """Print every milestone with its margin, then fail if any was missed.

    ``expected`` lists milestone names that must have been recorded (so a skipped
    measurement cannot pass silently). With ``smoke=True`` nothing is asserted.
    """
    missing = [n for n in (expected or []) if n not in _MILESTONES]
    lines = []
    for name, rec in _MILESTONES.items():
        status = "met" if rec["met"] else "MISSED"
        lines.append(
            f"{'✓' if rec['met'] else '✗'} {name}: {rec['value']:.4g} {rec['op']} {rec['target']:.4g} "
            f"-> {status} by {abs(rec['margin']):.4g}"
        )
    for name in missing:
        lines.append(f"✗ {name}: never recorded")
    print("\n".join(lines) if lines else "(no milestones recorded)")
    if smoke:
        print("SMOKE run: milestones are reported, not asserted.")
        return
    failed = [n for n, r in _MILESTONES.items() if not r["met"]] + missing
    if failed:
        raise AssertionError("Milestones missed: " + ", ".join(failed) + "\n" + "\n".join(lines))
    print(f"All {len(_MILESTONES)} milestones met.")
