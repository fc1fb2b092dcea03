"""The studio's Data page: samples, zip and per-class uploads, the camera, the audit, earlier datasets."""

import io
import zipfile

from app_fixtures import ROOT, charts, png, studio, texts
from streamlit.testing.v1 import AppTest

from pages import ui


def test_first_visit_opens_the_data_page_with_the_sidebar():
    at = studio()
    assert not at.exception
    assert at.title[0].value == "Your images"
    sidebar = texts(at.sidebar.markdown)
    assert "**Images:** none yet" in sidebar and "**Model:** EfficientNet-Lite0" in sidebar
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
    assert "Class 'zero' has 10 images; 20 or more per class gives much better results." in texts(at.warning)
    assert len(at.get("image")) == 10  # one row of thumbnails per class
    assert "digits sample (10 per class) (10 classes, 100 images)" in texts(at.sidebar.markdown)


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_a_zip_upload_is_imported_and_its_problems_listed():
    data = _zip({**{f"parts/bolt/{i}.png": png(10 * i) for i in range(3)},
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


def test_a_dataset_that_cannot_train_says_what_to_fix():
    at = studio()
    at.file_uploader[0].set_value(("one.zip", _zip({f"bolt/{i}.png": png(i) for i in range(3)}), "application/zip"))
    at.run()
    next(b for b in at.button if b.label == "Import this zip").click()
    at.run()
    assert "Only one class ('bolt') was found; at least two are needed" in texts(at.error)


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
    at.file_uploader(key="upload_light").set_value([(f"l{i}.png", png(220 + i), "image/png") for i in range(3)])
    at.file_uploader(key="upload_dark").set_value([(f"d{i}.png", png(20 + i), "image/png") for i in range(2)])
    at.toggle[0].set_value(True).run()
    at.selectbox[0].set_value("dark")
    at.camera_input[0].set_value(("shot.jpg", png(5, fmt="JPEG"), "image/jpeg"))
    at.run()
    next(b for b in at.button if b.label == "Add this snapshot to 'dark'").click()
    at.run()
    assert "Images of 'dark' (plus 1 snapshots)" in [u.label for u in at.file_uploader]
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
