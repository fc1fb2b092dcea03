"""What each run setting is: its words, kind, bounds and choices, kept with the config's field
(``dataclasses.field(metadata=...)``), so the config's checks, the command line's options and the
Strategy page's widgets are all made from one description and cannot drift apart."""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import MISSING, dataclass, field

from tlcore.errors import TLError

KINDS = ("int", "float", "bool", "choice", "path", "text")
BROWSER_INT = 2**53 - 1  # the largest whole number a browser's number field holds exactly


@dataclass(frozen=True)
class Setting:
    """One run setting as a user meets it.

    Attributes:
        label: its name on the Strategy page.
        help: the sentence that explains it, on the page and in ``--help``.
        kind: one of ``KINDS``.
        low, high: the bounds of a number (None: unbounded); ``open_low``/``open_high`` exclude them.
        also: values accepted besides the range (0 for the model's own image size, None for the
            recommended epochs, "all"/"auto" stages), each meaning ``also_text``.
        choices: the values a choice takes, in the order shown; ``shown``: their words on the page.
        advanced: an expert's setting, under "Advanced settings" on the page.
        on_page: the Strategy page draws its widget from this description.
        flag: the command line's option ("" when it has none).
        error: the plain line for a value outside all this, with ``{value!r}``; no error: not checked.
        step: how far the page's +/- buttons move a number.
        required: an empty value is refused.
    """

    label: str
    help: str
    kind: str
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    also: tuple = ()
    also_text: str = ""
    choices: tuple = ()
    shown: tuple[tuple[str, str], ...] = ()
    advanced: bool = False
    on_page: bool = False
    flag: str = ""
    error: str = ""
    step: float | None = None
    required: bool = False

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind

    def accepts(self, value) -> bool:
        """Whether ``value`` is one this setting takes."""
        if any(value is a or (type(value) is type(a) and value == a) for a in self.also):
            return True
        if self.kind == "int":
            return isinstance(value, int) and not isinstance(value, bool) and self.within(value)
        if self.kind == "float":
            return isinstance(value, (int, float)) and not isinstance(value, bool) and self.within(value)
        if self.kind == "choice":
            return isinstance(value, str) and value in self.choices
        return bool(value) or not self.required

    def within(self, value: float) -> bool:
        above = self.low is None or (value > self.low if self.open_low else value >= self.low)
        below = self.high is None or (value < self.high if self.open_high else value <= self.high)
        return above and below

    def widget_range(self) -> tuple[float | None, float | None]:
        """The lowest and highest value a page's number field offers: the bounds, just inside an
        open one, and no whole number beyond what a browser holds."""
        low = next_normal(self.low, math.inf) if self.open_low else self.low
        high = next_normal(self.high, -math.inf) if self.open_high else self.high
        if self.kind == "int":
            return low, BROWSER_INT if high is None else min(high, BROWSER_INT)
        return tuple(None if b is None else float(b) for b in (low, high))  # a float field takes float bounds

    def words(self) -> dict[str, str]:
        """The page's words for each choice (the value itself where it has none)."""
        return {c: dict(self.shown).get(c, c) for c in self.choices}


def next_normal(value: float, toward: float) -> float:
    """The float next to ``value`` toward ``toward``; next to 0, the smallest normal one (PyTorch may set
    the processor to flush subnormals to zero, which reads the subnormal next to 0 as 0)."""
    if value == 0:
        return math.copysign(sys.float_info.min, toward)
    return math.nextafter(value, toward)


def setting(default=MISSING, **description) -> dataclasses.Field:
    """A config field described by a ``Setting`` (``description``: its attributes)."""
    return field(default=default, metadata={"setting": Setting(**description)})


def settings_of(cls) -> dict[str, Setting]:
    """Every described field of a dataclass, in field order."""
    return {f.name: f.metadata["setting"] for f in dataclasses.fields(cls) if "setting" in f.metadata}


def defaults_of(cls) -> dict:
    """The default value of every field that has one."""
    return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not MISSING}


def check(config) -> None:
    """Raise the plain line of the first field whose value its setting does not take."""
    for f in dataclasses.fields(config):
        s = f.metadata.get("setting")
        value = getattr(config, f.name)
        if s is not None and s.error and not s.accepts(value):
            raise TLError(s.error.format(value=value))
