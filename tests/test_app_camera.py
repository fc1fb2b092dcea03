"""The live camera sections in AppTest, with streamlit-webrtc replaced by a fake that hands the
test the frame callback (the real component needs a browser; tests/test_camera_browser.py has one)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest
from app_fixtures import studio, texts
from pools import dataset
from test_app_data import uploader

import pages.camera


class FakeCamera:
    """Stands in for webrtc_streamer: playing, and ``show(frame)`` calls the page's callback."""

    def __init__(self) -> None:
        self.callbacks: dict[str, object] = {}

    def __call__(self, key: str, video_frame_callback, **kwargs):
        assert kwargs["rtc_configuration"] == {"iceServers": []}  # never a STUN/TURN server
        self.callbacks[key] = video_frame_callback
        return SimpleNamespace(state=SimpleNamespace(playing=True))

    def show(self, key: str, frame: np.ndarray) -> None:
        self.callbacks[key](SimpleNamespace(to_ndarray=lambda format: frame))


@pytest.fixture
def camera(monkeypatch) -> FakeCamera:
    fake = FakeCamera()
    monkeypatch.setattr(pages.camera, "webrtc_streamer", fake)
    return fake


def _grey(value: int) -> np.ndarray:
    frame = np.full((60, 80, 3), value, np.uint8)
    frame[::7, ::5] = 255 - value  # not two frames alike: the audit would call copies duplicates
    frame[value % 60, :] = 0
    return frame


def test_a_burst_is_recorded_into_a_class_a_bad_frame_removed_and_saved(camera):
    at = studio()
    at.text_input(key="opt_class_names").set_value("light, dark").run()
    uploader(at, "light").set_value([(f"l{i}.png", _png(200 + i), "image/png") for i in range(3)])
    at.toggle(key="burst_on").set_value(True).run()
    at.selectbox(key="burst_class").set_value("dark")
    at.number_input(key="burst_every").set_value(100)
    at.number_input(key="burst_limit").set_value(4).run()
    assert "4 pictures, one every 100 ms: about 0.4 s, when the camera sends pictures" in texts(at.caption)
    next(b for b in at.button if b.label == "Record into 'dark'").click().run()
    for value in range(10, 60, 5):  # 10 frames, 0.11 s apart: the first 4 are kept, then it stops
        camera.show("burst_camera", _grey(value))
        time.sleep(0.11)
    at.run()
    assert "**Camera pictures of 'dark'** (4); remove the blurred or wrong ones." in texts(at.markdown)
    assert [b.label for b in at.button].count("Remove") == 4
    assert any(c.value.startswith("Last burst: 4 pictures in 0.") for c in at.caption)  # 3 steps of 0.11 s
    next(b for b in at.button if b.label == "Remove").click().run()
    assert "Images of 'dark' (plus 3 snapshots)" in [u.label for u in at.file_uploader]
    next(b for b in at.button if b.label == "Save these images as a dataset").click().run()
    assert not at.exception and not at.error
    assert "Saved: 'my images' with 2 classes and 6 usable images." in texts(at.success)


def test_a_burst_joins_the_unlabelled_pool_once_looked_over(camera):
    from pages import ui
    from tlcore.studio import pool_images

    data = dataset()
    at = studio("data", **{ui.DATASET: data})
    at.toggle(key="pool_burst_on").set_value(True).run()
    assert not [s for s in at.selectbox if s.key == "pool_burst_class"]  # one place to record into
    at.number_input(key="pool_burst_every").set_value(100)
    at.number_input(key="pool_burst_limit").set_value(4).run()
    next(b for b in at.button if b.label == "Record into 'unlabelled'").click().run()
    for value in range(10, 60, 5):  # the first 4 are kept
        camera.show("pool_burst_camera", _grey(value))
        time.sleep(0.11)
    at.run()
    assert "**Camera pictures of 'unlabelled'** (4); remove the blurred or wrong ones." in texts(at.markdown)
    at.button(key="pool_burst_remove_pool_0").click().run()
    assert pool_images(data) == []  # nothing joins the pool before the user says so
    at.button(key="pool_add_camera").click().run()
    assert not at.exception and not at.error
    assert "Added 3 images to the unlabelled pool (now 3)." in texts(at.success)
    assert [p["name"] for p in pool_images(data)] == ["burst-2.jpg", "burst-3.jpg", "burst-4.jpg"]
    assert not [b for b in at.button if b.key == "pool_add_camera"]  # the pictures are in the pool now


def test_the_use_page_classifies_the_live_camera_and_freezes_a_frame(camera, workspace_run):
    from pages import ui
    from tlcore.record import NotSureRule
    from tlcore.rundir import RunDir

    at = studio("use", **{ui.RUN: workspace_run})
    at.toggle(key="live_on").set_value(True).run()
    camera.show("live_camera", _grey(120))
    at.run()
    headings = [m for m in texts(at.markdown).splitlines() if m.startswith("### ")]
    assert headings and headings[0].endswith("sure)"), headings
    assert len(at.get("progress")) == 4  # one bar per class
    assert "answers a second" in texts(at.caption)
    next(b for b in at.button if b.label == "Freeze this frame and show where the model looked").click().run()
    assert not at.exception and not at.error
    assert any(m.startswith("**Frozen frame**: ") for m in texts(at.markdown).splitlines())
    assert at.get("plotly_chart")
    assert "Not sure — maybe" not in texts(at.markdown)  # off by default
    RunDir(workspace_run).set_not_sure_rule(NotSureRule(1.0, 0.99))  # the rule kept in the run: all under it
    at.run()
    shown = texts(at.markdown).splitlines()
    assert any(m.startswith("### Not sure — maybe ") for m in shown), shown
    assert any(m.startswith("**Frozen frame**: Not sure — maybe ") for m in shown), shown
    assert 'Answers under 100% sure are marked "not sure"' in texts(at.caption)


def _png(value: int) -> bytes:
    from app_fixtures import png

    return png(value, size=48)
