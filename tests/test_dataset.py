"""tlcore.data.dataset: scanning layouts, safe unzipping, splits, checks and the audit."""

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from tlcore.data import archive as archive_mod
from tlcore.data import dataset as dataset_mod
from tlcore.data.archive import NOT_A_ZIP
from tlcore.data.dataset import (NO_IMAGES, NOT_IN_CLASS, NOT_IN_SPLIT, ONE_CLASS, TOO_FEW, Dataset, Item, Skipped,
                                 assign_splits, audit, check_trainable, extract_zip, load_source, scan_folder)
from tlcore.data.images import DAMAGED, NOT_AN_IMAGE
from tlcore.errors import TLError
from wording import line


def image(path: Path, seed: int, size=(32, 24)) -> Path:
    """A small PNG whose colour (so its hash) depends on ``seed``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (seed % 256, seed // 256 % 256, 7)).save(path)
    return path


def item(n: int, label: str, split: str = "", sha: str | None = None, side: int = 100) -> Item:
    return Item(f"/data/{label}/{n}.png", label, split, sha or f"{label}-{n}", side, side)


def make_ds(items, skipped=(), root="/data") -> Dataset:
    return Dataset.create("demo", root, items, skipped)


def files_outside(root: Path, inside: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_relative_to(inside)]


# --- scanning -----------------------------------------------------------------------------

def test_scan_class_layout_with_skipped_reasons(tmp_path):
    root = tmp_path / "parts"
    image(root / "cats" / "a.png", 1)
    image(root / "cats" / "b.png", 2, size=(20, 50))
    image(root / " dogs " / "c.png", 3)
    image(root / "dogs" / "deep" / "d.png", 4)
    image(root / "loose.png", 5)
    (root / "cats" / "notes.txt").write_text("hi")
    (root / ".DS_Store").write_text("junk")
    image(root / "cats" / ".hidden.png", 6)
    image(root / ".cache" / "e.png", 7)
    ds = scan_folder(root)
    assert ds.name == "parts" and ds.classes == ["cats", "dogs"]
    assert [(Path(i.path).name, i.label, i.split) for i in ds.items] == [
        ("c.png", "dogs", ""), ("a.png", "cats", ""), ("b.png", "cats", "")]
    b = ds.items[2]
    assert (b.width, b.height) == (20, 50) and Path(b.path).is_absolute()
    assert b.sha256 == hashlib.sha256(Path(b.path).read_bytes()).hexdigest()
    reasons = {Path(s.path).name: s.reason for s in ds.skipped}
    assert reasons == {"d.png": NOT_IN_CLASS, "loose.png": NOT_IN_CLASS, "notes.txt": NOT_AN_IMAGE}


def test_scan_split_layout_with_aliases(tmp_path):
    root = tmp_path / "ds"
    image(root / "Train" / "cats" / "a.png", 1)
    image(root / "train" / "dogs" / "b.png", 2)
    image(root / "VALIDATION" / "cats" / "c.png", 3)
    image(root / "valid" / "dogs" / "d.png", 4)
    image(root / "test" / "dogs" / "e.png", 5)
    image(root / "extra" / "cats" / "f.png", 6)
    ds = scan_folder(root)
    got = sorted((Path(i.path).name, i.label, i.split) for i in ds.items)
    assert got == [("a.png", "cats", "train"), ("b.png", "dogs", "train"), ("c.png", "cats", "val"),
                   ("d.png", "dogs", "val"), ("e.png", "dogs", "test")]
    assert [(Path(s.path).name, s.reason) for s in ds.skipped] == [
        ("f.png", NOT_IN_SPLIT)]


def test_scan_descends_into_a_lone_wrapper_folder(tmp_path):
    wrapper = tmp_path / "upload" / "my photos"
    image(wrapper / "cats" / "a.png", 1)
    image(wrapper / "dogs" / "b.png", 2)
    (tmp_path / "upload" / "__MACOSX" / "cats").mkdir(parents=True)
    (tmp_path / "upload" / ".DS_Store").write_text("junk")
    ds = scan_folder(tmp_path / "upload")
    assert ds.root == str(wrapper) and ds.classes == ["cats", "dogs"] and not ds.skipped


def test_scan_keeps_a_lone_class_folder_as_a_class(tmp_path):
    image(tmp_path / "cats" / "a.png", 1)
    ds = scan_folder(tmp_path)
    assert ds.classes == ["cats"] and len(ds.items) == 1


def test_scan_names_class_folders_without_usable_images(tmp_path):
    image(tmp_path / "cats" / "a.png", 1)
    (tmp_path / "dogs").mkdir()
    (tmp_path / "dogs" / "x.txt").write_text("no")
    ds = scan_folder(tmp_path)
    assert ds.classes == ["cats", "dogs"] and ds.counts() == {"cats": 1, "dogs": 0}


# --- zips ---------------------------------------------------------------------------------

def test_extract_zip_writes_nothing_outside_dest(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok/cats/a.txt", "fine")
        zf.writestr("../evil.txt", "escaped")
        zf.writestr("ok/../../evil2.txt", "escaped")
        zf.writestr(str(tmp_path / "abs_evil.txt"), "absolute")
        zf.writestr("C:/evil3.txt", "drive")
        link = zipfile.ZipInfo("link")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, str(tmp_path))
    dest = extract_zip(archive, tmp_path / "out" / "files")
    assert files_outside(tmp_path, dest) == [archive]
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == ["ok/cats/a.txt"]
    assert not (dest / "link").exists()


def test_extract_zip_checks_declared_caps_before_writing(tmp_path):
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(3):
            zf.writestr(f"c/{i}.txt", "x" * 1000)
    with pytest.raises(TLError, match="holds 3 entries; the limit is 2"):
        extract_zip(archive, tmp_path / "a", max_entries=2)
    with pytest.raises(TLError, match="would unpack to 2.9 KB; the limit is 1,000 bytes"):
        extract_zip(archive, tmp_path / "b", max_total_bytes=1000)
    assert files_outside(tmp_path, tmp_path / "nothing") == [archive]


def test_extract_zip_stops_when_written_bytes_pass_the_cap(tmp_path, monkeypatch):
    # Pretend the headers lied (declared sizes passed the check): the byte count must still stop it.
    monkeypatch.setattr(archive_mod, "_check_caps", lambda *a: None)
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("c/a.txt", "x" * 5000)
    with pytest.raises(TLError, match="unpacks to more than"):
        extract_zip(archive, tmp_path / "out", max_total_bytes=1000)
    assert files_outside(tmp_path, tmp_path / "nothing") == [archive]


def test_extract_zip_rejects_a_non_zip(tmp_path):
    fake = tmp_path / "photos.zip"
    fake.write_text("not a zip")
    with pytest.raises(TLError, match=line(NOT_A_ZIP, name="photos.zip")):
        extract_zip(fake, tmp_path / "out")


def test_load_source_unzips_once_into_workspace(tmp_path, monkeypatch):
    src = tmp_path / "src"
    image(src / "shapes" / "cats" / "a.png", 1)
    image(src / "shapes" / "dogs" / "b.png", 2)
    archive = tmp_path / "Shapes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in src.rglob("*.png"):
            zf.write(p, p.relative_to(src))
    ws = tmp_path / "ws"
    ds = load_source(archive, ws)
    key = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
    assert ds.name == "Shapes" and ds.classes == ["cats", "dogs"]
    assert Path(ds.items[0].path).is_relative_to(ws / key / "files")
    monkeypatch.setattr(dataset_mod, "extract_zip", lambda *a: pytest.fail("unzipped twice"))
    assert load_source(archive, ws).id == ds.id


def test_load_source_folder_manifest_and_missing(tmp_path):
    image(tmp_path / "d" / "cats" / "a.png", 1)
    image(tmp_path / "d" / "dogs" / "b.png", 2)
    ds = load_source(tmp_path / "d", tmp_path / "ws")
    (tmp_path / "m").mkdir()
    ds.save(tmp_path / "m")
    assert load_source(tmp_path / "m", tmp_path / "ws") == ds
    with pytest.raises(TLError, match="does not exist"):
        load_source(tmp_path / "nope", tmp_path / "ws")


# --- manifest -----------------------------------------------------------------------------

def test_json_round_trip_and_stable_id(tmp_path):
    ds = make_ds([item(1, "a", "train"), item(2, "b", "val")], [Skipped("/data/x.txt", "is not an image file")])
    path = ds.save(tmp_path / "manifest.json")
    assert json.loads(path.read_text())["items"][0]["path"] == "a/1.png"  # relative, so it can move
    assert Dataset.load(path) == ds
    assert not list(tmp_path.glob(".manifest-*"))  # the temporary file was renamed into place
    moved = make_ds([item(2, "b", "val"), item(1, "a", "train")], root="/elsewhere")
    assert moved.id == ds.id and len(ds.id) == 16
    assert make_ds([item(1, "a", "val"), item(2, "b", "val")]).id != ds.id


def test_load_damaged_manifest_is_a_tlerror(tmp_path):
    (tmp_path / "manifest.json").write_text('{"items": []}')
    with pytest.raises(TLError, match="is damaged"):
        Dataset.load(tmp_path)


def test_counts_subset_duplicates():
    ds = make_ds([item(1, "a", "train", sha="s"), item(2, "a", "val", sha="s"), item(3, "b", "train")])
    assert ds.counts() == {"a": 2, "b": 1} and ds.counts("val") == {"a": 1, "b": 0}
    assert [i.label for i in ds.subset("train")] == ["a", "b"]
    assert [[i.path for i in g] for g in ds.duplicates()] == [["/data/a/1.png", "/data/a/2.png"]]


# --- splits -------------------------------------------------------------------------------

def test_assign_splits_is_stratified_and_deterministic():
    ds = make_ds([item(n, "a") for n in range(10)] + [item(n, "b") for n in range(5)]
                 + [item(n, "c") for n in range(2)] + [item(0, "d")])
    split = assign_splits(ds, 0.2, seed=3)
    assert split.counts("val") == {"a": 2, "b": 1, "c": 1, "d": 0}
    assert split.counts("train") == {"a": 8, "b": 4, "c": 1, "d": 1}
    assert assign_splits(ds, 0.2, seed=3) == split and split.id != ds.id


def test_assign_splits_keeps_duplicates_together():
    for seed in range(10):
        items = [item(n, "a") for n in range(6)] + [item(n, "a", sha="same") for n in range(6, 9)]
        split = assign_splits(make_ds(items), 0.5, seed)
        assert len({i.split for i in split.items if i.sha256 == "same"}) == 1


def test_assign_splits_keeps_given_val_and_test():
    ds = make_ds([item(1, "a", "val"), item(2, "a"), item(3, "a", "test"), item(4, "a", "train")])
    assert [i.split for i in assign_splits(ds).items] == ["val", "train", "test", "train"]
    carved = assign_splits(make_ds([item(1, "a", "test"), item(2, "a"), item(3, "a")]))
    assert sorted(i.split for i in carved.items) == ["test", "train", "val"]


def test_assign_splits_rejects_bad_fraction():
    with pytest.raises(TLError, match="between 0 and 1"):
        assign_splits(make_ds([item(1, "a")]), 1.5)


# --- checks and audit ---------------------------------------------------------------------

def test_check_trainable_messages():
    skipped = [Skipped("/data/a.txt", NOT_AN_IMAGE)]
    note = f" 1 file was skipped: a.txt {NOT_AN_IMAGE}."
    with pytest.raises(TLError, match=line(NO_IMAGES, where="/data", note=note)):
        check_trainable(make_ds([], skipped))
    with pytest.raises(TLError, match=line(ONE_CLASS, name="cats", note="")):
        check_trainable(make_ds([item(1, "cats"), item(2, "cats")]))
    with pytest.raises(TLError, match=line(TOO_FEW, classes="'bolt' (1 image)", note="")):
        check_trainable(make_ds([item(1, "bolt"), item(1, "nut"), item(2, "nut")]))
    check_trainable(make_ds([item(1, "bolt"), item(2, "bolt"), item(1, "nut"), item(2, "nut")]))


def test_audit_reports_and_advises():
    items = ([item(n, "bolt", "train", side=32) for n in range(4)]
             + [item(n, "nut", "train" if n % 5 else "val") for n in range(40)]
             + [item(99, "nut", "val", sha="bolt-0")])
    ds = make_ds(items, [Skipped("/data/bolt/x.gif", DAMAGED)])
    report = audit(ds)
    json.dumps(report)  # JSON-safe
    assert report["counts"]["bolt"] == {"total": 4, "train": 4, "val": 0}
    assert report["counts"]["nut"] == {"total": 41, "train": 32, "val": 9}
    assert report["total"] == 45 and report["imbalance"] == 10.25
    assert report["skipped"] == [{"path": "bolt/x.gif", "reason": DAMAGED}]
    assert report["duplicates"] == [["bolt/0.png", "nut/99.png"]]
    assert report["sizes"]["width"] == {"min": 32, "median": 100, "max": 100}
    advice = " ".join(report["advice"])
    assert "Class 'bolt' has 4 images; 20 or more per class gives much better results." in advice
    assert "Class 'bolt' is rare (4 images against 41 for 'nut')" in advice
    assert "1 image is an exact copy of another image" in advice
    assert "1 picture appears under more than one class (for example 'bolt' and 'nut')" in advice
    assert "1 file was skipped: x.gif is damaged" in advice
    assert "4 images are smaller than 64 pixels" in advice
    assert report["copies_of_training"] == {"val": [{"path": "nut/99.png", "of": "bolt/0.png", "exact": True}]}
    assert report["advice"][0].startswith("1 validation image is a copy of a training image; the validation score "
                                          "would be too high.")
    assert "nut" not in report["advice"][1] and len(report["advice"]) == 7
