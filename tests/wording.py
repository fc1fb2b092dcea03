"""Wording assertions go through the text's source: a test imports the constant a sentence is shown
from (a plain sentence, or a template with ``{fields}``), so changing a sentence's words is one edit."""

import re
from string import Formatter


def pattern(template: str, **values) -> str:
    """A regular expression for ``template`` as a user sees it: its words as they are, each field named
    in ``values`` filled in (formatted as the template formats it, or a compiled pattern's own
    expression), any other field any text."""
    parts = []
    for literal, field, spec, _ in Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is None:
            continue
        value = values.get(field)
        if isinstance(value, re.Pattern):
            parts.append(value.pattern)
        else:
            parts.append(".*?" if field not in values else re.escape(format(value, spec)))
    return "".join(parts)


def line(template: str, **values) -> str:
    """A regular expression for the whole line ``template`` shows, from its start to its end."""
    return f"^{pattern(template, **values)}$"
