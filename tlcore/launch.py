"""``tlstudio``: start the studio from any folder, with the settings in .streamlit/config.toml.

Streamlit reads that file only from the folder it is started in, and an installed copy of the
studio has no such folder; so the launcher passes its settings on Streamlit's command line, and
arguments given to ``tlstudio`` (e.g. ``--server.port 8502``) come after them and win.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tomllib
from pathlib import Path
from typing import NoReturn

from tlcore.errors import TLError
from tlcore.sharing import password_problem
from tlcore.workspace import writable_workspace

# The settings of .streamlit/config.toml, for an installed studio (a test keeps them the same).
SETTINGS = {
    "client": {"showErrorDetails": "none", "toolbarMode": "viewer", "showSidebarNavigation": False},
    "server": {"address": "127.0.0.1", "maxUploadSize": 1024},
    "browser": {"gatherUsageStats": False},
}


def app_path() -> Path:
    """Where app.py is: beside tlcore in a checkout, or installed next to it."""
    spec = importlib.util.find_spec("app")
    if spec is None or spec.origin is None:
        raise SystemExit("error: the studio's app.py is not installed next to tlcore; reinstall with `pip install .`")
    return Path(spec.origin)


def settings(app: Path) -> dict:
    """The checkout's .streamlit/config.toml when there is one, else the installed defaults."""
    config = app.parent / ".streamlit" / "config.toml"
    return tomllib.loads(config.read_text()) if config.is_file() else SETTINGS


def flags(config: dict) -> list[str]:
    """``--section.key value`` for every setting."""
    out = []
    for section, values in config.items():
        for key, value in values.items():
            out += [f"--{section}.{key}", str(value).lower() if isinstance(value, bool) else str(value)]
    return out


def secrets_problem(app: Path) -> str | None:
    """What would stop the studio in the secrets Streamlit reads (~/.streamlit/secrets.toml, then
    the one beside app.py, whose keys win): an empty password, say; None when all is well."""
    merged = {}
    for path in (Path.home() / ".streamlit" / "secrets.toml", app.parent / ".streamlit" / "secrets.toml"):
        try:
            merged.update(tomllib.loads(path.read_text()))
        except (OSError, ValueError):  # none there, or a file Streamlit itself will complain about
            continue
    return password_problem(merged)


def main(argv: list[str] | None = None) -> NoReturn:
    """Become ``streamlit run app.py`` (exec, so Ctrl-C and signals reach the server directly),
    unless its password is empty or its folder cannot be written: then say so in one line."""
    app = app_path()
    if problem := secrets_problem(app):
        raise SystemExit(f"error: {problem}")
    try:
        writable_workspace()
    except TLError as e:
        raise SystemExit(f"error: {e}") from None
    args = sys.argv[1:] if argv is None else argv
    os.chdir(app.parent)
    os.execv(sys.executable, [sys.executable, "-m", "streamlit", "run", str(app), *flags(settings(app)), *args])
