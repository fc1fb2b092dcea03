"""Reading the bytes of a text file or table as text: UTF-8 or UTF-16 as saved, Windows-1252 (what
Excel saves for Western European languages) when the bytes fit it, and anything else refused in
words, binary data included."""

from __future__ import annotations

import codecs

from tlcore.errors import TLError

WESTERN = "cp1252"
READ_AS_WESTERN = ("{name} is not saved as UTF-8; it was read as Windows-1252 (Western European). If some "
                   "letters look wrong, save it as UTF-8 and import it again.")
UNKNOWN_ENCODING = ("{name} is not saved as UTF-8, and its encoding could not be told; save it as UTF-8 (in Excel: "
                    "'CSV UTF-8') and import it again.")
# In Western European text most letters are plain ASCII (French has about 4% accented letters);
# text in another alphabet read as Windows-1252 turns into almost nothing but accented letters.
MAX_ACCENTED_SHARE = 0.3
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class NotText(TLError):
    """The bytes are not text in an encoding the studio can tell (binary data, or an unknown one)."""


def _western(data: bytes) -> str | None:
    """The bytes read as Windows-1252 when they plausibly are Western European text, else None."""
    try:
        text = data.decode(WESTERN)
    except UnicodeDecodeError:  # 5 byte values mean nothing in Windows-1252
        return None
    letters = [c for c in text if c.isalpha()]
    accented = sum(not c.isascii() for c in letters)
    controls = sum(0x7F <= ord(c) <= 0x9F for c in text)
    if controls or accented > MAX_ACCENTED_SHARE * max(len(letters), 1):
        return None
    return text


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """``data`` as text, and the encoding it was read with ("utf-8", "utf-16", "cp1252"...).

    Raises NotText (a TLError) for binary data and for text in an encoding that cannot be told."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding.removesuffix("-sig")
            except UnicodeDecodeError:
                break
    if b"\x00" in data:
        raise NotText(f"{name} holds binary data, not text.")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = _western(data)
    if text is None:
        raise NotText(UNKNOWN_ENCODING.format(name=name))
    return text, WESTERN


def encoding_note(name: str, encoding: str) -> str:
    """The sentence that says a file was not UTF-8 and how it was read ("" for UTF-8)."""
    if encoding != WESTERN:
        return ""
    return READ_AS_WESTERN.format(name=name)
