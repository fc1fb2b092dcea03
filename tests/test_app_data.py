"""The studio's Data page: samples, zip and per-class uploads, the camera, the audit, earlier datasets."""

import io
import re

import pytest
from app_fixtures import ROOT, charts, png, studio, texts
from pools import zipped
from PIL import Image
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from pages import ui
from pages.data import SECTION, SECTIONS
from pages.data_classes import assign_slots


def uploader(at: AppTest, name: str):
    """The upload box of class ``name`` on the "Class by class" section."""
    return next(u for u in at.file_uploader if u.label.startswith(f"Images of '{name}'"))


def tab_shown(at: AppTest) -> str:
    """The label of the section the Data page tells the browser to show."""
    def walk(node):
        for child in getattr(node, "children", {}).values():
            if getattr(child, "type", None) == "tab_container":
                return child.proto.tab_container.default_tab_index
            found = walk(child)
            if found is not None:
                return found
        return None
    return SECTIONS[walk(at._tree)]


def picture(size: tuple[int, int], value: int) -> bytes:
    """A grey picture of brightness ``value`` with a block of the opposite brightness (not blank)."""
    buf = io.BytesIO()
    img = Image.new("RGB", size, (value, value, value))
    img.paste((255 - value,) * 3, (0, 0, size[0] // 2, size[1] // 2))
    img.save(buf, "PNG")
    return buf.getvalue()


def test_first_visit_opens_the_data_page_with_the_sidebar():
    at = studio()
    assert not at.exception
    assert at.title[0].value == "Your images"
    sidebar = texts(at.sidebar.markdown)
    assert "**Images:** none yet" in sidebar and "**Model:** EfficientNet-Lite1" in sidebar
    assert "**Run:** none yet" in sidebar


def test_a_page_address_opened_first_on_a_fresh_server_still_gets_the_whole_studio():
    # Straight from app.py, each AppTest run is like a fresh server's first run, which Streamlit
    # makes in its legacy pages/-folder mode: the page file itself runs first.
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/runs.py").run()
    assert not at.exception
    assert at.title[0].value == "All runs" and len(at.title) == 1
    assert "**Run:** none yet" in texts(at.sidebar.markdown)


def test_loading_the_digits_sample_shows_its_audit():
    at = studio()
    at.selectbox[0].set_value("digits")
    at.slider[0].set_value(10)
    next(b for b in at.button if b.label == "Load sample").click()
    at.run()
    assert not at.exception and not at.error
    assert "Loaded: 'digits sample (10 per class)' with 10 classes and 100 usable images." in texts(at.success)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Classes"] == "10" and metrics["Usable images"] == "100"
    bars = charts(at)["Images per class"]
    assert sorted(bars.data[0].x) == sorted(["zero", "one", "two", "three", "four", "five", "six",
                                                   "seven", "eight", "nine"])
    few = [w for w in texts(at.warning).splitlines() if "10 images" in w]
    assert few == ["Classes 'eight', 'five', 'four', 'nine', 'one', 'seven', 'six', 'three' and 2 more have "
                   "10 images each; 20 or more per class gives much better results."]
    assert len(at.get("image")) == 10  # one row of thumbnails per class
    assert "digits sample (10 per class) (10 classes, 100 images)" in texts(at.sidebar.markdown)


def test_a_zip_upload_is_imported_and_its_problems_listed():
    data = zipped({**{f"parts/bolt/{i}.png": png(10 * i) for i in range(3)},
                 **{f"parts/nut/{i}.png": png(200 + 10 * i) for i in range(3)},
                 "parts/nut/notes.txt": b"not a picture", "parts/nut/copy.png": png(200)})
    at = studio()
    at.file_uploader[0].set_value(("parts.zip", data, "application/zip"))
    at.run()
    next(b for b in at.button if b.label == "Import this zip").click()
    at.run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Classes": "2", "Usable images": "7", "Skipped files": "1", "Exact copies": "1"}
    skipped = next(d.value for d in at.dataframe if "Why" in d.value.columns)
    assert skipped["File"].tolist() == ["nut/notes.txt"] and skipped["Why"][0] == "is not an image file"
    assert any("exact copy" in w for w in texts(at.warning).splitlines())


def test_a_dataset_that_cannot_train_says_what_to_fix_in_one_message():
    at = studio()
    at.file_uploader[0].set_value(("one.zip", zipped({f"bolt/{i}.png": png(i) for i in range(3)}), "application/zip"))
    at.run()
    next(b for b in at.button if b.label == "Import this zip").click()
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and "Only one class ('bolt') was found; at least two are needed" in at.error[0].value
    assert not at.success and not at.warning  # no "Imported ... with 1 classes" next to it
    assert ui.DATASET not in at.session_state  # an unusable dataset does not become the current one
    assert "**Images:** none yet" in texts(at.sidebar.markdown)


def test_a_broken_zip_shows_a_plain_message():
    at = studio()
    at.file_uploader[0].set_value(("broken.zip", b"this is not a zip", "application/zip"))
    at.run()
    next(b for b in at.button if b.label == "Import this zip").click()
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and ui.GENERIC_ERROR not in at.error[0].value
    assert ui.DATASET not in at.session_state


def test_classes_built_from_uploads_and_camera_snapshots():
    at = studio()
    at.text_input(key="opt_class_names").set_value("light, dark").run()
    uploader(at, "light").set_value([(f"l{i}.png", png(220 + i), "image/png") for i in range(3)])
    uploader(at, "dark").set_value([(f"d{i}.png", png(20 + i), "image/png") for i in range(2)])
    at.toggle[0].set_value(True).run()
    at.selectbox[0].set_value("dark")
    at.camera_input[0].set_value(("shot.jpg", png(5, fmt="JPEG"), "image/jpeg"))
    at.run()
    next(b for b in at.button if b.label == "Add this snapshot to 'dark'").click()
    at.run()
    assert "Images of 'dark' (plus 1 snapshot)" in [u.label for u in at.file_uploader]
    next(b for b in at.button if b.label == "Save these images as a dataset").click()
    at.run()
    assert not at.exception and not at.error
    assert "Saved: 'my images' with 2 classes and 6 usable images." in texts(at.success)
    bars = charts(at)["Images per class"].data[0]
    assert dict(zip(bars.x, bars.y)) == {"dark": 3, "light": 3}


def test_an_earlier_dataset_can_be_reopened(digits):
    at = studio()
    table = at.dataframe[0].value
    assert table["Name"].tolist() == ["digits sample (10 per class)"] and table["Images"][0] == 100
    next(b for b in at.button if b.label == "Open this dataset").click()
    at.run()
    assert at.session_state[ui.DATASET] == digits
    assert {m.label: m.value for m in at.metric}["Classes"] == "10"


def test_the_open_section_survives_a_second_action_after_a_success_message():
    at = studio()
    assert [t.label for t in at.tabs] == list(SECTIONS) and tab_shown(at) == "Zip of class folders"
    at.session_state[SECTION] = "Sample dataset"  # what a click on that tab sends
    at.run()
    at.selectbox[0].set_value("digits")
    at.slider[0].set_value(10)
    next(b for b in at.button if b.label == "Load sample").click()
    at.run()
    assert at.success and tab_shown(at) == "Sample dataset"
    at.slider[0].set_value(20).run()  # the next action, once the message has gone
    assert not at.success and tab_shown(at) == "Sample dataset"
    at.session_state[SECTION] = "Earlier datasets"
    at.run()
    at.selectbox(key="earlier_dataset").set_value(at.selectbox(key="earlier_dataset").options[0]).run()
    assert tab_shown(at) == "Earlier datasets"
    assert "Open this dataset" in [b.label for b in at.button]


def test_renaming_a_class_keeps_its_images_and_shows_thumbnails():
    at = studio()
    at.session_state[SECTION] = "Class by class"
    at.text_input(key="opt_class_names").set_value("car, boat").run()
    uploader(at, "car").set_value([(f"c{i}.png", png(30 * i), "image/png") for i in range(3)])
    uploader(at, "boat").set_value([(f"b{i}.png", png(200 + i), "image/png") for i in range(2)])
    at.run()
    assert [len(i.proto.imgs) for i in at.get("image")] == [3, 2]  # thumbnails under each box
    at.text_input(key="opt_class_names").set_value("vehicle, boat").run()
    assert [u.label for u in at.file_uploader][1:3] == ["Images of 'vehicle'", "Images of 'boat'"]
    assert [len(i.proto.imgs) for i in at.get("image")] == [3, 2]
    assert tab_shown(at) == "Class by class"
    next(b for b in at.button if b.label == "Save these images as a dataset").click()
    at.run()
    assert not at.exception and not at.error
    bars = charts(at)["Images per class"].data[0]
    assert dict(zip(bars.x, bars.y)) == {"boat": 2, "vehicle": 3}


def test_slots_follow_renames_additions_and_removals():
    slots, after = assign_slots(["car", "boat"], [], 0)
    assert slots == [("car", 0), ("boat", 1)] and after == 2
    assert assign_slots(["vehicle", "boat"], slots, 2) == ([("vehicle", 0), ("boat", 1)], 2)  # a rename
    assert assign_slots(["car", "boat", "bike"], slots, 2) == ([("car", 0), ("boat", 1), ("bike", 2)], 3)
    assert assign_slots(["boat"], slots, 2) == ([("boat", 1)], 2)  # a removal frees nothing for later
    assert assign_slots(["boat", "car"], slots, 2) == ([("boat", 1), ("car", 0)], 2)


@pytest.fixture
def media(monkeypatch) -> list[bytes]:
    """Every image file the page hands to the browser, as bytes."""
    sent: list[bytes] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self, data, mimetype, kind, filename=None):
        if isinstance(data, bytes) and mimetype.startswith("image/"):
            sent.append(data)
        return original(self, data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return sent


def test_six_small_classes_get_one_warning_and_even_thumbnails(media):
    names = ["ant", "bee", "cat", "dog", "eel", "fox"]
    # half the images 400 wide, half 415: the median would be 407.5 pixels
    files = {f"{c}/{i}.png": picture((400, 300) if (15 * j + i) % 2 else (415, 200), 15 * j + i)
             for j, c in enumerate(names) for i in range(15)}
    at = studio()
    at.file_uploader[0].set_value(("animals.zip", zipped(files), "application/zip"))
    at.run()
    media.clear()
    next(b for b in at.button if b.label == "Import this zip").click()
    at.run()
    assert not at.exception and not at.error
    assert [w.value for w in at.warning] == [
        "Classes 'ant', 'bee', 'cat', 'dog', 'eel' and 'fox' have 15 images each; "
        "20 or more per class gives much better results."]
    sizes = next(c.value for c in at.caption if "typically" in c.value)
    typical = re.findall(r"typically ([\d.]+)", sizes)
    assert typical == ["400", "200"], sizes  # whole pixels, a size an image really has
    shown = {Image.open(io.BytesIO(data)).size for data in media}
    assert len(media) == 6 * 6 and shown == {(ui.THUMB_PX, ui.THUMB_PX)}  # one height for every thumbnail
