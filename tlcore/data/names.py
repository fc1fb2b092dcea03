"""Names people give things (class folders, typed class names, file names): checked when they are
imported, and printed so that they cannot forge a line of the command line's output.

- A class name is kept in Unicode's NFC form, so 'café' written on a Mac (NFD: 'e' followed by a
  combining accent) and 'café' written elsewhere (one 'é') are the same text, hence one class.
- Two names that still differ but are equal once upper and lower case are folded ('Cat' and 'cat',
  'STRASSE' and 'straße') are refused within one import, naming both: a disk that ignores case
  would merge their folders, and a person reading the results could not tell them apart.
- Control characters (C0, DEL, C1, and Unicode's line and paragraph separators) are refused in class
  names. Wherever a name or a file name is printed on a line, they are shown escaped (\\n, \\x1b).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from tlcore.errors import TLError

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Every character Python's str.splitlines() ends a line at.
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# {what} says what the names belong to ("class folder", "class name"; plural in CASE_TWINS).
CONTROL_IN_NAME = "The {what} '{name}' has {kind} ({char}) in it; rename it without one and try again."
CASE_TWINS = ("The {what} '{first}' and '{second}' differ only in upper and lower case, so they would be one class "
              "on some disks; put their images together under one name, or rename one of them.")


def printable(text: object) -> str:
    """``text`` with each control character written as an escape (a line break as \\n, an escape
    character as \\x1b), so that printing it makes exactly one line and moves no terminal cursor."""
    return _CONTROL.sub(lambda m: _SHORT.get(m[0]) or _escape(m[0]), str(text))


def _escape(char: str) -> str:
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def normal(name: str) -> str:
    """A class name as it is stored: NFC, without surrounding spaces."""
    return unicodedata.normalize("NFC", name).strip()


def same_name(name: str) -> str:
    """What two class names that count as the same have in common: NFC, case folded."""
    return unicodedata.normalize("NFC", normal(name).casefold())


def class_name(name: str, what: str) -> str:
    """``name`` as stored (see ``normal``), or a TLError naming the control character it holds;
    ``what`` says what the name belongs to in that message ("class folder", "class name")."""
    found = _CONTROL.search(name)
    if found:
        char = found[0]
        kind = "a line break" if char in _LINE_BREAKS else "a tab" if char == "\t" else "a control character"
        raise TLError(CONTROL_IN_NAME.format(what=what, name=printable(name), kind=kind, char=printable(char)))
    return normal(name)


def refuse_case_twins(names: Iterable[str], what: str) -> None:
    """A TLError naming the first two of ``names`` (already as stored) that differ only in upper
    and lower case; ``what`` is the plural of what they name ("class folders")."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(same_name(name), name)
        if other != name:
            raise TLError(CASE_TWINS.format(what=what, first=other, second=name))
