"""Time estimates before Start, the recipe `auto` picks from them, and advice that says what changed
since the recommendation (issue 23, "The recipe" and "Advice")."""

import json
import re
from dataclasses import asdict, replace

import pytest
import torch

from tlcore.config import AUTO, FASTEST, MOST_ACCURATE, TrainConfig
from tlcore.jobs import timings
from tlcore.jobs.plan import DatasetStats, Observations, Plan, resolve
from tlcore.jobs.train import create_run, execute
from tlcore.record import EpochEvent, Metrics, Score, SplitMetrics
from tlcore.training.recommend import WAIT_SECONDS, choose_recipe, image_kind, recommend
from tlcore.training.timing import Estimate, Work, estimate, parts
from tlcore.use.advice import AUGMENTATION_SINCE, ON_THIS_COMPUTER, OVER_FITTING, advise
from wording import pattern

COUNTS = {c: 15 for c in "abcdef"}  # 90 images, as in issue 23


def _pick(accurate_seconds: float, recipe: str = AUTO, frozen: bool = True, kind: str = "colour"):
    rec = recommend(COUNTS, natural=0.3, num_stages=7, gpu=False)
    cfg = TrainConfig(data="x", recipe=recipe)
    return choose_recipe(rec, cfg, frozen, COUNTS, True, {FASTEST: Estimate(20.0, 2),
                                                          MOST_ACCURATE: Estimate(accurate_seconds, 2)}, kind)


@pytest.mark.parametrize("seconds,expected", [(WAIT_SECONDS - 5, MOST_ACCURATE), (WAIT_SECONDS + 5, FASTEST)])
def test_auto_takes_the_most_accurate_model_only_when_it_fits_in_two_minutes_here(seconds, expected):
    out = _pick(seconds)
    assert out.recipe == expected
    took = Estimate(seconds, 2).words()
    assert took in out.reason and "2 minutes" in out.reason and "about 20 s" in out.reason
    assert ("within" in out.reason) == (expected == MOST_ACCURATE)  # and why, in words
    assert ("over the 2 minutes" in out.reason) == (expected == FASTEST)


def test_a_chosen_recipe_or_a_network_that_learns_is_not_overruled_by_the_estimate():
    assert _pick(600.0, recipe=MOST_ACCURATE).recipe == MOST_ACCURATE
    assert _pick(30.0, recipe=FASTEST).recipe == FASTEST
    assert _pick(30.0, frozen=False).recipe == FASTEST  # the ensemble is a frozen network's recipe


def test_on_greyscale_images_where_the_benchmark_found_it_no_better_auto_keeps_the_fastest():
    grey = torch.randint(0, 256, (5, 1, 16, 16), dtype=torch.uint8).expand(5, 3, 16, 16)
    colour = grey.clone()
    colour[:, 0] = 255 - colour[:, 0]
    assert (image_kind(grey), image_kind(colour)) == ("greyscale", "colour")
    out = _pick(30.0, kind="greyscale")
    assert out.recipe == FASTEST and out.images_kind == "greyscale" and "scored no better" in out.reason
    assert _pick(30.0, recipe=MOST_ACCURATE, kind="greyscale").recipe == MOST_ACCURATE  # asked for: made


def _work(**changes) -> Work:
    base = Work(device="cpu", recipe=FASTEST, gflops=0.47, networks=1, labelled=90, test=100, trained=0.0, epochs=40)
    return replace(base, **changes)


def test_the_estimate_grows_with_images_passes_and_depth_and_follows_this_computers_earlier_runs():
    small, big = estimate(_work(), []), estimate(_work(labelled=900, test=1000), [])
    assert small.measured == 0 and big.seconds > 2 * small.seconds > 0
    augmented = estimate(_work(views=8), [])
    tuned = estimate(_work(trained=2 / 7, epochs=15, val=18), [])
    assert small.seconds < augmented.seconds < tuned.seconds
    # this computer ran the same work twice as slowly as typical, part by part: the estimate follows
    typical = parts(_work())
    slow = {"device": "cpu", "recipe": FASTEST, **{k: 2 * typical[k] for k in ("embed", "steps", "rest")},
            **{f"typical_{k}": typical[k] for k in ("embed", "steps", "rest")}}
    measured = estimate(_work(), [slow])
    assert measured.measured == 1 and measured.seconds == pytest.approx(2 * small.seconds)
    assert "1 earlier run on this computer" in measured.basis() and "typical speeds" in small.basis()
    assert estimate(_work(device="cuda"), [slow]).measured == 0  # a processor's runs say nothing of a GPU


def test_a_run_records_its_estimates_and_then_its_measured_times(fashion_small, tmp_path):
    cfg = TrainConfig(data=str(fashion_small / "train"), model="efficientnet_lite0", image_size=64, epochs=2,
                      augment="none", device="cpu")
    run = create_run(cfg, tmp_path / "run")
    assert execute(run.path) == "finished"
    rec = run.record().recommendation
    assert set(rec["estimates"]) == {FASTEST, MOST_ACCURATE} and rec["estimates"][FASTEST]["seconds"] > 0
    assert rec["estimates"][FASTEST]["work"]["labelled"] == 48
    [row] = timings.observations()
    assert row["recipe"] == FASTEST and row["device"] == "cpu" and row["embed"] > 0 and row["rest"] > 0
    assert row["typical_rest"] == rec["estimates"][FASTEST]["typical"]["rest"]


def _overfit_run(tmp_path, augment: str, recommended: dict | None, plan: Plan | None = None):
    tmp_path.mkdir(exist_ok=True)
    cfg = TrainConfig(data=str(tmp_path), trainable_stages=0, epochs=40, augment=augment, evaluation="cv",
                      recipe=FASTEST)
    run = create_run(cfg, tmp_path / "run", plan=plan)
    run.write_record(replace(run.record(), recommendation=recommended))
    per_class = {"a": {"precision": 1, "recall": 1, "f1": 1, "support": 20}}
    val = SplitMetrics(0.55, 0.5, 0.5, 0.5, per_class, ["a"], [[20]], 20, loss=1.5)
    run.append_epoch(EpochEvent(1, 1, 0.1, 1.0, replace(val, accuracy=0.99), val, 10.0, True, held_out="cv"))
    score = Score("cv", 0.55, 0.34, 0.74, 20, "5-fold cross-validation")
    run.write_metrics(Metrics(score, score, kept_epoch=1, cv=val))
    return run


def _over_fitting(run) -> str:
    [tip] = [a for a in advise(run) if re.match(pattern(OVER_FITTING), a)]
    return tip


def _augmentation_since(work: Work) -> str:
    """What the over-fitting tip adds when the recommendation had augmentation off, with its time on."""
    return AUGMENTATION_SINCE.format(time=ON_THIS_COMPUTER.format(time=estimate(work, []).words()))


def test_advice_against_the_recommendation_says_what_changed_since_it(tmp_path):
    work = _work()
    recommended = {"augment": "none", "trainable_stages": 0, "recipe": FASTEST,
                   "estimates": {FASTEST: {"seconds": 10.0, "measured": 0, "work": asdict(work)}}}
    tip = _over_fitting(_overfit_run(tmp_path / "a", "none", recommended))
    assert "turn on augmentation" in tip and _augmentation_since(replace(work, views=8)) in tip
    # augmentation already on: the tip neither repeats it as a cure nor explains a change
    tip = _over_fitting(_overfit_run(tmp_path / "b", "light", {**recommended, "augment": "light"}))
    assert "augmentation" not in tip and "add images" in tip


def test_advice_follows_the_recorded_plan_not_a_recommendation_decided_again(tmp_path):
    (tmp_path / "a").mkdir()
    stats = DatasetStats(model="efficientnet_lite1", labelled=COUNTS, val=0, test=0, given_val=False,
                         image_size=64, naturalness=0.2, kind="colour")
    plan = resolve(TrainConfig(data=str(tmp_path / "a")), stats, "cpu", Observations([], False))
    assert plan.config.augment == "none" and plan.work.frozen and plan.work.views == 1
    # the record's copy says what deciding again (other images, another size) might say; the Plan rules
    again = {"augment": "light", "trainable_stages": 2, "recipe": FASTEST, "estimates": {}}
    tip = _over_fitting(_overfit_run(tmp_path / "a", "none", again, plan))
    # the Plan's recommendation, read from the record's Plan; the time with augmentation on is the Plan's
    # work with the views the engine would embed (8 of 40 epochs)
    assert _augmentation_since(replace(plan.work, views=8)) in tip
    # a Plan that recommended augmentation: the tip says nothing of a recommendation to keep it off
    light = replace(plan, recommendation=replace(plan.recommendation, augment="light"))
    tip = _over_fitting(_overfit_run(tmp_path / "b", "none", {**again, "augment": "none"}, light))
    assert "turn on augmentation" in tip and not re.search(pattern(AUGMENTATION_SINCE), tip)


def test_the_workspace_timings_survive_damage(monkeypatch):
    timings.timings_path().write_text("{not json")
    assert timings.observations() == []
    timings.timings_path().write_text(json.dumps({"version": 99, "runs": [{"device": "cpu"}]}))
    assert timings.observations() == []
