"""Hostile settings and tiny data for training and its verdicts (issue 24): nothing left to validate
on, a nanosecond seed, a learning rate of 1, and calibration or label checks on a handful of
images. Each ends in one plain line (or a verdict withheld with its reason) and keeps what was saved."""

import json

import numpy as np
import pytest
import torch

from app_fixtures import TINY, studio, texts
from test_hostile_input import fingerprint, png
from pages import ui
from tlcore.config import MAX_SEED, TrainConfig, seed_within
from tlcore.errors import TLError
from tlcore.jobs.train import create_run, execute
from tlcore.training import calibration
from tlcore.training.calibration import FEW_A_CLASS, T_MIN, calibrate, fit_temperature
from tlcore.training.divergence import SURE_OF_WRONG, diverging
from tlcore.training.engine import NO_VALIDATION, UNSTABLE
from tlcore.training.label_issues import TOO_FEW_A_CLASS, label_check, probably_mislabelled
from tlcore.training.loop import LoopState
from tlcore.workspace import choices_path, load_choices

BIG_SEED = 1_733_500_000_000_000_000  # a nanosecond timestamp


def plain(text: str) -> None:
    assert text and "\n" not in text and "Traceback" not in text and "Error" not in text, text


def test_holdout_with_nothing_to_set_aside_fails_in_one_line(tmp_path):
    data = tmp_path / "photos"
    for k, c in enumerate(("bolt", "nut")):
        (data / c).mkdir(parents=True)
        for name in ("IMG_1.png", "IMG_1 copy.png"):  # one photo, saved twice
            (data / c / name).write_bytes(png(60 + 120 * k, size=(32, 32)))
    before = fingerprint(data)
    run = create_run(TrainConfig(data=str(data), **{**TINY, "evaluation": "holdout"}), tmp_path / "run")
    with pytest.raises(TLError) as err:
        execute(run.path)
    line = NO_VALIDATION
    assert str(err.value) == line and run.status().error == line and run.status().state == "failed"
    plain(line)
    assert fingerprint(data) == before and not run.bundle_path.exists()


def test_a_nanosecond_seed_trains_with_cross_validation(fashion_small, tmp_path):
    cfg = TrainConfig(data=str(fashion_small / "train"), seed=BIG_SEED,
                      **{**TINY, "evaluation": "cv", "recipe": "fastest"})
    run = create_run(cfg, tmp_path / "run")
    assert execute(run.path) == "finished"
    assert run.record().config.seed == BIG_SEED and json.loads(run.metrics_path.read_text())["calibration"]
    assert seed_within(7 * 1000 + 1) == 7001 and seed_within(BIG_SEED, 32) == BIG_SEED % 2**32  # old runs replay


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1])
def test_a_seed_outside_64_bits_is_one_line(seed):
    with pytest.raises(TLError) as err:
        TrainConfig(data="photos", seed=seed)
    assert str(err.value) == f"The seed must be a whole number from 0 to {MAX_SEED}, not {seed}."


def test_a_kept_seed_the_page_cannot_hold_falls_back_with_a_note(digits):
    choices_path().write_text(json.dumps({"version": 1, "choices": {"settings": {"seed": BIG_SEED, "epochs": 12}}}))
    at = studio("strategy", **{ui.DATASET: digits})
    assert not at.exception and not at.error
    assert at.number_input(key="opt_seed").value == 0 and at.number_input(key="opt_epochs").value == 12
    assert ("Not kept from your last session: seed; its value could not be used here, so the default is used "
            "instead.") in texts(at.caption)
    assert load_choices()["settings"] == {"epochs": 12}  # the usable setting stays kept; the seed is let go


def test_learning_rate_one_with_class_weighting_warns_and_keeps_the_best_epoch(fashion_small, tmp_path):
    cfg = TrainConfig(data=str(fashion_small / "train"), lr=1.0, class_weighting=True,
                      **{**TINY, "epochs": 3, "evaluation": "holdout", "recipe": "fastest"})
    run = create_run(cfg, tmp_path / "run")
    assert execute(run.path) == "finished"
    message = run.status().message
    assert message.startswith("Finished. " + UNSTABLE.format(why=SURE_OF_WRONG.format(epoch=2, times=2), epoch=2)), \
        message
    assert all(np.isfinite(e["train"]["loss"]) for e in run.events("epoch"))


def test_a_loss_worse_than_a_blind_guess_is_diverging_however_short_the_run():
    state = LoopState()
    assert diverging(9.0, 1, state, 4) == ""  # the first epoch may start anywhere
    assert diverging(2.7, 2, state, 4) == ""  # under twice ln 4 = 2.77
    assert diverging(2.8, 3, state, 4) == SURE_OF_WRONG.format(epoch=3, times=2)


def few_a_class(per_class: dict[int, int], seed: int = 0, margin: float = 4) -> tuple[np.ndarray, np.ndarray]:
    """Held-out logits of a model that favours the right class by ``margin``, with ``per_class`` images a class."""
    rng = np.random.default_rng(seed)
    y = np.repeat(list(per_class), list(per_class.values()))
    z = rng.normal(size=(len(y), len(per_class)))
    z[np.arange(len(y)), y] += margin
    return z, y


def test_one_held_out_image_a_class_is_never_calibrated(monkeypatch):
    z, y = few_a_class({c: 2 if c == 0 else 1 for c in range(25)}, margin=6)
    assert fit_temperature(z, y) == pytest.approx(T_MIN, abs=1e-3)  # every image right: the fit makes it sure of all
    report = calibrate(z, y)
    assert not report["kept"] and report["temperature"] == 1.0 and report["ece_after"] == report["ece_before"]
    assert report["reason"] == FEW_A_CLASS.format(fewest=1, needed=3)
    monkeypatch.setattr(calibration, "MIN_PER_CLASS", 1)  # without the rule, the floor was shipped
    assert calibrate(z, y)["temperature"] == pytest.approx(T_MIN, abs=1e-3)


def test_two_images_a_class_withhold_the_label_list_and_say_why():
    z, y = few_a_class({c: 2 for c in range(200)}, seed=1)
    rng = np.random.default_rng(2)
    confused = rng.choice(len(y), 60, replace=False)  # correctly labelled, but unlike their class
    z[confused, (y[confused] + 1) % 200] += 8
    assert len(probably_mislabelled(y, z)) >= 20  # what the list would have shown
    rows, check = label_check(y, z)
    assert rows == [] and not check["shown"] and check["precision"] is None
    assert check["reason"] == TOO_FEW_A_CLASS.format(per_class=2, needed=5)
    assert check["found"] == len(probably_mislabelled(y, z))
