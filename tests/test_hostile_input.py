"""Hostile and careless input: each case ends in one plain sentence (or a listed skip) and
changes nothing that was saved before. Images are tiny and built here, so the file stays fast."""

import hashlib
import io
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest
import torch
from PIL import Image

from tlcore.cli import DAMAGED_MODEL, INSIDE_IMAGES
from tlcore.data import store
from tlcore.data.archive import BOMB, EMPTY_ZIP, LINK, LONG_NAME, NOT_A_ZIP, OUTSIDE, PASSWORD
from tlcore.data.dataset import DAMAGED_DATASET, NO_IMAGES, audit
from tlcore.data.store import LONG_CLASS_NAME, NOT_A_CLASS_NAME, SAME_FOLDER
from tlcore.errors import TLError
from tlcore.data.images import (DAMAGED, JPEG_TOO_LARGE, NOT_AN_IMAGE, THIN, TOO_LARGE, TOO_LARGE_TO_OPEN,
                                ImageProblem, check_image, load_square_uint8, open_rgb)
from tlcore.models.weights import NOT_WEIGHTS, load_state_dict_file
from tlcore.rundir import DAMAGED_FILE, RUN_FILE
from tlcore.workspace import datasets_dir, workspace_dir
from wording import line, pattern

ROOT = Path(__file__).resolve().parents[1]


def png(seed: int = 0, size=(8, 8), fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (seed % 256, 40, 90)).save(buf, fmt)
    return buf.getvalue()


def make_zip(entries: dict, compress=zipfile.ZIP_STORED, locked=False) -> bytes:
    """A zip of ``entries``; a name ending in "@link" becomes a symlink; ``locked`` marks every entry
    encrypted, as a password-protected zip declares them (Python's zipfile cannot encrypt)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name.removesuffix("@link"))
            info.compress_type = compress
            if name.endswith("@link"):
                info.external_attr = 0o120777 << 16
            zf.writestr(info, data)
    data = bytearray(buf.getvalue())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)) if locked else ():
        at = data.find(signature)
        while at >= 0:
            data[at + offset] |= 0x1
            at = data.find(signature, at + 4)
    return bytes(data)


def fingerprint(folder: Path) -> dict:
    """Every file under ``folder`` with its content hash: equal before and after means untouched."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def earlier():
    """A dataset imported before the hostile input, and a fingerprint of the workspace with it."""
    ds = store.import_zip(make_zip({f"{c}/{i}.png": png(i + 10 * k) for k, c in enumerate("ab")
                                    for i in range(2)}), "earlier.zip")
    return ds, fingerprint(workspace_dir())


def one_line(message: str) -> None:
    assert "\n" not in message and "Traceback" not in message and "Error:" not in message
    assert str(workspace_dir()) not in message and "upload.zip" not in message


# --- zips ---------------------------------------------------------------------------------

ZIP_REFUSALS = {
    "bomb": (lambda: make_zip({"a/zeros.png": bytes(20 * 2**20)}, zipfile.ZIP_DEFLATED),
             line(BOMB, name="clothes.zip", unpacked="20.0 MB")),
    "password": (lambda: make_zip({"a/1.png": png(), "b/2.png": png(1)}, locked=True),
                 line(PASSWORD, name="clothes.zip")),
    "empty": (lambda: make_zip({}), line(EMPTY_ZIP, name="clothes.zip")),
    "not a zip": (lambda: b"PK\x03\x04 but then nothing a zip should hold", line(NOT_A_ZIP, name="clothes.zip")),
    "photo renamed .zip": (lambda: png(), line(NOT_A_ZIP, name="clothes.zip")),
    "truncated zip": (lambda: make_zip({"a/1.png": png(), "b/1.png": png(2)})[:-30],
                      line(NOT_A_ZIP, name="clothes.zip")),
}


@pytest.mark.parametrize("case", list(ZIP_REFUSALS))
def test_zip_refused_in_one_sentence_leaving_nothing(case, earlier):
    build, pattern = ZIP_REFUSALS[case]
    _, before = earlier
    with pytest.raises(TLError, match=pattern) as err:
        store.import_zip(build(), "clothes.zip")
    one_line(str(err.value))
    assert fingerprint(workspace_dir()) == before
    assert len([p for p in datasets_dir().iterdir()]) == 1


def test_unsafe_and_odd_entries_are_skipped_and_listed(tmp_path):
    long = "x" * 300 + ".png"
    entries = {"a/1.png": png(1), "a/2.png": png(2), "b/1.png": png(3), "b/2.png": png(4),
               "../evil.png": png(5), "/abs.png": png(6), "a/../../up.png": png(7),
               f"a/{long}": png(8), "a/link.png@link": "/etc/passwd",
               "b/inner.zip": make_zip({"c/1.png": png(9)})}
    ds = store.import_zip(make_zip(entries), "parts.zip")
    assert ds.name == "parts" and ds.classes == ["a", "b"] and len(ds.items) == 4
    reasons = {Path(s.path).name: s.reason for s in ds.skipped}
    assert reasons["evil.png"] == reasons["abs.png"] == reasons["up.png"] == OUTSIDE
    assert reasons["link.png"] == LINK
    assert reasons[long] == LONG_NAME.format(limit=255)
    assert reasons["inner.zip"] == NOT_AN_IMAGE
    assert not list(datasets_dir().parent.rglob("evil.png")) and not list(datasets_dir().rglob("link.png"))
    assert audit(store.open_dataset(store.dataset_folder(ds)))["skipped"] == audit(ds)["skipped"]


# --- images -------------------------------------------------------------------------------

def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` but holds no pixels: costs nothing to build."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose frame header is rewritten to declare ``width`` x ``height``."""
    data = bytearray(png(size=(16, 16), fmt="JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


IMAGE_PROBLEMS = {
    "1,000,000 x 40 (40 MP, absurd shape)": (png_header(1_000_000, 40), THIN.format(w=1_000_000, h=40, ratio=20)),
    "8000 x 8000 PNG": (png_header(8000, 8000), TOO_LARGE.format(w=8000, h=8000, megapixels=40)),
    "60000 x 60000 PNG": (png_header(60_000, 60_000), TOO_LARGE_TO_OPEN.format(megapixels=40)),
    "2100 x 100": (png(size=(2100, 100)), THIN.format(w=2100, h=100, ratio=20)),
    "300 MP JPEG": (jpeg_declaring(20_000, 15_000), JPEG_TOO_LARGE.format(w=20_000, h=15_000, megapixels=200)),
    "zero bytes": (b"", NOT_AN_IMAGE),
    "truncated": (png(size=(64, 64), fmt="JPEG")[:200], DAMAGED),
    "text": (b"hello, not a picture", NOT_AN_IMAGE),
}


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow warns; we refuse
@pytest.mark.parametrize("case", list(IMAGE_PROBLEMS))
def test_image_problem_is_one_plain_reason(case):
    data, reason = IMAGE_PROBLEMS[case]
    for read in (check_image, open_rgb, lambda d: load_square_uint8(d, 224)):
        with pytest.raises(ImageProblem) as err:
            read(data)
        assert err.value.reason == reason


def test_phone_photo_is_accepted_and_decoded_reduced():
    data = png(size=(8064, 6048), fmt="JPEG")  # 48 MP, over the 40 MP full-decode limit
    assert check_image(data) == (8064, 6048)
    assert open_rgb(data).size == (4032, 3024)  # half scale: the largest that fits 40 MP
    assert load_square_uint8(data, 224).shape == (3, 224, 224)


def test_twenty_to_one_is_still_accepted():
    assert check_image(png(size=(2000, 100))) == (2000, 100)
    assert load_square_uint8(png(size=(2000, 100)), 64).shape == (3, 64, 64)


def test_heic_photo_is_read():
    data = png(seed=200, size=(64, 48), fmt="HEIF")
    assert check_image(data) == (64, 48)
    r, g, b = open_rgb(data).getpixel((10, 10))
    assert abs(r - 200) < 8 and abs(g - 40) < 8 and abs(b - 90) < 8


# --- class names --------------------------------------------------------------------------

CLASS_NAMES = {
    "slash merges with space": (["a/b", "a b"], line(SAME_FOLDER, first="a/b", second="a b", folder="a b")),
    "case only": (["Cat", "cat"], line(SAME_FOLDER, first="Cat", second="cat", folder="cat")),
    "dots and spaces": ([". .", "b"], line(NOT_A_CLASS_NAME, name=". .")),
    "dot dot": (["..", "b"], line(NOT_A_CLASS_NAME, name="..")),
    "300 characters": (["y" * 300, "b"], line(LONG_CLASS_NAME, start="y" * 30, length=300, limit=100)),
}


@pytest.mark.parametrize("case", list(CLASS_NAMES))
def test_bad_class_names_are_refused_before_saving(case, earlier):
    names, pattern = CLASS_NAMES[case]
    with pytest.raises(TLError, match=pattern) as err:
        store.import_class_images("mine", {n: [("1.png", png(i)), ("2.png", png(i + 5))]
                                           for i, n in enumerate(names)})
    one_line(str(err.value))
    assert fingerprint(workspace_dir()) == earlier[1]


def test_odd_but_valid_class_names_are_kept_apart():
    ds = store.import_class_images("mine", {"ä ö": [("1.png", png(1))], "a:b": [("1.png", png(2))],
                                            " spaced ": [("1.png", png(3))]})
    assert ds.classes == ["a b", "spaced", "ä ö"]


# --- weights files ------------------------------------------------------------------------

class Payload:
    """Unpickling this would run code: it creates the file named at pickling time."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("suffix", [".pth", ".pt", ".bin"])
def test_malicious_pickle_is_refused_without_running_it(tmp_path, suffix):
    marker = tmp_path / "i-ran"
    torch.save({"weight": Payload(marker)}, tmp_path / f"evil{suffix}")
    with pytest.raises(TLError) as err:
        load_state_dict_file(tmp_path / f"evil{suffix}")
    assert str(err.value) == NOT_WEIGHTS.format(name=f"evil{suffix}")
    assert not marker.exists()


@pytest.mark.parametrize("name,content", [
    ("model.safetensors", b"\xff" * 64), ("whole.pth", None), ("empty.pt", b"")])
def test_unreadable_weights_get_the_same_sentence(tmp_path, name, content):
    path = tmp_path / name
    if content is None:
        torch.save(torch.nn.Linear(2, 2), path)  # a whole model, not its weights
    else:
        path.write_bytes(content)
    with pytest.raises(TLError) as err:
        load_state_dict_file(path)
    assert str(err.value) == NOT_WEIGHTS.format(name=name)


# --- the command line ---------------------------------------------------------------------

def cli_cases(tmp: Path) -> dict:
    """Each ordinary mistake: (arguments, the start of the one error line)."""
    data = tmp / "data"
    for c in "ab":
        (data / c).mkdir(parents=True)
        for i in range(2):
            (data / c / f"{i}.png").write_bytes(png(i))
    (tmp / "exists").mkdir()
    (tmp / "damaged" / "bundle").mkdir(parents=True)
    (tmp / "damaged" / "bundle" / "model.json").write_text('{"model": "efficientnet_lite0", "image_size": 64, '
                                                         '"classes": ["a", "b"]}')
    (tmp / "damaged" / "bundle" / "model.safetensors").write_bytes(b"not weights")
    (tmp / "comma").mkdir()
    (tmp / "comma" / "config.json").write_text('{"config": {"data": "x"},}')
    (tmp / "clothes.zip").write_bytes(make_zip({"a/1.png": png(), "b/1.png": png(1)}, locked=True))
    return {
        "csv into a missing folder": (["predict", "--run", str(tmp / "damaged"), str(data / "a" / "0.png"),
                                       "--csv", str(tmp / "nope" / "p.csv")], "The folder for"),
        "export onto a folder": (["export", "--run", str(tmp / "damaged"), "--format", "onnx", "--out",
                                  str(tmp / "exists")], f"{tmp / 'exists'} is a folder"),
        "damaged bundle": (["predict", "--run", str(tmp / "damaged"), str(data / "a" / "0.png")],
                           DAMAGED_MODEL.format(run=tmp / "damaged")),
        "config with a trailing comma": (["rerun", "--run", str(tmp / "comma"), "--out", str(tmp / "r")],
                                         DAMAGED_FILE.format(where=RUN_FILE.format(file="config.json", run="comma"))),
        "password zip as data": (["train", "--data", str(tmp / "clothes.zip"), "--out", str(tmp / "run")],
                                 PASSWORD.format(name="clothes.zip")),
        "run folder inside the images": (["train", "--data", str(data), "--out", str(data / "run")],
                                         INSIDE_IMAGES.format(out=data / "run", data=data)),
    }


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    """Run every case at once (each process pays the imports), then let each test read its result."""
    tmp = tmp_path_factory.mktemp("cli")
    env = {**os.environ, "TLSTUDIO_HOME": str(tmp / "ws"), "TLSTUDIO_STANDBY": "0", "TLSTUDIO_DEBUG": ""}
    cases = cli_cases(tmp)
    procs = {k: subprocess.Popen([sys.executable, "-m", "tlcore", *args], cwd=ROOT, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k, (args, _) in cases.items()}
    results = {k: (p.wait(timeout=120), *p.communicate()) for k, p in procs.items()}
    return tmp, cases, results


@pytest.mark.parametrize("case", ["csv into a missing folder", "export onto a folder", "damaged bundle",
                                  "config with a trailing comma", "password zip as data",
                                  "run folder inside the images"])
def test_cli_mistake_is_one_error_line(case, cli_results):
    tmp, cases, results = cli_results
    code, _, stderr = results[case]
    assert code == 2, stderr
    assert len(stderr.splitlines()) == 1 and stderr.startswith("error: " + cases[case][1]), stderr
    for leak in ("Traceback", "Error:", "Exception", str(tmp / "ws")):
        assert leak not in stderr
    assert not (tmp / "data" / "run").exists()


# --- what the page shows about a stored dataset ---------------------------------------------

def test_stored_dataset_messages_name_the_dataset_not_the_workspace():
    from tlcore.data.dataset import check_trainable

    ds = store.import_zip(make_zip({"a/notes.txt": b"hello", "b/readme.md": b"hi"}), "junk.zip")
    with pytest.raises(TLError, match="^" + pattern(NO_IMAGES, where="'junk'")) as err:
        check_trainable(ds)
    one_line(str(err.value))
    folder = Path(store.dataset_folder(ds))
    (folder / "manifest.json").write_text('{"items": [')
    with pytest.raises(TLError, match=line(DAMAGED_DATASET, where=f"'{folder.name}'")) as err:
        store.open_dataset(folder)
    one_line(str(err.value))


@pytest.mark.parametrize("argv,start", [
    (["train", "--data", "photos"], "error: the following arguments are required: --out"),
    (["predict", "--run", "r", "a.jpg", "--top", "three"], "error: argument --top: invalid int value: 'three'"),
    (["trian"], "error: argument command: invalid choice: 'trian'"),
])
def test_mistyped_command_line_is_one_error_line(argv, start, capsys):
    from tlcore import cli

    with pytest.raises(SystemExit) as code:
        cli.main(argv)
    stderr = capsys.readouterr().err
    assert code.value.code == 2 and stderr.startswith(start) and stderr.count("\n") == 1 and "--help" in stderr
