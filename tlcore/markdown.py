"""Text that people typed or uploaded, made safe to put into Streamlit's Markdown (and plotly's labels).

A dataset named after its zip (``Holiday ![x](https:evil.example).zip``), a class folder or a
file name must show as the words it is, never as a link, an image, a heading or coloured text.
No Streamlit import here, so the model card (plain Markdown) uses the same rule as the pages.
"""

from __future__ import annotations

import html
import re

# Characters that start Markdown syntax wherever they stand: code, emphasis, links and images,
# HTML and autolinks, strikethrough, tables, LaTeX ($), headings, entities (&lt;). A backslash
# shows each of them as itself. "(" and ")" are left alone: without "]" they make no link.
_ALWAYS = re.compile(r"([\\`*\[\]<>~|$#!&])")
# "_" is emphasis only at a word's edge; inside a word ("efficientnet_lite0") it is a letter.
_EDGE_UNDERSCORE = re.compile(r"_(?![^\W_])|(?<![^\W_])_")
# At the start of the text a list item ("- a", "+ a", "1. a", "1) a").
_LIST_MARKER = re.compile(r"^(\s*)([-+]|\d+[.)])")
# Streamlit finds bare URLs (https://…, www.…), e-mail addresses, :material/…: icons, emoji and
# the :streamlit: logo in the text after backslashes are gone, and :red[…] colours before; an
# invisible word joiner after a ":" or "@" that touches the next character, and inside "www.",
# breaks every one of them ("Note: …" keeps its plain colon).
_JOINER = "\u2060"
_JOIN_AFTER = re.compile(r"([:@])(?=\S)|(?<=www)(?=\.)", re.IGNORECASE)
_LINE_BREAKS = re.compile(r"[\r\n]+")


def escape(text: str) -> str:
    """``text`` as Markdown that Streamlit shows as exactly these characters.

    Only backslashes and invisible word joiners (U+2060) are added; line breaks become spaces,
    so a name cannot start a heading or a list on a line of its own."""
    text = _LINE_BREAKS.sub(" ", str(text))
    text = _ALWAYS.sub(r"\\\1", text)
    text = _EDGE_UNDERSCORE.sub(r"\\_", text)
    text = _LIST_MARKER.sub(lambda m: m[1] + m[2][:-1] + "\\" + m[2][-1], text)
    return _JOIN_AFTER.sub(lambda m: (m[1] or "") + _JOINER, text)


def plot_text(text: str) -> str:
    """``text`` for a plotly label (axis, legend, title, hover), which draws ``<a href>``, ``<b>`` and
    the like as links and formatting: "<", ">" and "&" become entities that plotly shows as written."""
    return html.escape(str(text), quote=False)
