"""Hostile and unusual files (issue 24): a PNG whose text or colour profile unpacks past Pillow's
guard, zips of honestly uncompressed scans, and class folders that are links. Each case ends in one
plain reason for that file alone, or is accepted, and changes nothing saved before."""

import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from app_fixtures import TINY
from test_hostile_input import earlier, fingerprint, make_zip, one_line, png  # noqa: F401 (earlier: a fixture)
from tlcore.config import TrainConfig
from tlcore.data import archive, store
from tlcore.data.archive import BOMB, LINK
from tlcore.data.dataset import READ_ALREADY, Dataset, check_trainable, load_source
from tlcore.data.images import HIDDEN_DATA, ImageProblem, check_image, decode_many, load_square_uint8, open_rgb
from tlcore.errors import TLError
from tlcore.jobs.train import create_run, execute
from tlcore.workspace import datasets_dir, workspace_dir
from wording import line

HUGE = HIDDEN_DATA.format(mb=1)


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


# Each unpacks to 2 MB, past Pillow's 1 MB guard (PngImagePlugin.MAX_TEXT_CHUNK); compressed, a few KB.
METADATA = {
    "zTXt text": chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"x" * 2**21)),
    "iTXt text": chunk(b"iTXt", b"Comment\x00\x01\x00\x00\x00" + zlib.compress(b"x" * 2**21)),
    "iCCP colour profile": chunk(b"iCCP", b"profile\x00\x00" + zlib.compress(b"x" * 2**21)),
}


def with_metadata(kind: str, after_pixels: bool = False) -> bytes:
    """A small true PNG holding one oversized metadata chunk, before its pixels (where Pillow and
    most programs write it) or after them."""
    data = png(7, size=(16, 16))
    at = len(data) - 12 if after_pixels else 33  # before IEND, or right after IHDR
    return data[:at] + METADATA[kind] + data[at:]


@pytest.mark.parametrize("kind", list(METADATA))
def test_png_with_oversized_metadata_is_one_plain_reason(kind):
    for data in (with_metadata(kind), with_metadata(kind, after_pixels=True)):
        for read in (open_rgb, lambda d: load_square_uint8(d, 64)):
            with pytest.raises(ImageProblem) as err:
                read(data)
            assert err.value.reason.startswith(HUGE)
    with pytest.raises(ImageProblem, match=line(HIDDEN_DATA, mb=1)):
        check_image(with_metadata(kind))


def test_oversized_metadata_skips_that_file_alone_in_an_upload(earlier):
    _, before = earlier
    good = {f"{c}/{i}.png": png(i + 40 * k) for k, c in enumerate("ab") for i in range(2)}
    ds = store.import_zip(make_zip({**good, "a/profile.png": with_metadata("iCCP colour profile")}), "shop.zip")
    assert ds.classes == ["a", "b"] and len(ds.items) == 4
    [skipped] = ds.skipped
    assert Path(skipped.path).name == "profile.png" and skipped.reason.startswith(HUGE)
    kept = {k: v for k, v in fingerprint(workspace_dir()).items() if k in before}
    assert kept == before  # the earlier dataset is untouched


@pytest.fixture(scope="module")
def trained_beside(tmp_path_factory):
    """A tiny run trained on a folder holding one PNG with an oversized text chunk among good ones."""
    data = tmp_path_factory.mktemp("images")
    for k, c in enumerate(("dark", "light")):
        (data / c).mkdir()
        for i in range(4):
            Image.new("RGB", (24, 24), (20 + 200 * k + 5 * i, 30 + 180 * k, 40 + 9 * i)).save(data / c / f"{i}.png")
    (data / "dark" / "notes.png").write_bytes(with_metadata("zTXt text"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TLSTUDIO_HOME", str(tmp_path_factory.mktemp("workspace")))
        run = create_run(TrainConfig(data=str(data), **{**TINY, "evaluation": "cv", "recipe": "fastest"}),
                         tmp_path_factory.mktemp("run") / "run")
        state = execute(run.path)
    return data, run, state


def test_training_skips_the_file_and_names_it(trained_beside):
    data, run, state = trained_beside
    assert state == "finished"
    ds = Dataset.load(run.dataset_path)
    assert len(ds.items) == 8 and [(Path(s.path).name, s.reason[:len(HUGE)]) for s in ds.skipped] == \
        [("notes.png", HUGE)]
    images, failed = decode_many([data / "dark" / "0.png", data / "dark" / "notes.png"], 32)
    assert failed == [1] and len(images) == 1  # the decode that training does, had the file got that far


def test_predict_batch_answers_every_other_file(trained_beside, capsys):
    from tlcore import cli

    data, run, _ = trained_beside
    files = [str(data / "dark" / "0.png"), str(data / "dark" / "notes.png"), str(data / "light" / "1.png")]
    assert cli.main(["predict", "--run", str(run.path), *files]) == 4  # some files could not be read
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[1] == f"{files[1]}: {HUGE}"
    assert lines[0].startswith(f"{files[0]}: dark ") and lines[2].startswith(f"{files[2]}: light ")


# --- zips of uncompressed scans -----------------------------------------------------------------

def scanned_pages(pages: int = 20, size=(1000, 1400)) -> bytes:
    """A zip of greyscale BMP page scans with a few lines of text each: 28 MB that deflate to under 1%."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(pages):
            page = Image.new("L", size, 255)
            draw = ImageDraw.Draw(page)
            for line in range(8):
                draw.text((60, 80 + 40 * line), f"invoice {i} line {line} " * 4, fill=0)
            out = io.BytesIO()
            page.save(out, "BMP")
            zf.writestr(f"{'ab'[i % 2]}/page{i}.bmp", out.getvalue())
    return buf.getvalue()


def test_zip_of_scanned_bmp_pages_is_not_a_bomb():
    data = scanned_pages()
    assert sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist()) > archive.MAX_RATIO * len(data)
    ds = store.import_zip(data, "scans.zip")
    assert ds.classes == ["a", "b"] and len(ds.items) == 20 and not ds.skipped


def bmp_declaring(width: int, height: int, padding: int) -> bytes:
    """A BMP header (greyscale, with its palette) declaring ``width`` x ``height``, then ``padding`` zero bytes."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "BMP")
    header = bytearray(buf.getvalue()[:-4])  # the 1x1 image's one padded row off
    struct.pack_into("<ii", header, 18, width, height)
    return bytes(header) + bytes(padding)


@pytest.mark.parametrize("declared", [(100, 100), (60_000, 60_000)])  # far too small; over the pixel limit
def test_image_header_cannot_vouch_for_more_than_its_pixels(declared, earlier):
    _, before = earlier
    entry = bmp_declaring(*declared, padding=20 * 2**20)
    with pytest.raises(TLError, match=line(BOMB, name="pages.zip", unpacked="20.0 MB")) as err:
        store.import_zip(make_zip({"a/page.bmp": entry}, zipfile.ZIP_DEFLATED), "pages.zip")
    one_line(str(err.value))
    assert fingerprint(workspace_dir()) == before and len(list(datasets_dir().iterdir())) == 1


def test_unpacking_counts_bytes_past_what_the_header_vouches_for(tmp_path):
    """Headers can lie about sizes: the count made while writing stops an entry that outgrows its image."""
    entry = bmp_declaring(100, 100, padding=2**20)
    caught = []
    with zipfile.ZipFile(io.BytesIO(make_zip({"a/p.bmp": entry}))) as zf:
        honest = archive._image_bytes(zf, zf.getinfo("a/p.bmp"))
        assert 100 * 100 < honest < 2**20
        with pytest.raises(TLError, match="bomb"):
            archive._write_entries(zf, tmp_path, [honest], [],
                                   (2**19, lambda n: caught.append(n) or TLError("bomb")))
        archive._write_entries(zf, tmp_path / "ok", [honest], [], (2**20, lambda n: TLError("bomb")))
    assert caught and (tmp_path / "ok" / "a" / "p.bmp").stat().st_size == len(entry)


# --- class folders that are links ---------------------------------------------------------------

def test_linked_class_folders_are_followed_once(tmp_path):
    real = tmp_path / "photos"
    for k, c in enumerate(("cats", "dogs")):
        (real / c).mkdir(parents=True)
        for i in range(3):
            (real / c / f"{i}.png").write_bytes(png(i + 50 * k))
    given = tmp_path / "given"
    given.mkdir()
    for c in ("cats", "dogs"):
        (given / c).symlink_to(real / c, target_is_directory=True)
    (real / "dogs" / "again").symlink_to(given, target_is_directory=True)  # a loop back to the top
    ds = load_source(given, datasets_dir())
    check_trainable(ds)
    assert ds.classes == ["cats", "dogs"] and ds.counts() == {"cats": 3, "dogs": 3}
    assert [(Path(s.path).relative_to(given).as_posix(), s.reason) for s in ds.skipped] == [
        ("dogs/again", READ_ALREADY)]
    assert all(Path(i.path).is_relative_to(given) for i in ds.items)  # named as the user sees them


def test_links_inside_a_zip_are_still_refused():
    ds = store.import_zip(make_zip({"a/1.png": png(1), "a/2.png": png(2), "b/1.png": png(3), "b/2.png": png(4),
                                    "c@link": "a"}), "linked.zip")
    assert ds.counts() == {"a": 2, "b": 2}
    assert [(s.path, s.reason) for s in ds.skipped] == [("c", LINK)]
    assert not any(os.path.islink(p) for p in Path(store.dataset_folder(ds)).rglob("*"))
