"""Text projects at the front door: bring texts into the workspace (an uploaded table or zip, a
table, zip or folder on this computer, lines typed into classes), open them, tell a stored
dataset's kind, and audit them in plain words."""

from __future__ import annotations

from tlcore.data.store import dataset_kind
from tlcore.data.texts import TextData, TextItem
from tlcore.data.texts_audit import audit_texts
from tlcore.data.texts_store import add_typed_texts, import_text_path, import_texts, open_texts, type_texts

__all__ = ["TextData", "TextItem", "add_typed_texts", "audit_texts", "dataset_kind", "import_text_path",
           "import_texts", "open_texts", "type_texts"]
