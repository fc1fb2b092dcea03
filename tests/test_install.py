"""`pip install .` gives the two console scripts, and the engine runs from any folder."""

import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from tlcore.launch import SETTINGS, flags

ROOT = Path(__file__).resolve().parent.parent


def test_the_installed_studio_uses_the_checkouts_settings():
    assert SETTINGS == tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert flags({"server": {"address": "127.0.0.1", "headless": True}}) == [
        "--server.address", "127.0.0.1", "--server.headless", "true"]


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh virtual environment with the project installed (the heavy libraries come from the
    system's site-packages, as pip would otherwise download gigabytes of the same wheels)."""
    env, source = tmp_path_factory.mktemp("venv"), tmp_path_factory.mktemp("source") / "tlstudio"
    # a copy, so the build's own folders (build/, *.egg-info) are not left in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__",
                                                                "workspace", ".whl", "assets", "bench"))
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(env)], check=True)
    subprocess.run([str(env / "bin" / "python"), "-m", "pip", "install", "-q", str(source)],
                   check=True, cwd=env, timeout=600)
    return env


@pytest.mark.slow
def test_console_scripts_and_the_module_work_from_any_folder(venv, tmp_path):
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for command in ([str(venv / "bin" / "tlcore"), "models"], [str(venv / "bin" / "python"), "-m", "tlcore", "models"]):
        proc = subprocess.run(command, cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert "efficientnet_lite0" in proc.stdout and "bundled" in proc.stdout
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import tlcore; print(tlcore.__file__)"],
                           cwd=tmp_path, env=clean, capture_output=True, text=True, check=True).stdout
    assert str(venv) in where  # the installed copy, not the checkout


@pytest.mark.slow
def test_the_studio_starts_from_the_installed_script(venv, tmp_path):
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    port = "8617"
    proc = subprocess.Popen([str(venv / "bin" / "tlstudio"), "--server.port", port, "--server.headless", "true"],
                            cwd=tmp_path, env={**clean, "TLSTUDIO_STANDBY": "0"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, answer = time.time() + 120, None
        while time.time() < deadline and answer is None:
            try:
                answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read()
            except OSError:
                time.sleep(0.5)
        assert answer == b"ok"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
