"""The Label page's background suggestions (tlcore.studio.Labeller): computed once in a thread with
progress, made again only when the pool or the labels change, and a plain line when they cannot be made."""

from __future__ import annotations

from pools import dataset, image, pool_folder

from tlcore import studio
from tlcore.training.suggest import POOL_OF_ONE, POOL_TOO_SMALL

MODEL, SIZE = "efficientnet_lite0", 32


def _settled(job: studio.Labeller) -> dict:
    job.join(120)
    return job.state()


def test_suggestions_are_made_in_the_background_and_again_after_labels(tmp_path):
    data = dataset()
    studio.add_to_pool(data, pool_folder(tmp_path / "pool", 3))
    job = studio.Labeller(data, MODEL, SIZE)
    assert job.state() == {"busy": False, "done": 0, "total": 0, "suggested": None, "current": False, "error": ""}
    job.keep_current()
    first = _settled(job)
    assert first["current"] and not first["error"] and first["done"] == first["total"] == 9 + 9
    assert first["suggested"].labels == 9 and len(first["suggested"].rows) == 9
    job.keep_current()  # nothing changed: nothing computed again
    assert job.state()["suggested"] is first["suggested"]
    studio.confirm(data, [("u0-10.png", "red"), ("u1-10.png", "green")])
    assert not job.state()["current"]  # the labels changed: these suggestions are behind
    job.keep_current()
    second = _settled(job)
    assert second["current"] and second["suggested"].labels == 11 and len(second["suggested"].rows) == 7
    assert second["total"] == 0  # every feature was kept from the first time
    assert [p["labels"] for p in studio.accuracy_history(data)] == [9, 11]


def test_a_pool_of_one_gives_its_plain_line():
    data = dataset()
    studio.add_to_pool(data, [("only.png", image(0, 50))])
    job = studio.Labeller(data, MODEL, SIZE)
    job.keep_current()
    state = _settled(job)
    assert state["error"] == POOL_TOO_SMALL.format(held=POOL_OF_ONE.format(thing="image"), thing="image")
    assert state["suggested"] is None
    assert state["current"]  # it describes the pool as it is: nothing to redo until it changes
