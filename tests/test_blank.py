"""Blank and near-blank images are flagged by the audit and left out in one click; pictures with
little contrast are not."""

import io

import numpy as np
import pytest
from app_fixtures import studio, texts
from PIL import Image, ImageDraw

from pages import ui
from tlcore.data import store
from tlcore.data.blank import BLANK_STD, blank_tip, spread
from tlcore.data.dataset import Dataset, audit

SIDE = 160


def _png(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, quality=90)
    return buf.getvalue()


def _noisy(level: int, noise: float, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    x = np.clip(level + rng.normal(0, noise, (SIDE, SIDE, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(x)


def _low_contrast(seed: int) -> Image.Image:
    """A grey picture with a shape 12 levels darker on about a quarter of it, and a little noise."""
    img = _noisy(120, 1.5, seed)
    ImageDraw.Draw(img).ellipse((30 + seed, 30, 110 + seed, 110), fill=(108, 108, 108))
    return img


BLANK = {  # name -> image that shows nothing
    "white": lambda: _png(Image.new("RGB", (SIDE, SIDE), "white")),
    "transparent": lambda: _png(Image.new("RGBA", (SIDE, SIDE), (30, 200, 60, 0))),
    "one-colour": lambda: _png(Image.new("RGB", (SIDE, 120), (200, 40, 40))),
    "noise": lambda: _png(_noisy(235, 6.0, 0)),  # an empty page scanned: speckle, no picture
    "jpeg": lambda: _png(Image.new("RGB", (SIDE, SIDE), (90, 90, 200)), "JPEG"),
}
PICTURES = {  # name -> image with something in it
    "low-contrast": lambda: _png(_low_contrast(0)),
    "thin line": lambda: _png(_line()),
    "colours of one brightness": lambda: _png(_halves((200, 60, 60), (60, 130, 60))),
}


def _line() -> Image.Image:
    img = Image.new("RGB", (SIDE, SIDE), "white")
    ImageDraw.Draw(img).line((20, 20, 140, 140), fill="black", width=2)
    return img


def _halves(left: tuple, right: tuple) -> Image.Image:
    img = Image.new("RGB", (SIDE, SIDE), left)
    ImageDraw.Draw(img).rectangle((SIDE // 2, 0, SIDE, SIDE), fill=right)
    return img


@pytest.mark.parametrize("name", BLANK)
def test_blank_images_are_blank(name):
    assert spread(BLANK[name]()) < BLANK_STD


@pytest.mark.parametrize("name", PICTURES)
def test_pictures_with_little_contrast_are_not(name):
    assert spread(PICTURES[name]()) > 2 * BLANK_STD


def _dataset(tmp_path) -> str:
    """A stored dataset of two classes of low-contrast pictures, with blank images among them."""
    classes = {"a": [(f"a{k}.png", _png(_low_contrast(k))) for k in range(6)],
               "b": [(f"b{k}.png", _png(_line().rotate(15 * k, fillcolor="white"))) for k in range(6)]}
    classes["a"] += [("empty.png", BLANK["transparent"]()), ("red.png", BLANK["one-colour"]())]
    classes["b"] += [("scan.png", BLANK["noise"]())]
    return store.dataset_folder(store.import_class_images("shapes", classes))


def test_the_audit_flags_blank_images_and_the_data_page_leaves_them_out_in_one_click(tmp_path):
    folder = _dataset(tmp_path)
    report = audit(Dataset.load(folder))
    assert sorted(p.rsplit("-", 1)[-1] for p in report["blank"]) == ["empty.png", "red.png", "scan.png"]
    tip = blank_tip(3)  # the audit's sentence, said where it is made
    assert tip in report["advice"]
    at = studio(**{ui.DATASET: folder})
    assert not at.exception
    assert tip in texts(at.warning)
    next(b for b in at.button if b.label == "Leave out the 3 blank images").click()
    at.run()
    assert not at.exception and "blank" not in texts(at.warning)
    assert {m.label: m.value for m in at.metric}["Usable images"] == "12"
    assert audit(Dataset.load(folder))["blank"] == []
