"""The Label page on a text dataset (issue 28, "both kinds of data"): the same page as for images, its
grid showing the pool's texts as written (escaped; a long one cut, whole in its tooltip) with their
suggestions from the sentence encoder, a batch confirmed by clicks joining the dataset's texts as a
person's labels, bulk accept stating its precision, and no word of images anywhere on it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from app_fixtures import studio, texts, wait_until
from label_page import bulk_accept_at_half, join_labelling_threads, press, suggested
from text_fixtures import TOPICS, UNSEEN

from pages import label, label_batch, ui
from tlcore import studio as front
from tlcore.data.texts_store import open_texts
from tlcore.training.suggest import POOL_OF_ONE, POOL_TOO_SMALL

MARKUP, LONG = UNSEEN[3], UNSEEN[-1].strip()  # "<b>Great</b> **match** today" (sport); a long text on the weather
PAIRS = {"sport": 3, "food": 3, "weather": 2}  # pool texts of two sentences of a topic: with the two above, a batch
POOL = {f"{TOPICS[c][i]} {TOPICS[c][i + 4]}": c for c, n in PAIRS.items() for i in range(n)} | {MARKUP: "sport",
                                                                                                 LONG: "weather"}
_no_thread_left = pytest.fixture(autouse=True)(join_labelling_threads)


def _table(path: Path, rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["text", "when"]] + [[t, "2026"] for t in rows])
    return path


@pytest.fixture
def data(tmp_path) -> str:
    """A stored text dataset of 12 texts a topic (36: enough to measure bulk accept's precision) and a
    pool of 10 unlabelled texts, one batch (8 of two sentences of one topic, the markup one, the long one)."""
    labelled = {c: "\n".join(t + [f"{t[i]} {t[i + 1]}" for i in range(4)]) for c, t in TOPICS.items()}
    folder = front.text_folder(front.type_texts("topics", labelled))
    added = front.add_to_pool(folder, _table(tmp_path / "tickets.csv", POOL))
    assert added["message"] == "Added 10 texts to the unlabelled pool (now 10)."
    return folder


def _label_page(folder: str):
    # An image model and size chosen earlier for images: a text dataset is labelled by the text model.
    return studio("label", **{ui.DATASET: folder, ui.MODEL: "efficientnet_lite0", ui.OPT + "image_size": 32})


def _text_now(at) -> str:
    """The whole text in hand (as the pool holds it)."""
    name = next(m.value for m in at.markdown if m.value.startswith("**Now:**")).removeprefix("**Now:** ")
    pool = {p["name"]: p["path"] for p in front.pool_images(at.session_state[ui.DATASET])}
    return Path(pool[name.replace("\\", "")]).read_text(encoding="utf-8")


def _words(at) -> str:
    """Everything the page's main area says: text, captions, buttons and their tooltips, the slider."""
    main = at.main
    said = [e.value for kind in ("title", "subheader", "markdown", "caption", "info", "success", "error")
            for e in getattr(main, kind)]
    said += [f"{b.label} {b.help or ''}" for b in main.button] + [f"{s.label} {s.help or ''}" for s in main.slider]
    return "\n".join(said + [m.proto.help for m in main.markdown])


def test_a_text_pool_shows_its_texts_as_written_with_suggestions_and_no_word_of_images(data):
    at = wait_until(_label_page(data), suggested, 120)
    assert not at.exception and not at.error
    shown = [m.value for m in at.markdown]
    assert ui.md_safe(MARKUP) == "\\<b\\>Great\\</b\\> \\*\\*match\\*\\* today" and ui.md_safe(MARKUP) in shown
    cut = [m for m in at.markdown if m.value.startswith(ui.md_safe(LONG[:60])) and m.value != ui.md_safe(LONG)]
    if _text_now(at) != LONG:
        assert len(cut) == 1  # in the grid: cut to a few lines, the whole text in its tooltip
    assert all(c.value.endswith(" …") and len(c.value) < 200 and c.proto.help == ui.md_safe(LONG) for c in cut)
    assert all(ui.md_safe(t) in shown for t in POOL if t != LONG)  # the whole batch, each text as written
    assert sum(line.endswith("%)") for line in texts(at.caption).splitlines()) == label_batch.SIZE
    assert "The model suggests **" in texts(at.markdown)
    said = _words(at)
    assert "image" not in said.lower() and "texts" in said


def test_a_batch_of_texts_confirmed_by_clicks_joins_the_dataset_as_a_persons_labels(data):
    at = wait_until(_label_page(data), suggested, 120)
    given = []
    for _ in range(label_batch.SIZE):
        text = _text_now(at)
        given.append((text, POOL[text]))
        press(at, POOL[text])
        assert not at.exception and not at.error
    assert "Saved 10 labels; the model is learning from them." in texts(at.success)
    stored = open_texts(data)
    assert len(stored.items) == 36 + 10 and set(given) <= {(i.text, i.label) for i in stored.items}
    assert front.how_labelled(data) == {"person": 10, "bulk": 0, "imported": 36}
    assert front.pool_images(data) == []
    assert "Every text of the pool has a label now (10 labels given here)." in texts(at.success)
    at.button(key="label_undo").click().run()
    assert "Took back the last batch (checked by you): 10 texts in the pool again." in texts(at.success)
    assert len(open_texts(data).items) == 36 and "image" not in _words(at).lower()


def test_bulk_accept_on_texts_states_its_precision(data):
    at = wait_until(_label_page(data), suggested, 120)
    count = bulk_accept_at_half(at, 36, "texts")
    assert front.how_labelled(data) == {"person": 0, "bulk": count, "imported": 36}
    assert len(open_texts(data).items) == 36 + count


def test_a_pool_of_one_text_says_so_in_texts_and_it_can_still_be_labelled(tmp_path):
    folder = front.text_folder(front.type_texts("topics", {c: "\n".join(t[:2]) for c, t in TOPICS.items()}))
    front.add_to_pool(folder, _table(tmp_path / "one.csv", [MARKUP]))
    one = POOL_TOO_SMALL.format(held=POOL_OF_ONE.format(thing="text"), thing="text")
    at = wait_until(_label_page(folder), lambda at: one in [e.value for e in at.info], 60)
    assert one == "The unlabelled pool holds only 1 text; add at least 2 unlabelled texts to get suggestions."
    assert not at.exception and not at.error and "image" not in _words(at).lower()
    assert _text_now(at) == MARKUP and ui.md_safe(MARKUP) in [m.value for m in at.markdown]
    press(at, "sport")
    assert "Saved 1 label; the model is learning from them." in texts(at.success)
    assert (open_texts(folder).items[-1].text, open_texts(folder).items[-1].label) == (MARKUP, "sport")


def test_a_text_dataset_without_a_pool_says_where_to_add_texts():
    folder = front.text_folder(front.type_texts("topics", {c: "\n".join(t[:2]) for c, t in TOPICS.items()}))
    at = _label_page(folder)
    assert not at.exception and not at.error
    assert [e.value for e in at.info] == [label.NO_POOL.format(things="texts", where=label.WHERE["text"])]
    assert "image" not in _words(at).lower()
