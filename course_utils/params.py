"""Validate a lesson's ``parameters`` cell.

Every lesson declares its knobs in a cell tagged ``parameters`` (papermill injects
overrides in a new cell right after it). The very next cell calls :func:`validate`,
so a bad value stops the lesson at once with a message that names the parameter,
the value it got and what is allowed.

Example::

    validate(globals(), EPOCHS=Int(min=1, max=100), LR=Float(min=0, min_inclusive=False))

``SEED``, ``DEVICE`` and ``SMOKE`` are checked in every lesson without being listed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

__all__ = ["ParameterError", "Int", "Float", "Bool", "Choice", "Str", "CORE", "validate"]


class ParameterError(ValueError):
    """A lesson parameter has a value the lesson cannot use."""


def _fail(name: str, value: Any, allowed: str) -> None:
    raise ParameterError(
        f"Parameter {name} = {value!r} ({type(value).__name__}) is not allowed: "
        f"expected {allowed}. Fix it in the parameters cell or in the papermill "
        f"'-p {name} ...' option."
    )


@dataclass(frozen=True)
class Int:
    """An integer in ``[min, max]`` (either bound optional). Booleans are refused."""

    min: int | None = None
    max: int | None = None

    def describe(self) -> str:
        lo = "-inf" if self.min is None else str(self.min)
        hi = "+inf" if self.max is None else str(self.max)
        return f"an integer in [{lo}, {hi}]"

    def check(self, name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(name, value, self.describe())
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            _fail(name, value, self.describe())
        return value


@dataclass(frozen=True)
class Float:
    """A finite real number in a range; integers are accepted and converted."""

    min: float | None = None
    max: float | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True

    def describe(self) -> str:
        lo = "(-inf" if self.min is None else ("[" if self.min_inclusive else "(") + str(self.min)
        hi = "+inf)" if self.max is None else str(self.max) + ("]" if self.max_inclusive else ")")
        return f"a number in {lo}, {hi}"

    def check(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            _fail(name, value, self.describe())
        v = float(value)
        if self.min is not None and (v < self.min or (v == self.min and not self.min_inclusive)):
            _fail(name, value, self.describe())
        if self.max is not None and (v > self.max or (v == self.max and not self.max_inclusive)):
            _fail(name, value, self.describe())
        return v


@dataclass(frozen=True)
class Bool:
    """``True`` or ``False`` (papermill's ``-p SMOKE True`` gives a real bool)."""

    def describe(self) -> str:
        return "True or False"

    def check(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            _fail(name, value, self.describe())
        return value


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of values."""

    options: Sequence[Any]

    def describe(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)

    def check(self, name: str, value: Any) -> Any:
        if isinstance(value, bool) and not any(isinstance(o, bool) for o in self.options):
            _fail(name, value, self.describe())
        if value not in list(self.options):
            _fail(name, value, self.describe())
        return value


@dataclass(frozen=True)
class Str:
    """Any non-empty string."""

    def describe(self) -> str:
        return "a non-empty string"

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            _fail(name, value, self.describe())
        return value


#: The parameters every lesson declares, with their rules.
CORE = {
    "SEED": Int(min=0, max=2**32 - 1),
    "DEVICE": Choice(["auto", "cpu", "cuda", "mps"]),
    "SMOKE": Bool(),
}


def validate(namespace: Mapping[str, Any], **rules: Any) -> dict[str, Any]:
    """Check the lesson's parameters in ``namespace`` (usually ``globals()``).

    ``rules`` maps each lesson-specific parameter name to a rule (:class:`Int`,
    :class:`Float`, :class:`Bool`, :class:`Choice`, :class:`Str`). The core
    parameters in :data:`CORE` are always checked. Raises :class:`ParameterError`
    naming the first bad parameter; a declared parameter missing from the namespace
    is an error too. Returns the validated values (ints given for floats become floats)
    and prints a one-line summary.
    """
    all_rules = {**CORE, **rules}
    checked: dict[str, Any] = {}
    for name, rule in all_rules.items():
        if not hasattr(rule, "check"):
            raise TypeError(f"rule for {name} must be Int, Float, Bool, Choice or Str, got {rule!r}")
        if name not in namespace:
            raise ParameterError(
                f"Parameter {name} is missing: the parameters cell must define it ({rule.describe()})."
            )
        checked[name] = rule.check(name, namespace[name])
    print("Parameters OK: " + ", ".join(f"{k}={v!r}" for k, v in checked.items()))
    return checked
