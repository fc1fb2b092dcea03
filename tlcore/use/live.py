"""Live camera frames: a burst recorder, a fast classifier of single frames, and a rate meter.

Frames arrive on the camera's own thread while the page reads the results on another, so every
class here that holds state guards it with a lock. Frames are uint8 RGB arrays [H, W, 3].
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from tlcore.data import portable
from tlcore.use.predict import Predictor

JPEG_QUALITY = 92
RATE_WINDOW_S = 3.0  # the rate shown covers the last few seconds, so it follows a change quickly
_log = logging.getLogger(__name__)


def frame_jpeg(frame: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """One camera frame as JPEG file bytes (what a dataset keeps, one file per frame)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame[..., :3]), "RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def frame_square(frame: np.ndarray, size: int) -> torch.Tensor:
    """A frame through the project's preprocessing contract (shorter side to ``size``, centre
    crop): uint8 [3, size, size], exactly as a saved image of it would be read."""
    square = portable.square(Image.fromarray(np.ascontiguousarray(frame[..., :3]), "RGB"), size)
    return torch.from_numpy(np.array(square)).permute(2, 0, 1).contiguous()


class RateMeter:
    """How many things a second were done, and how long each took, over the last few seconds."""

    def __init__(self, window_s: float = RATE_WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s, self._clock = window_s, clock
        self._done: deque[tuple[float, float]] = deque()  # (when it finished, seconds it took)
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._done.append((self._clock(), seconds))
            self._forget()

    def _forget(self) -> None:
        horizon = self._clock() - self.window_s
        while self._done and self._done[0][0] < horizon:
            self._done.popleft()

    def rate(self) -> tuple[float, float]:
        """(per second, milliseconds each), both 0 when nothing was done lately."""
        with self._lock:
            self._forget()
            if not self._done:
                return 0.0, 0.0
            ms = 1000 * sum(s for _, s in self._done) / len(self._done)
            span = self._done[-1][0] - self._done[0][0]
            return ((len(self._done) - 1) / span if span > 0 else 0.0), ms


@dataclass(frozen=True)
class BurstPace:
    """How a burst went: pictures kept, seconds from the first to the last, the frames a second the
    camera delivered meanwhile (what limits the pace when it is below the one asked for), and the
    seconds asked for between pictures."""

    kept: int
    seconds: float
    camera_fps: float
    every_s: float

    @property
    def slower(self) -> bool:
        """Whether the pictures came a fifth or more further apart than asked."""
        return self.kept > 1 and self.seconds / (self.kept - 1) > 1.2 * self.every_s


class BurstRecorder:
    """Keeps a camera frame every ``every_ms`` while recording, as JPEG bytes, and stops by itself
    after ``limit`` frames (0: only when told to). Frames are due on a fixed schedule from the
    first, so the burst keeps the pace asked for whenever the camera sends frames faster than
    that; when it sends them slower, every frame is kept and ``pace`` says why it took longer."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._recording = False
        self._every_s, self._limit, self._kept, self._due = 0.25, 0, 0, 0.0
        self._started, self._last, self._frames, self._counted = 0.0, 0.0, 0, 0
        self._new: list[bytes] = []

    def start(self, every_ms: int, limit: int = 0) -> None:
        with self._lock:
            self._every_s, self._limit = max(every_ms, 1) / 1000, max(limit, 0)
            self._recording, self._kept, self._frames, self._due = True, 0, 0, -1e9

    def stop(self) -> None:
        with self._lock:
            self._recording = False

    @property
    def recording(self) -> bool:
        with self._lock:
            return self._recording

    def offer(self, frame: np.ndarray) -> bool:
        """Keep ``frame`` if recording and its turn has come; whether it was kept."""
        now = self._clock()
        with self._lock:
            if not self._recording:
                return False
            self._frames += 1
            if now < self._due - 1e-6:  # a millionth of a second early is on time
                return False
            if not self._kept:
                self._started = now
            # The next turn is one interval after this one's, not after this frame's arrival, so a
            # frame that came late does not delay all the ones after it; after a long gap, from now.
            self._due = self._due + self._every_s if now < self._due + self._every_s else now + self._every_s
            self._last, self._counted = now, self._frames
        data = frame_jpeg(frame)  # outside the lock: the page may read meanwhile
        with self._lock:
            if not self._recording:
                return False
            self._new.append(data)
            self._kept += 1
            if self._limit and self._kept >= self._limit:
                self._recording = False
        return True

    def pace(self) -> BurstPace:
        """The pace of the current (or last) burst."""
        with self._lock:
            seconds = self._last - self._started if self._kept else 0.0
            return BurstPace(self._kept, seconds, (self._counted - 1) / seconds if seconds > 0 else 0.0, self._every_s)

    def take(self) -> list[bytes]:
        """The frames kept since the last call, oldest first."""
        with self._lock:
            new, self._new = self._new, []
            return new


class FrameClassifier:
    """Calibrated class probabilities of single camera frames, by ONNX Runtime on the CPU when it
    reproduces the model (several times faster than PyTorch for one image), else by PyTorch."""

    def __init__(self, predictor: Predictor) -> None:
        from tlcore.training.embed import OnnxRunner

        self.predictor = predictor
        self.classes = predictor.classes
        self._runner = None
        example = predictor._prep(torch.randint(0, 256, (2, 3, predictor.image_size, predictor.image_size),
                                                dtype=torch.uint8, generator=torch.Generator().manual_seed(0)))
        try:
            self._runner = OnnxRunner(predictor.net, example)
        except Exception as e:  # any exporter or runtime gap: PyTorch gives the same answer, slower
            _log.warning("ONNX Runtime not used for live frames (%s); using PyTorch", e)

    @property
    def engine(self) -> str:
        return "onnxruntime" if self._runner else "pytorch"

    @torch.no_grad()
    def __call__(self, frame: np.ndarray) -> list[float]:
        """The probability of each class (in ``classes`` order) for one frame."""
        p = self.predictor
        if self._runner is None:
            return p.probabilities(frame_square(frame, p.image_size)[None])[0].tolist()
        # numpy around ONNX Runtime, no torch: torch's own threads would wait on the same 2 cores
        square = np.asarray(portable.square(Image.fromarray(np.ascontiguousarray(frame[..., :3]), "RGB"),
                                            p.image_size))
        x = portable.to_input([square], p.meta["mean"], p.meta["std"])
        z = self._runner.run(torch.from_numpy(x))[0].astype(np.float64) / p.temperature
        e = np.exp(z - z.max())
        return (e / e.sum()).tolist()


@dataclass(frozen=True)
class LiveAnswer:
    """The latest frame's answer: every class's probability, and the frame it was given."""

    probabilities: dict[str, float]
    frame: np.ndarray

    @property
    def best(self) -> tuple[str, float]:
        return max(self.probabilities.items(), key=lambda kv: kv[1])


class LiveFeed:
    """One viewer's live camera: classifies the frames it is given with the classifier it holds
    and keeps the latest answer and the rate. Frames arriving while one is being classified are
    left out, so the answer stays current however slow the machine."""

    def __init__(self) -> None:
        self.classifier: FrameClassifier | None = None
        self.meter = RateMeter()
        self._latest: LiveAnswer | None = None
        self._busy = threading.Lock()
        self._lock = threading.Lock()

    def offer(self, frame: np.ndarray) -> LiveAnswer | None:
        """Classify ``frame`` unless busy or without a classifier; the answer, if one was made."""
        classifier = self.classifier
        if classifier is None or not self._busy.acquire(blocking=False):
            return None
        try:
            started = time.perf_counter()
            answer = LiveAnswer(dict(zip(classifier.classes, classifier(frame))), frame)
            self.meter.add(time.perf_counter() - started)
        finally:
            self._busy.release()
        with self._lock:
            self._latest = answer
        return answer

    def latest(self) -> LiveAnswer | None:
        with self._lock:
            return self._latest

    def forget(self) -> None:
        """Drop the latest answer (the model changed, or the camera stopped)."""
        with self._lock:
            self._latest = None
