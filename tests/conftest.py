import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

FAST = "not slow and not browser"  # `python -m pytest` with no paths and no -m: answers in minutes
NO_PATHS = (pytest.Config.ArgsSource.TESTPATHS, pytest.Config.ArgsSource.INVOCATION_DIR)


def pytest_configure(config):
    """With no test paths and no -m, run the fast default; naming files, tests or -m runs just those
    (so `python -m pytest tests/test_e2e_browser.py` still runs the browser test)."""
    if not config.option.markexpr and config.args_source in NO_PATHS:
        config.option.markexpr = FAST


def pytest_report_header(config):
    if config.option.markexpr == FAST:
        return f'fast default: -m "{FAST}" (bash tests/run.sh runs everything, as CI does)'


@pytest.fixture(autouse=True)
def _workspace(tmp_path_factory, monkeypatch):
    """Each test gets its own workspace folder, so nothing leaks between tests or into ~."""
    monkeypatch.setenv("TLSTUDIO_HOME", str(tmp_path_factory.mktemp("workspace")))
    monkeypatch.setenv("TLSTUDIO_STANDBY", "0")  # tests that want a warm worker start one


@pytest.fixture(scope="session")
def fashion_small(tmp_path_factory):
    """Fashion-MNIST: 4 classes x 12 training images, and 4 x 10 test images."""
    from datasets import FASHION_CLASSES, fashion_mnist, pick_per_class, write_class_folders

    root = tmp_path_factory.mktemp("fashion")
    x, y = fashion_mnist("train")
    classes = [0, 1, 5, 8]
    write_class_folders(root / "train", x, y, FASHION_CLASSES, pick_per_class(y, 12, classes))
    tx, ty = fashion_mnist("test")
    write_class_folders(root / "test", tx, ty, FASHION_CLASSES, pick_per_class(ty, 10, classes))
    return root


pytest_plugins = ["app_fixtures"]  # fixtures of the studio's AppTest tests
