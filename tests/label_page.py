"""What the Label page's tests (images and texts) do alike: wait for its background suggestions,
press a class button, accept in bulk at 50% with the precision it states."""

from __future__ import annotations

import threading

from app_fixtures import texts


def join_labelling_threads():
    """The page's background suggestions end with the test that started them: a test module's autouse
    fixture (``pytest.fixture(autouse=True)(join_labelling_threads)``)."""
    yield
    for thread in threading.enumerate():
        if thread.name == "labelling-suggestions":
            thread.join(120)


def suggested(at) -> bool:
    """The page shows suggestions up to date with the labels (the bulk accept's slider is up)."""
    return "The model suggests" in texts(at.markdown) and bool(at.slider)


def press(at, label: str):
    """Click the class button ``label`` (what its key 1-9 does)."""
    return next(b for b in at.button if b.key and b.key.startswith("label_class_") and b.label == label).click().run()


def bulk_accept_at_half(at, held_out: int, things: str) -> int:
    """Accept every suggestion at least 50% sure, after checking the precision stated for it (measured on
    ``held_out`` labelled ``things``) and the count it would label; returns that count."""
    at.slider(key="label_threshold").set_value(50).run()
    shown = texts(at.caption)
    assert f"On {held_out} labelled {things} the model had not seen, its suggestions at least 50% sure were right" \
           in shown
    bulk = at.button(key="label_bulk")
    count = int(bulk.label.split()[1])
    assert count > 0 and f"It would label {count} {things[:-1]}" in shown
    bulk.click().run()
    assert not at.exception and not at.error
    assert f"Accepted {count} suggestion" in texts(at.success)
    return count
