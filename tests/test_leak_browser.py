"""In a real browser: a 4-class zip whose test folder holds a copy of a training image shows the
leakage line on the Data page, and one click takes the copy out of the test images."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
from browser import CHROMIUM, chromium_page, settle, studio_url  # noqa: F401
from datasets import FASHION_CLASSES, fashion_mnist, pick_per_class, write_class_folders
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)")]
CLASSES = [0, 1, 5, 8]  # t-shirt, trouser, sandal, bag
LINE = "1 test image is a copy of a training image; the test score would be too high."


@pytest.fixture
def leaky_zip(tmp_path) -> Path:
    """train/ with 5 images a class, test/ with 3 others a class plus a copy of one training image."""
    x, y = fashion_mnist("train")
    picks = pick_per_class(y, 8, CLASSES)
    root = tmp_path / "leaky"
    train = write_class_folders(root / "train", x, y, FASHION_CLASSES, picks.reshape(4, 8)[:, :5].ravel())
    write_class_folders(root / "test", x, y, FASHION_CLASSES, picks.reshape(4, 8)[:, 5:].ravel())
    original = sorted((train / "bag").glob("*.png"))[0]
    shutil.copyfile(original, root / "test" / "bag" / "copy.png")
    path = tmp_path / "leaky.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for image in sorted(root.rglob("*.png")):
            zf.write(image, image.relative_to(tmp_path).as_posix())
    return path


def test_the_data_page_shows_a_test_copy_of_a_training_image(studio_url, leaky_zip):  # noqa: F811
    with chromium_page() as page:
        page.goto(studio_url)
        expect(page.get_by_role("heading", name="Your images")).to_be_visible()
        uploader = page.get_by_test_id("stFileUploader").filter(has_text="Zip file")
        uploader.locator("input[type=file]").set_input_files(leaky_zip)
        settle(page)
        page.get_by_role("button", name="Import this zip").click()
        expect(page.get_by_text("Imported: 'leaky' with 4 classes and 33 usable images.")).to_be_visible()
        expect(page.get_by_text(LINE)).to_be_visible()
        page.get_by_role("button", name="Remove the copy from the test images").click()
        settle(page)
        expect(page.get_by_text(LINE)).to_have_count(0)
        expect(page.get_by_test_id("stMetric").filter(has_text="Usable images")).to_contain_text("32")
