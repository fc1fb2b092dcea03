"""The live camera's engine: burst recording, the frame classifier, the rate meter."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from tlcore.models.bundle import save_bundle
from tlcore.data.images import load_square_uint8
from tlcore.use.live import BurstRecorder, FrameClassifier, LiveFeed, RateMeter, frame_jpeg, frame_square
from tlcore.models.net import build_net
from tlcore.use.predict import Predictor


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _frame(seed: int, h: int = 48, w: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_a_burst_keeps_the_pace_asked_for_and_stops_at_the_count():
    clock = Clock()
    recorder = BurstRecorder(clock)
    assert not recorder.offer(_frame(0))  # not recording yet
    recorder.start(every_ms=100, limit=3)
    kept = []
    for step in range(10):  # a frame every 40 ms: pictures due at 0, 100 and 200 ms
        kept.append(recorder.offer(_frame(step)))
        clock.now += 0.04
    # kept at 0, 120 (the first frame after 100) and 200 ms: a late frame does not delay the next turn
    assert kept == [True, False, False, True, False, True, False, False, False, False]
    assert not recorder.recording
    assert recorder.pace().kept == 3 and recorder.pace().seconds == pytest.approx(0.2)  # 3 pictures in 200 ms
    assert recorder.pace().camera_fps == pytest.approx(25) and not recorder.pace().slower
    frames = recorder.take()
    assert len(frames) == 3 and recorder.take() == []
    assert all(Image.open(io.BytesIO(f)).size == (64, 48) for f in frames)


def test_a_camera_slower_than_the_pace_asked_for_is_measured():
    clock = Clock()
    recorder = BurstRecorder(clock)
    recorder.start(every_ms=250, limit=4)
    for step in range(8):  # the camera sends 2 frames a second: every one is kept, 500 ms apart
        recorder.offer(_frame(step))
        clock.now += 0.5
    pace = recorder.pace()
    assert (pace.kept, pace.seconds) == (4, pytest.approx(1.5)) and pace.camera_fps == pytest.approx(2)
    assert pace.slower  # 500 ms apart, not 250
    clock.now += 10  # after a long gap, the next burst starts afresh
    recorder.start(every_ms=250, limit=2)
    assert recorder.offer(_frame(9)) and not recorder.offer(_frame(10))
    clock.now += 0.25
    assert recorder.offer(_frame(11)) and recorder.pace().seconds == pytest.approx(0.25)


def test_a_burst_without_a_count_records_until_stopped():
    clock = Clock()
    recorder = BurstRecorder(clock)
    recorder.start(every_ms=10, limit=0)
    for step in range(50):
        recorder.offer(_frame(step))
        clock.now += 0.02
    assert recorder.recording and len(recorder.take()) == 50
    recorder.stop()
    assert not recorder.offer(_frame(99)) and recorder.take() == []


def test_the_rate_meter_counts_the_last_seconds_only():
    clock = Clock()
    meter = RateMeter(window_s=2.0, clock=clock)
    assert meter.rate() == (0.0, 0.0)
    for _ in range(11):  # 10 a second, 20 ms each
        meter.add(0.02)
        clock.now += 0.1
    per_second, ms = meter.rate()
    assert per_second == pytest.approx(10, rel=0.01) and ms == pytest.approx(20)
    clock.now += 5
    assert meter.rate() == (0.0, 0.0)


def test_a_frame_is_prepared_as_its_saved_picture_would_be():
    frame = _frame(1, 120, 200)
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, "PNG")
    assert torch.equal(frame_square(frame, 64), load_square_uint8(buf.getvalue(), 64))
    assert Image.open(io.BytesIO(frame_jpeg(frame))).format == "JPEG"


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> Predictor:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("live") / "bundle"
    net = build_net("efficientnet_lite0", 3, weights="none", image_size=64)
    return Predictor(save_bundle(folder, net, ["a", "b", "c"], "efficientnet_lite0", 64,
                                 extra={"temperature": 1.7}))


def test_the_frame_classifier_gives_the_predictors_calibrated_probabilities(predictor, tmp_path):
    classifier = FrameClassifier(predictor)
    assert classifier.engine == "onnxruntime" and classifier.classes == ["a", "b", "c"]
    for seed in range(3):
        frame = _frame(seed, 120, 160)
        path = tmp_path / f"{seed}.png"
        Image.fromarray(frame).save(path)
        expected = predictor.predict_files([path])[0]["probabilities"]
        got = classifier(frame)
        assert sum(got) == pytest.approx(1, abs=1e-5)
        assert got == pytest.approx([expected[c] for c in "abc"], abs=1e-4)


def test_the_live_feed_answers_only_with_a_model_and_skips_frames_while_busy(predictor):
    feed = LiveFeed()
    assert feed.offer(_frame(0)) is None and feed.latest() is None
    feed.classifier = FrameClassifier(predictor)
    answer = feed.offer(_frame(0))
    assert answer is feed.latest() and set(answer.probabilities) == {"a", "b", "c"}
    assert answer.best[1] == max(answer.probabilities.values())
    with feed._busy:  # a frame still being classified: the next one is left out
        assert feed.offer(_frame(1)) is None
    assert feed.latest() is answer and feed.meter.rate()[1] > 0
    feed.forget()
    assert feed.latest() is None
