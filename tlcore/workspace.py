"""The workspace folder: stored datasets, runs and device locks, shared by every app session."""

from __future__ import annotations

import errno
import json
import logging
import os
from pathlib import Path

from tlcore.atomic import atomic_write_json, disk_full, is_disk_full, sweep_temps
from tlcore.errors import TLError
from tlcore.home import ENV_VAR, home

CHOICES_VERSION = 1
_log = logging.getLogger(__name__)
# Why the studio's folder cannot be used: {what} is one of the reasons below.
UNUSABLE = ("The studio's folder {path} {what}; choose a folder you can write to by setting {var} (for example "
            "{var}=~/tlstudio) before you start the studio or the command.")
A_FILE = "is a file, not a folder"
FILE_IN_THE_WAY = "cannot be made there: a file stands in its way"
READ_ONLY = "is on a disk that can only be read"
NOT_YOURS = "cannot be written by you"
CANNOT_USE = "cannot be used ({reason})"


def unusable(path: Path, err: OSError) -> TLError:
    """One line saying why the workspace folder ``path`` cannot be used, and how to pick another."""
    if is_disk_full(err):
        return disk_full(path)
    if path.exists() and not path.is_dir():
        what = A_FILE
    elif isinstance(err, NotADirectoryError):
        what = FILE_IN_THE_WAY
    elif err.errno == errno.EROFS:
        what = READ_ONLY
    elif isinstance(err, PermissionError):
        what = NOT_YOURS
    else:
        what = CANNOT_USE.format(reason=(err.strerror or "input/output error").lower())
    return TLError(UNUSABLE.format(path=path, what=what, var=ENV_VAR))


def workspace_dir() -> Path:
    """``$TLSTUDIO_HOME`` if set, else ``~/.tlstudio``; created on first use (a TLError when it
    cannot be)."""
    path = home()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise unusable(path, e) from e
    return path


def writable_workspace() -> Path:
    """The workspace folder, checked that it can be written; a TLError saying what is wrong with it
    and how to choose another otherwise (a read-only disk, a folder of someone else's)."""
    path = workspace_dir()
    if not os.access(path, os.W_OK):
        read_only = os.statvfs(path).f_flag & os.ST_RDONLY
        raise unusable(path, OSError(errno.EROFS if read_only else errno.EACCES, "not writable"))
    return path


def tidy_workspace() -> None:
    """Remove the temporary files that killed writers left in the workspace (see
    atomic.sweep_temps): in run folders and their bundles, sweeps, learning curves, beside the
    settings. Stored datasets are not walked: their thousands of images hold no such file."""
    root = workspace_dir()
    for folder, subfolders, _ in os.walk(root):
        if Path(folder) == root:
            subfolders[:] = [name for name in subfolders if name != "datasets"]
        sweep_temps(folder)


def _sub(name: str) -> Path:
    path = workspace_dir() / name
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise unusable(path, e) from e
    return path


def datasets_dir() -> Path:
    """Where imported datasets (unzipped uploads and their manifests) are stored once."""
    return _sub("datasets")


def runs_dir() -> Path:
    """Where the studio creates run directories."""
    return _sub("runs")


def locks_dir() -> Path:
    """Lock files that make runs queue for a device."""
    return _sub("locks")


def sweeps_dir() -> Path:
    """Where strategy sweeps started from the studio keep their runs and summary."""
    return _sub("sweeps")


def standby_dir() -> Path:
    """Where warm worker processes announce themselves and receive their job."""
    return _sub("standby")


def curves_dir() -> Path:
    """Where learning curves started from the studio keep their runs and results."""
    return _sub("curves")


def graphs_dir() -> Path:
    """ONNX models of unchanged pretrained backbones, kept so that later runs skip exporting them
    (made when the first is kept: a read-only workspace only costs runs the export)."""
    return workspace_dir() / "graphs"


def choices_path() -> Path:
    """The user's last settings in the studio (how much to retrain, the advanced knobs)."""
    return workspace_dir() / "choices.json"


def save_choices(choices: dict) -> None:
    """Keep the user's settings (JSON-safe values) for the next session, written atomically."""
    atomic_write_json(choices_path(), {"version": CHOICES_VERSION, "choices": choices})


def load_choices() -> dict:
    """The settings kept by ``save_choices``; {} (the defaults) when there are none, or when the
    file is damaged or from an unknown version, which is logged and never raised."""
    choices = _kept(choices_path(), "choices")
    return choices if isinstance(choices, dict) else {}


def picked_path() -> Path:
    """The model picked last on the studio's Evaluate, Use or Runs page (its run's folder name)."""
    return workspace_dir() / "picked.json"


def save_picked(run_name: str) -> None:
    """Keep the name of the run whose model is in use, for the next session."""
    atomic_write_json(picked_path(), {"version": CHOICES_VERSION, "run": run_name})


def load_picked() -> str:
    """The run name kept by ``save_picked`` (only a name: never a path elsewhere); "" when none or damaged."""
    name = _kept(picked_path(), "run")
    return Path(name).name if isinstance(name, str) else ""


def _kept(path: Path, key: str):
    """``key`` of a file written for the next session; None when there is none, or when it is damaged
    or from an unknown version, which is logged and never raised."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:  # unreadable, not JSON, not UTF-8
        _log.warning("Ignoring the saved settings in %s: %s", path, e)
        return None
    if not (isinstance(data, dict) and data.get("version") == CHOICES_VERSION and key in data):
        _log.warning("Ignoring the saved settings in %s: not a settings file this version knows", path)
        return None
    return data[key]
