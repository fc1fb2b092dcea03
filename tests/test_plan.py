"""One decision (issue 26): the Plan a page shows is the Plan the run records and follows, whoever
decides it; resolve() is pure."""

import json
import os
import re
import sys

import pytest

from app_fixtures import goto, studio, texts, wait_until
from pages import ui
from tlcore.config import TrainConfig
from tlcore.errors import TLError
from tlcore.jobs.plan import DatasetStats, Observations, Plan, resolve
from tlcore.jobs.train import create_run, execute
from tlcore.rundir import RunDir
from tlcore.studio import plan
from tlcore.training.recommend import CONFIDENCE, CV_NEEDS_FROZEN
from wording import pattern

SMALL = dict(image_size=64, batch_size=16, trainable_stages=0, epochs=2, augment="none", device="cpu")


def test_a_run_started_from_a_plan_records_exactly_it(digits, tmp_path):
    request = TrainConfig(data=digits, **SMALL)
    shown = plan(request)  # what Strategy previews and Train starts
    run = create_run(request, tmp_path / "run", plan=shown)
    record = run.record()
    assert record.plan == shown.to_json() and Plan.from_json(json.loads(json.dumps(record.plan))) == shown
    assert record.config == shown.config and record.config.is_resolved and record.requested == request
    assert record.recommendation == shown.recommendation.to_json()
    assert plan(request) == shown  # the statistics are measured once and read back


@pytest.mark.slow
def test_the_worker_follows_the_plan_and_decides_only_a_run_without_one(digits, tmp_path):
    request = TrainConfig(data=digits, **SMALL)
    # A run created without a Plan (a sweep's, a rerun's): the worker decides it once, from the same
    # statistics through the same resolve, so it is the Plan a page would have shown.
    shown = plan(request)
    alone = create_run(request, tmp_path / "alone")
    assert alone.record().plan is None
    assert execute(alone.path) == "finished"
    assert alone.record().plan == shown.to_json()
    # A run started from a Plan records it and follows it, although this computer now knows the
    # first run's times (another Plan would estimate otherwise).
    shown = plan(request)
    started = create_run(request, tmp_path / "started", plan=shown)
    assert execute(started.path) == "finished"
    record = started.record()
    assert record.plan == shown.to_json() and record.config == shown.config


@pytest.mark.slow
def test_the_pages_and_the_run_agree_on_size_confidence_and_time(digits):
    settings = {"opt_device": "cpu", "opt_stages": 0, "opt_epochs": 2, "opt_augment": "none", "opt_recipe": "fastest"}
    at = studio("strategy", **{ui.DATASET: digits, **settings})
    confidence = re.search(pattern(CONFIDENCE, natural=re.compile(r"(\d+)%")), texts(at.info)).group(1)
    goto(at, "train")
    next_run = re.search(r"images at (\d+) pixels", texts(at.markdown)).group(1)
    took = re.search(r"It should take (.+?) on this computer", texts(at.caption)).group(1)
    next(b for b in at.button if b.label == "Start training").click()
    at.run()
    run = RunDir(at.session_state[ui.RUN])
    wait_until(at, lambda at: "Finished" in texts(at.subheader), timeout=300)
    assert run.status().state == "finished"
    record = run.record()
    this_run = re.search(r"\*\*This run:\*\*.*images at (\d+) pixels", texts(at.markdown)).group(1)
    assert next_run == this_run == str(record.config.image_size) == "208"  # Lite1's processor size
    assert f"{record.recommendation['naturalness']:.0%}" == f"{confidence}%"
    assert Plan.from_json(record.plan).estimate().words() == took


STATS = DatasetStats(model="efficientnet_lite1", labelled={"a": 12, "b": 30}, val=0, test=5, given_val=False,
                     image_size=64, naturalness=0.2, kind="colour")


def test_resolve_is_pure(monkeypatch):
    request = TrainConfig(data="/nowhere/at/all")  # never looked at
    seen = Observations(runs=[{"device": "cpu", "recipe": "fastest", "embed": 2.0, "steps": 0.0, "rest": 9.0,
                               "typical_embed": 1.0, "typical_steps": 0.0, "typical_rest": 3.0}],
                        ensemble_ready=True, kept=("fastest",))
    first = resolve(request, STATS, "cpu", seen)  # loads the modules it uses
    looked = []
    for name in ("stat", "lstat"):  # a file's existence is asked through these, without an audit event
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda *a, real=real, **k: looked.append(a) or real(*a, **k))
    touched = []
    forbidden = ("open", "os.listdir", "os.scandir", "os.mkdir", "os.remove", "os.rename", "shutil.", "socket.",
                 "subprocess.", "urllib.")
    watching = [True]
    sys.addaudithook(lambda event, args: touched.append(event)
                     if watching[0] and event.startswith(forbidden) else None)
    try:
        again = [resolve(request, STATS, "cpu", seen) for _ in range(3)]
    finally:
        watching[0] = False
        monkeypatch.undo()
    assert not touched and not looked, (touched, looked)
    assert all(p == first for p in again)
    assert Plan.from_json(json.loads(json.dumps(first.to_json()))) == first
    assert first.config.is_resolved and first.config.image_size == 64
    assert first.recommendation.naturalness == 0.2 and "20%" in first.recommendation.reason
    # what it was given decides: another device or other statistics give another Plan
    assert resolve(request, STATS, "cuda", seen) != first
    assert resolve(request, DatasetStats(**{**STATS.to_json(), "naturalness": None}), "cpu", seen) != first


def test_a_request_that_cannot_work_is_refused_before_any_run(digits):
    with pytest.raises(TLError, match=pattern(CV_NEEDS_FROZEN)):
        plan(TrainConfig(data=digits, **{**SMALL, "trainable_stages": 2, "evaluation": "cv"}))
