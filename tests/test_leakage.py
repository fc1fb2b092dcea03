"""Copies of training images among validation and test images: found, named in the audit, removed
in one click, and counted by every run that is scored on them ("never saw" only when true)."""

import functools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from app_fixtures import TINY, studio, texts
from PIL import Image

from datasets import FASHION_DIR, fashion_mnist
from pages import ui
from pages.evaluate import _measured_on
from tlcore.config import TrainConfig
from tlcore.data import fingerprint, store
from tlcore.data.dataset import Dataset, audit, scan_folder
from tlcore.data.leakage import count_copies, find_copies
from tlcore.jobs.train import create_run, execute
from tlcore.record import COPIES_OF_TRAINING, LEAKED, WITH_COPIES, Score
from tlcore.rundir import RunDir
from tlcore.workspace import datasets_dir, runs_dir

pytestmark = pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="needs Debian's dataset-fashion-mnist")
CLASSES = {"top": 0, "bag": 8}  # Fashion-MNIST label of each class


@functools.cache
def _fashion() -> tuple[np.ndarray, np.ndarray]:
    return fashion_mnist("train")


def _picture(index: int) -> Image.Image:
    """A Fashion-MNIST training picture enlarged to 112 pixels, as a photo has more pixels."""
    x, _ = _fashion()
    return Image.fromarray(x[index]).resize((112, 112), Image.Resampling.BILINEAR)


def _save(img: Image.Image, path: Path, fmt: str = "PNG", **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, fmt, **options)
    return path


@pytest.fixture
def planted(tmp_path) -> Path:
    """train/: 6 pictures a class; test/: an exact copy, a 60% copy and a JPEG copy of training
    pictures among 4 distinct ones; val/: an exact copy among 2 distinct ones."""
    _, y = _fashion()
    root = tmp_path / "planted"
    picks = {name: np.flatnonzero(y == label)[:13] for name, label in CLASSES.items()}
    for name, index in picks.items():
        for i in index[:6]:
            _save(_picture(i), root / "train" / name / f"{i}.png")
        for i in index[6:10]:
            _save(_picture(i), root / "test" / name / f"{i}.png")
        for i in index[10:12]:
            _save(_picture(i), root / "val" / name / f"{i}.png")
    top, bag = picks["top"], picks["bag"]
    shutil.copyfile(root / "train" / "top" / f"{top[0]}.png", root / "test" / "top" / "exact.png")
    _save(_picture(bag[1]).resize((67, 67), Image.Resampling.BILINEAR), root / "test" / "bag" / "smaller.png")
    _save(_picture(top[2]).convert("RGB"), root / "test" / "top" / "again.jpg", "JPEG", quality=75)
    shutil.copyfile(root / "train" / "bag" / f"{bag[3]}.png", root / "val" / "bag" / "exact.png")
    return root


def _found(ds: Dataset) -> dict[str, list[tuple[str, str, bool]]]:
    root = Path(ds.root)
    return {split: sorted((str(Path(c.path).relative_to(root)), str(Path(c.of).relative_to(root)), c.exact)
                          for c in copies) for split, copies in find_copies(ds.items).items()}


def test_exact_resized_and_reencoded_copies_are_found_and_nothing_else(planted, monkeypatch):
    _, y = _fashion()
    top, bag = (np.flatnonzero(y == label)[:4] for label in CLASSES.values())
    expected = {"test": [("test/bag/smaller.png", f"train/bag/{bag[1]}.png", False),
                         ("test/top/again.jpg", f"train/top/{top[2]}.png", False),
                         ("test/top/exact.png", f"train/top/{top[0]}.png", True)],
                "val": [("val/bag/exact.png", f"train/bag/{bag[3]}.png", True)]}
    ds = scan_folder(planted)
    assert _found(ds) == expected
    # Fingerprints are kept by file contents: a second look decodes nothing.
    assert list(fingerprint.fingerprints_dir().glob("*.json"))
    monkeypatch.setattr(fingerprint, "fingerprint_file", lambda _: pytest.fail("decoded again"))
    assert _found(ds) == expected


def test_the_audit_says_which_split_copies_training_images(planted):
    report = audit(scan_folder(planted))
    json.dumps(report)
    assert report["advice"][:2] == [
        "3 test images are copies of training images (some resized or saved again); the test score would be "
        "too high. Remove them from the test images, or keep them: the score then says how many of its "
        "images are copies.",
        "1 validation image is a copy of a training image; the validation score would be too high. Remove it "
        "from the validation images, or keep it: the score then says how many of its images are copies."]
    assert [c["path"] for c in report["copies_of_training"]["test"]] == [
        "test/bag/smaller.png", "test/top/again.jpg", "test/top/exact.png"]


def test_removing_copies_changes_only_the_stored_manifest(planted):
    folder = datasets_dir() / "planted"
    ds = scan_folder(planted)
    ds.save(folder)
    left = store.remove_copies(folder, "test")
    gone = {str(planted / p) for p in ("test/bag/smaller.png", "test/top/again.jpg", "test/top/exact.png")}
    assert {i.path for i in ds.items} - {i.path for i in left.items} == gone
    assert Dataset.load(folder).items == left.items and left.id != ds.id
    assert all(Path(p).is_file() for p in gone)  # earlier runs on these files still reproduce
    assert list(find_copies(left.items)) == ["val"]
    assert list(find_copies(store.remove_copies(folder, "val").items)) == []


def test_copies_among_model_inputs_are_counted_for_a_split_and_within_one():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (4, 3, 6, 6), dtype=np.uint8).repeat(8, 2).repeat(8, 3)  # 48-pixel pictures
    again = np.stack([x[0], x[2]]).astype(int) + rng.integers(-3, 4, (2, 3, 48, 48))
    again = again.clip(0, 255).astype(np.uint8)  # the same pictures, slightly changed (as a JPEG does)
    size = (48, 48)
    files = [(sha, size) for sha in "abcd"]
    assert count_copies(files, x, [("e", size), ("f", size)], again) == 2
    assert count_copies(files, x, [("b", size), ("z", size)], x[[1, 3]][:, :, ::-1]) == 1  # the same file
    assert count_copies(files, x) == 0
    twins = [(sha, size) for sha in "abad"]
    assert count_copies(twins, np.concatenate([x[:3], x[:1]])) == 3  # 0 and 2: one file; 3: 0's picture


def test_a_run_counts_with_the_fingerprints_the_audit_kept(planted):
    ds = scan_folder(planted)
    find_copies(ds.items)  # as the Data page's audit does, which keeps every file's fingerprint
    train, test = ds.subset("train"), ds.subset("test")

    def facts(items):
        return [(i.sha256, (i.width, i.height)) for i in items]

    blank = np.zeros((len(ds.items), 3, 8, 8), np.uint8)  # on their own these match only the exact copy
    assert count_copies(facts(train), blank[:len(train)], facts(test), blank[:len(test)]) == 3


@pytest.mark.parametrize("copies, says, never_says", [
    (0, "Measured on 40 test images the model never saw while training.", "copies"),
    (4, "Measured on 40 test images; 4 of them are copies of training images, which the model saw", "never saw"),
    (None, "Measured on 40 test images set apart from training.", "never saw")])
def test_never_saw_is_written_only_when_it_was_checked_and_true(copies, says, never_says):
    score = Score("test", 0.8, 0.66, 0.89, 40, "test images", copies)
    metrics = type("M", (), {"score": score, "estimate": Score("cv", 0.7, 0.6, 0.8, 48, "5-fold", 0)})
    shown = _measured_on("test", 40, metrics)
    assert says in shown and never_says not in shown
    assert (WITH_COPIES.format(where="40 test images", copies=4, copied=COPIES_OF_TRAINING) in score.sentence()
            ) == bool(copies)
    assert bool(score.leaked) == bool(copies)


def test_a_run_records_its_copies_and_every_score_says_so(planted):
    data = planted.parent / "no-val"
    shutil.copytree(planted / "train", data / "train")
    shutil.copytree(planted / "test", data / "test")
    run = create_run(TrainConfig(data=str(data), **TINY), runs_dir() / "20250101-000000-leak")
    assert execute(run.path) == "finished"
    metrics = RunDir(run.path).metrics()
    assert (metrics.score.split, metrics.score.copies, metrics.estimate.copies) == ("test", 3, 0)
    scored = WITH_COPIES.format(where="11 test images", copies=3, copied=COPIES_OF_TRAINING)
    assert metrics.score.sentence().endswith(f"({scored})")
    at = studio("evaluate", **{ui.RUN: str(run.path)})
    assert not at.exception
    assert LEAKED.format(copies=3, images=11, split="test images", are_copies="are copies",
                         images_trained="images") in texts(at.warning)
    assert "never saw" not in texts(at.caption) and "3 of them are copies" in texts(at.caption)


def test_the_data_page_names_the_copies_and_removes_them_in_one_click(planted):
    folder = datasets_dir() / "planted"
    scan_folder(planted).save(folder)
    at = studio(**{ui.DATASET: str(folder)})
    assert not at.exception
    assert "3 test images are copies of training images" in texts(at.warning)
    next(b for b in at.button if b.label == "Remove the 3 copies from the test images").click()
    at.run()
    assert not at.exception
    assert "test images are copies" not in texts(at.warning) and "1 validation image is a copy" in texts(at.warning)
    assert {m.label: m.value for m in at.metric}["Usable images"] == "25"
    assert len(Dataset.load(folder).subset("test")) == 8
