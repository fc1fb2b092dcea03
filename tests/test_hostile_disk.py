"""A full disk: every write that runs out of space says so in one sentence, leaves what was saved
before exactly as it was, and leaves no half-written file behind.

A real 8 MB disk (tmpfs, mounted as root) where possible; the mocked cases need no root."""

import errno
import io
import os
import re
import shutil
import subprocess
import uuid

import numpy as np
import pytest
from PIL import Image

from test_hostile_input import fingerprint, make_zip, png
from tlcore import atomic, cli
from tlcore.data import archive, store
from tlcore.atomic import STUDIO_DISK_FULL, atomic_write_bytes
from tlcore.errors import TLError
from tlcore.jobs.outcome import NOT_ALLOWED, NOT_USABLE
from tlcore.workspace import datasets_dir, workspace_dir
from wording import line

FULL = line(STUDIO_DISK_FULL, free=re.compile(r"\d+"))


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """An 8 MB disk holding the workspace; always unmounted afterwards."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small disk needs root and permission to mount")
    try:
        monkeypatch.setenv("TLSTUDIO_HOME", str(mnt / "ws"))
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(disk, keep: int = 64 * 1024) -> None:
    """Use up the disk except ``keep`` bytes."""
    with open(disk / "filler", "wb") as f:
        f.write(bytes(max(0, shutil.disk_usage(disk).free - keep)))


def noise_png(i: int, side: int = 700) -> bytes:
    """A PNG that does not compress (about 1.5 MB), so it fills a disk quickly."""
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(i).integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def earlier_dataset() -> dict:
    store.import_zip(make_zip({f"{c}/{i}.png": png(i + 3 * k) for k, c in enumerate("ab") for i in range(2)}),
                     "earlier.zip")
    return fingerprint(workspace_dir())


def test_atomic_write_on_a_full_disk_keeps_the_old_file(small_disk):
    target = small_disk / "ws" / "status.json"
    atomic_write_bytes(target, b'{"state": "finished"}')
    fill(small_disk)
    with pytest.raises(TLError, match=FULL):
        atomic_write_bytes(target, bytes(1 << 20))
    assert target.read_bytes() == b'{"state": "finished"}'
    assert sorted(p.name for p in target.parent.iterdir()) == ["status.json"]


def test_zip_larger_than_the_free_space_is_refused_before_unpacking(small_disk):
    before = earlier_dataset()
    data = make_zip({f"a/{i}.png": noise_png(i) for i in range(3)} | {f"b/{i}.png": noise_png(9 + i)
                                                                       for i in range(3)})
    with pytest.raises(TLError, match=FULL):
        store.import_zip(data, "clothes.zip")
    assert fingerprint(workspace_dir()) == before and len(list(datasets_dir().iterdir())) == 1


def test_disk_filling_up_during_the_unpacking_leaves_nothing(small_disk, monkeypatch):
    before = earlier_dataset()
    monkeypatch.setattr(archive, "free_bytes", lambda path: 2**40)  # another program fills it meanwhile
    data = make_zip({f"a/{i}.png": noise_png(i) for i in range(3)} | {f"b/{i}.png": noise_png(9 + i)
                                                                       for i in range(3)})
    with pytest.raises(TLError, match=FULL):
        store.import_zip(data, "clothes.zip")
    assert fingerprint(workspace_dir()) == before and len(list(datasets_dir().iterdir())) == 1


def test_class_images_on_a_full_disk_leave_nothing(small_disk):
    before = earlier_dataset()
    fill(small_disk, keep=512 * 1024)
    with pytest.raises(TLError, match=FULL):
        store.import_class_images("mine", {"a": [(f"{i}.png", noise_png(i)) for i in range(2)],
                                           "b": [("1.png", noise_png(7))]})
    assert fingerprint(workspace_dir()) == before and len(list(datasets_dir().iterdir())) == 1


def test_a_full_disk_at_the_rename_removes_the_temporary_file(tmp_path, monkeypatch):
    # No mount needed: the write itself reports the full disk.
    target = tmp_path / "manifest.json"
    target.write_text("old")

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full)
    with pytest.raises(TLError, match=FULL):
        atomic.atomic_write_json(target, {"new": True})
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


@pytest.mark.parametrize("err,shown", [
    (OSError(errno.ENOSPC, "No space left on device", "/x/p.csv"), "The disk "),  # the studio's or "/"
    (PermissionError(errno.EACCES, "Permission denied", "p.csv"), NOT_ALLOWED.format(where="p.csv")),
    (OSError(errno.EROFS, "Read-only file system", "p.csv"), NOT_USABLE.format(where="p.csv",
                                                                               reason="read-only file system")),
])
def test_cli_file_and_disk_problems_are_one_line(err, shown, monkeypatch, capsys):
    def fail(args):
        raise err

    monkeypatch.setitem(cli.COMMANDS, "models", fail)
    assert cli.main(["models"]) == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("error: " + shown) and stderr.count("\n") == 1 and "Errno" not in stderr


def test_unexpected_problem_is_one_line_unless_debugging(monkeypatch, capsys):
    marker = f"secret-{uuid.uuid4()}"

    def bug(args):
        raise ZeroDivisionError(marker)

    monkeypatch.setitem(cli.COMMANDS, "models", bug)
    assert cli.main(["models"]) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and marker not in stderr and "TLSTUDIO_DEBUG=1" in stderr
    monkeypatch.setenv("TLSTUDIO_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli.main(["models"])
