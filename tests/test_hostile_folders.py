"""The studio's folder and the disks around it: a workspace that cannot be written says so in one
line (studio, command line, launcher); a full disk is named, and deleting runs is advised only when
it is the studio's; a second run and a web export on a full disk end in that line; the temporary
files a killed writer leaves are swept by the next write and at the studio's start.

Real small disks (tmpfs, mounted as root) where possible; see test_hostile_disk.small_disk."""

import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from app_fixtures import ROOT, TINY, studio
from test_hostile_disk import FULL, fill, small_disk  # noqa: F401 (small_disk is a fixture)
from test_hostile_security import _unescape

from tlcore import cli, launch
from tlcore.atomic import DISK_FULL, STALE_SECONDS, STUDIO_DISK_FULL, atomic_write_bytes, disk_full
from tlcore.errors import TLError
from tlcore.use.webdemo import write_web_demo
from tlcore.workspace import (A_FILE, FILE_IN_THE_WAY, READ_ONLY, UNUSABLE, datasets_dir, runs_dir,
                              writable_workspace)
from wording import line, pattern

MB = re.compile(r"\d+")  # free megabytes


def elsewhere(folder) -> str:
    return line(DISK_FULL, folder=folder, free=MB)


def _ws_line(path, what: str) -> str:
    return UNUSABLE.format(path=path, what=what, var="TLSTUDIO_HOME")


def _cli(args: list[str], capsys) -> tuple[int, str]:
    code = cli.main(args)
    return code, capsys.readouterr().err


def _no_exec(monkeypatch) -> None:
    def started(*args):
        raise AssertionError("the server was started")

    monkeypatch.setattr(launch.os, "execv", started)


# --- a workspace that cannot be written ---------------------------------------------------------

@pytest.fixture(params=["file", "below a file"])
def unusable_home(request, tmp_path, monkeypatch):
    """TLSTUDIO_HOME naming a file, or a folder inside a file; the line the user must see."""
    (tmp_path / "notes.txt").write_text("mine")
    home = tmp_path / "notes.txt" if request.param == "file" else tmp_path / "notes.txt" / "ws"
    monkeypatch.setenv("TLSTUDIO_HOME", str(home))
    what = A_FILE if request.param == "file" else FILE_IN_THE_WAY
    yield _ws_line(home, what)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_the_studio_says_what_is_wrong_with_its_folder(unusable_home):
    at = studio()
    assert not at.exception and [_unescape(e.value) for e in at.error] == [unusable_home]
    assert not at.title  # no page drawn behind it


def test_the_command_line_says_what_is_wrong_with_its_folder(unusable_home, tmp_path, capsys):
    code, err = _cli(["train", "--data", str(tmp_path), "--out", str(tmp_path.parent / "run")], capsys)
    assert code == 2 and err == f"error: {unusable_home}\n"
    assert not (tmp_path.parent / "run").exists()


def test_the_launcher_says_what_is_wrong_with_its_folder(unusable_home, monkeypatch):
    _no_exec(monkeypatch)
    with pytest.raises(SystemExit) as stop:
        launch.main([])
    assert str(stop.value) == f"error: {unusable_home}"


@pytest.fixture
def read_only_home(small_disk):
    """The workspace on a disk mounted read-only after a dataset was stored on it."""
    datasets_dir()
    if subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], capture_output=True).returncode != 0:
        pytest.skip("remounting a disk read-only needs root")
    yield small_disk / "ws"
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], capture_output=True)


def test_a_read_only_workspace_is_one_line_everywhere(read_only_home, tmp_path, capsys, monkeypatch):
    shown = _ws_line(read_only_home, READ_ONLY)
    with pytest.raises(TLError) as e:
        writable_workspace()
    assert str(e.value) == shown
    at = studio()
    assert not at.exception and [_unescape(e.value) for e in at.error] == [shown] and not at.title
    code, err = _cli(["sweep", "--data", str(tmp_path), "--out", str(tmp_path / "s")], capsys)
    assert code == 2 and err == f"error: {shown}\n"
    _no_exec(monkeypatch)
    with pytest.raises(SystemExit) as stop:
        launch.main([])
    assert str(stop.value) == f"error: {shown}"


# --- which disk is full ------------------------------------------------------------------------

def test_a_full_disk_that_is_not_the_studios_is_named_and_runs_are_not_mentioned(small_disk, tmp_path,
                                                                                 monkeypatch):
    assert re.match(line(STUDIO_DISK_FULL, free=MB), str(disk_full(small_disk / "ws" / "x.csv")))
    monkeypatch.setenv("TLSTUDIO_HOME", str(tmp_path / "ws"))  # the studio on another disk
    fill(small_disk)
    with pytest.raises(TLError, match=elsewhere(small_disk / "out")) as e:
        atomic_write_bytes(small_disk / "out" / "predictions.csv", bytes(1 << 20))
    assert "Runs page" not in str(e.value)
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "out"] and not any((small_disk / "out").iterdir())


# --- a second run, and a web export, on a full disk ----------------------------------------------

def test_a_second_run_on_a_full_disk_ends_in_one_line(trained_run, small_disk, tiny_digits, capsys):
    # after a first run (trained_run, whose ONNX features this process keeps), the disk has filled up
    fill(small_disk, keep=3 << 20)  # room for a checkpoint, not for the model
    out = small_disk / "run2"
    args = ["train", "--data", tiny_digits, "--out", str(out), "--epochs", "1", "--evaluation", "holdout"]
    args += [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items() if k not in ("epochs",)]
    code, err = _cli(args, capsys)
    lines = err.splitlines()
    assert code == 2 and "Traceback" not in err and "unexpected" not in err
    assert len(lines) == 1 and lines[0].startswith("error: ") and re.match(FULL, lines[0][7:])
    assert len(re.findall(pattern(STUDIO_DISK_FULL, free=MB), (out / "status.json").read_text())) == 1
    assert not [p for p in out.rglob(".*") if p.name != "worker.lock"]  # no half-written file


@pytest.mark.usefixtures("small_disk")
def test_a_web_export_needs_no_temporary_folder(trained_run, tmp_path, monkeypatch):
    full = Path(os.environ["TLSTUDIO_HOME"]).parent
    fill(full)
    monkeypatch.setattr(tempfile, "tempdir", str(full))  # the system's temporary folder is full
    out = tmp_path / "out" / "demo.zip"
    out.parent.mkdir()
    assert write_web_demo(trained_run, out) == out.stat().st_size
    assert "model.js" in zipfile.ZipFile(out).namelist() and [p.name for p in out.parent.iterdir()] == ["demo.zip"]


def test_a_web_export_onto_another_full_disk_names_it(small_disk, trained_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TLSTUDIO_HOME", str(tmp_path / "ws"))
    (small_disk / "usb").mkdir()
    fill(small_disk)
    code, err = _cli(["export", "--run", str(trained_run), "--format", "web", "--out",
                      str(small_disk / "usb" / "demo.zip")], capsys)
    assert code == 2 and "Errno" not in err
    assert re.match(elsewhere(small_disk / "usb"), err[len("error: "):].rstrip("\n"))
    assert not any((small_disk / "usb").iterdir())


# --- what a killed writer leaves ---------------------------------------------------------------

WRITER = """
import sys, time
from pathlib import Path
from tlcore.atomic import temp_beside
with temp_beside(Path(sys.argv[1])) as tmp:
    tmp.write_bytes(bytes(1 << 20))
    print(tmp.name, flush=True)
    time.sleep(120)
"""


def _writer(target: Path) -> tuple[subprocess.Popen, Path]:
    """A process in the middle of writing ``target`` the studio's way; its temporary file."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return proc, target.parent / proc.stdout.readline().strip()


def _end(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()
    proc.stdout.close()


def _age(path: Path) -> None:
    then = time.time() - STALE_SECONDS - 60
    os.utime(path, (then, then))


def test_the_next_write_sweeps_what_a_killed_writer_left_and_nothing_else(tmp_path):
    target = tmp_path / "demo.zip"
    killed, left = _writer(target)
    _end(killed)  # SIGKILL: no clean-up of its own
    assert left.stat().st_size == 1 << 20
    alive, writing = _writer(target)
    try:
        fresh = tmp_path / ".demo.zip.abcd1234.tmp"  # unlocked, but written a moment ago
        fresh.write_bytes(b"x")
        other = tmp_path / ".notes.txt.abcd1234.tmp"  # another file's: not this write's business
        other.write_bytes(b"x")
        for path in (left, writing, other):
            _age(path)
        atomic_write_bytes(target, b"zip")
        assert target.read_bytes() == b"zip"
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["demo.zip", writing.name, fresh.name, other.name])
    finally:
        _end(alive)


def test_the_studio_sweeps_its_run_folders_when_it_starts(workspace_run):
    run = Path(workspace_run)
    leftovers = [run / ".web-demo.zip.k1ll3d00.tmp", run / "bundle" / ".model.safetensors.k1ll3d00.tmp",
                 run / ".tmp-k1ll3d00-model.onnx", runs_dir().parent / ".choices.json.k1ll3d00.tmp"]
    for path in leftovers:
        path.write_bytes(bytes(1000))
        _age(path)
    recent = run / ".model.pt2.n0w00000.tmp.pt2"
    recent.write_bytes(bytes(1000))
    at = studio()
    assert not at.exception and not at.error
    assert not any(p.exists() for p in leftovers) and recent.exists()
