"""The "not sure" rule: which answers of a trained model are marked "not sure", chosen by the user
as how often the others must be right, and kept in the run folder for the exports made after."""

from __future__ import annotations

from tlcore.rundir import RunDir
from tlcore.use.notsure import coverage_of, coverage_sentence, rule_for, rule_of, rule_sentence


def keep_not_sure_rule(run: RunDir, target: float | None, as_it_came: bool) -> None:
    """Save the "not sure" rule the user chose in the run folder: right at least ``target`` of the
    time (None: off), or the model's own threshold as it came (the saved rule is forgotten)."""
    run.set_not_sure_rule(None if as_it_came else rule_for(target, coverage_of(run)))
