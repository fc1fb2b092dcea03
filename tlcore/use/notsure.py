"""What the model's confidence means, in the user's terms: the calibration that was (or was not)
applied, and the "not sure" rule, "answers should be right at least N% of the time".

At the end of training, ``coverage_table`` (training/calibration.py) records on held-out images
(the test images when there are any) how many answers each confidence threshold keeps and how many
of those were right. The Use page turns the user's N% into a threshold with ``rule_for``; the rule is kept in the run folder,
and ``rule_of`` gives it to every surface (batch table, live camera, ONNX file, model card, web
page), which all word it with ``rule_sentence`` and ``coverage_sentence``.
"""

from __future__ import annotations

from tlcore.models.bundle import read_bundle_meta
from tlcore.record import NotSureRule
from tlcore.rundir import RunDir
from tlcore.training.calibration import MEASURED, MIN_IMAGES
from tlcore.use.predict import not_sure_below_of

# The rule in words, the same on every surface ({...:.0%} fields are shares).
OFF_WORDS = "Every answer is the model's top class, with its probability"
OFF = OFF_WORDS + "; no answer is marked \"not sure\"."
OFF_REACHED = (OFF_WORDS + ": on the held-out images its answers were already right at least {target:.0%} of "
               "the time.")
ANSWERS_UNDER = "Answers under {below:.0%} sure are marked \"not sure\"{asked}."
ASKED = " (asked for: answers right at least {target:.0%} of the time)"
NO_HELD_OUT = "There were no held-out images to check this rule on."
UNREACHABLE = ("No threshold gets answers right {target:.0%} of the time on the {n} {where} (at best {best:.0%}, "
               "for the {answered} answered from {sure:.0%} sure), so every answer is marked \"not sure\": choose "
               "a lower share to get answers.")
COVERAGE = "At {target:.0%}: {answered} of {n} {where} get an answer; those were right {right:.0%} of the time."
# What was done to the confidence, then what it measured (each later part starts with a space).
DIVIDED_OLD = ("The model's scores are divided by {temperature:.3g}, fitted on {images} held-out images (by an older "
               "version, which did not check that this helps on other images).")
DIVIDED = "The model's scores are divided by {temperature:.3g}, fitted on {images} held-out images. {reason}"
OWN = "The confidence shown is the model's own, not adjusted. {reason}"
CHECKED = (" On the held-out images, each checked with an adjustment fitted without it, the calibration error was "
           "{before:.1%} unadjusted and {after:.1%} adjusted.")
TEST_BETTER = (" On the test images, which played no part in this, it is {after:.1%} as shipped, better than the "
               "{before:.1%} unadjusted.")
TEST_NO_BETTER = (" On the test images, which played no part in this, it is {after:.1%} as shipped, no better than the "
                  "{before:.1%} unadjusted: the adjustment did not carry over to them.")
ON_TEST = " On the test images, which played no part in this, it is {ece:.1%}."
BENCHMARK = (" Measured on {what} with known answers ({draws} sets), this way of adjusting took the calibration "
             "error on unseen {unit} from {raw:.0%} to {shipped:.1%} on average, and made it no worse in {better} "
             "of {draws}.")
SPLIT_WORDS = {"test": "test images", "cv": "labelled images (each scored by a model trained without it)",
               "val": "validation images"}


def _row_for(coverage: dict, target: float) -> list | None:
    """The lowest-threshold row whose answers were right at least ``target`` of the time, or None."""
    return next((r for r in coverage["rows"] if r[2] >= target * r[1] - 1e-9), None)


def rule_for(target: float | None, coverage: dict | None) -> NotSureRule:
    """The rule for "answers right at least ``target`` of the time" (None: off): the lowest threshold
    that got there on the held-out images. Where none did, no answer can be vouched for, so every
    one is marked "not sure" (threshold 1); with no held-out table, the threshold is the target
    itself, which is right for a calibrated model."""
    if target is None:
        return NotSureRule(0.0)
    if not coverage or not coverage["rows"]:
        return NotSureRule(target, target)
    row = _row_for(coverage, target)
    return NotSureRule(1.0 if row is None else row[0], target)


def rule_of(run: RunDir) -> NotSureRule:
    """The run's rule: the one the user chose, else the one that came with the model (off for
    models trained since the threshold became the user's choice)."""
    chosen = run.not_sure_rule()
    return chosen if chosen is not None else NotSureRule(not_sure_below_of(read_bundle_meta(run.bundle_path)))


def coverage_of(run: RunDir) -> dict | None:
    """The held-out coverage table recorded at the end of training; None for older runs."""
    metrics = run.metrics()
    return (metrics.calibration or {}).get("coverage") if metrics else None


def rule_sentence(rule: NotSureRule) -> str:
    """The rule in one plain sentence, the same on every surface."""
    if not rule.on:
        if rule.target is not None:
            return OFF_REACHED.format(target=rule.target)
        return OFF
    asked = ASKED.format(target=rule.target) if rule.target is not None else ""
    return ANSWERS_UNDER.format(below=rule.below, asked=asked)


def coverage_sentence(target: float, coverage: dict | None) -> str:
    """What "right at least ``target`` of the time" did on the held-out images, in one sentence."""
    if not coverage or not coverage["rows"]:
        return NO_HELD_OUT
    where, n = SPLIT_WORDS.get(coverage["split"], "held-out images"), coverage["images"]
    row = _row_for(coverage, target)
    if row is None:
        best = coverage["rows"][-1]
        return UNREACHABLE.format(target=target, n=n, where=where, best=best[2] / best[1], answered=best[1],
                                  sure=best[0])
    return COVERAGE.format(target=target, answered=row[1], n=n, where=where, right=row[2] / row[1])


def rule_words(run: RunDir) -> str:
    """The run's rule with, when the user asked for a share right, what it did on held-out images:
    the words the model card, the web page and its README carry."""
    rule = rule_of(run)
    if rule.target is None:
        return rule_sentence(rule)
    return f"{rule_sentence(rule)} {coverage_sentence(rule.target, coverage_of(run))}"


def calibration_sentence(cal: dict, kind: str | None = None) -> str:
    """What was done to the confidence and what it measured, on images it was not fitted on; with
    ``kind`` ("image" or "text"), how the rule measured on benchmark data of that kind."""
    if "kept" not in cal:  # a run from before the nested check: its numbers are on the fitting images
        said = DIVIDED_OLD.format(temperature=cal["temperature"], images=cal["images"])
    elif cal["kept"]:
        said = DIVIDED.format(temperature=cal["temperature"], images=cal["images"], reason=cal["reason"])
    else:
        said = OWN.format(reason=cal["reason"])
    if "log_loss_before" in cal and cal["images"] >= MIN_IMAGES:
        said += CHECKED.format(before=cal["ece_before"], after=cal["ece_after"])
    if "test_ece_before" in cal and cal.get("kept", True):
        after, before = cal["test_ece_after"], cal["test_ece_before"]
        said += (TEST_BETTER if after < before else TEST_NO_BETTER).format(after=after, before=before)
    elif "test_ece_before" in cal:
        said += ON_TEST.format(ece=cal["test_ece_before"])
    if kind in MEASURED:
        draws, raw, shipped, better, what = MEASURED[kind]
        said += BENCHMARK.format(what=what, draws=draws, unit=f"{kind}s", raw=raw, shipped=shipped, better=better)
    return said
