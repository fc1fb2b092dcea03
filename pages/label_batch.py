"""The Label page's batch: a grid of pool images (or texts) with their suggestions, the one in hand highlighted,
labelled by a click or a key (1-9 a class, Enter the suggestions for the rest, Backspace skip).

The batch's choices stay in the session until the batch is done; then they are saved as one batch
(what Undo takes back) and the model learns from them in the background. The next batch follows the
latest suggestions' order at once, so nobody waits for the model."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages import data_audit, ui
from pages.data_audit import plural, square
from tlcore.studio import Suggested, TLError, confirm, open_dataset, open_texts, pool_images, skip

BATCH = "label_batch"  # {"data", "names" (in order), "decided" {name: class}, "skipped" [names], "focus", "finish"}
SIZE = 10  # images (or texts) a batch
KEYS = 9  # classes with a key (1-9)
COLUMNS = 5
# The grid cell in hand, outlined. Cells keep their keys (label_cell_K) as the hand moves: a container whose
# key moved to another cell could linger in the browser beside the new one, two cells marked in hand.
HIGHLIGHT = "<style>.st-key-label_cell_{cell} {{outline: 3px solid #0072B2; outline-offset: -1px;}}</style>"
CUT = 160  # characters of a text a grid cell shows; the whole text is in its tooltip and in hand
GONE = "This {thing} cannot be shown (its file is gone)."
SHOWS = {"image": "This image shows '{label}'", "text": "This text is about '{label}'"}
SKIP = "Skip this {thing}"
ACCEPT = "Accept the suggestions for the {left} left and save the batch"
TAKE = "Take this {thing} in hand: the keys then label it."


def noun(folder: str) -> str:
    """What the dataset's examples are called on the Label page: "text" or "image"."""
    return "text" if ui.is_text(folder) else "image"


@st.cache_data(show_spinner=False, max_entries=2000)
def pool_text(path: str) -> str | None:
    """A pool text (its file is named by its contents, so it never changes), or None when it is gone."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _cut(text: str) -> str:
    """``text`` on one line, cut to CUT characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= CUT else flat[:CUT].rsplit(" ", 1)[0] + " …"


def section(folder: str, state: dict) -> None:
    """The batch now: saved once every image in it is labelled or skipped (or Enter took the suggestions)."""
    suggested: Suggested | None = state["suggested"]
    rows = {r["name"]: r for r in suggested.rows} if suggested else {}
    pool = pool_images(folder)
    batch = _batch(folder, suggested, pool)
    open_names = [n for n in batch["names"] if n not in batch["decided"] and n not in batch["skipped"]]
    if batch["finish"] or not open_names:
        _save(folder, batch)
        return
    current = batch["focus"] if batch["focus"] in batch["names"] else open_names[0]
    thing = noun(folder)
    classes = suggested.classes if suggested else (open_texts if thing == "text" else open_dataset)(folder).classes
    by_name = {p["name"]: p for p in pool}
    st.subheader(f"Batch: {len(batch['decided'])} of {len(batch['names'])} labelled")
    with st.container(key="label_in_hand"):
        _in_hand(current, by_name[current]["path"], rows.get(current), classes, thing)
    _actions(batch, current, open_names, rows, thing)
    _grid(batch, current, by_name, rows, thing)


def _batch(folder: str, suggested: Suggested | None, pool: list[dict]) -> dict:
    """This session's batch for ``folder`` (its images still in the pool), or the next one: the first
    images in the suggestions' order (the pool's without suggestions), skipped ones last."""
    ss = st.session_state
    here = {p["name"]: p for p in pool}
    batch = ss.get(BATCH)
    untouched = batch and not (batch["decided"] or batch["skipped"] or batch["focus"])
    if batch and batch["data"] == folder and not (untouched and suggested):  # untouched: follow the newest order
        batch["names"] = [n for n in batch["names"] if n in here]  # another tab may have labelled some
        if batch["names"]:
            return batch
    order = [r["name"] for r in suggested.rows if r["name"] in here] if suggested else []
    seen = set(order)
    order += [name for name in here if name not in seen]  # in the pool's order: added since, or no suggestions
    order = [n for n in order if not here[n]["skipped"]] + [n for n in order if here[n]["skipped"]]
    ss[BATCH] = {"data": folder, "names": order[:SIZE], "decided": {}, "skipped": [], "focus": None,
                 "finish": False}
    return ss[BATCH]


def _save(folder: str, batch: dict) -> None:
    """Save the batch's labels as one batch and its skips, then start the next batch."""
    labels = [(n, c) for n, c in batch["decided"].items() if n in batch["names"]]
    try:
        if batch["skipped"]:
            skip(folder, batch["skipped"])
        done = confirm(folder, labels) if labels else None
    except TLError:
        batch["finish"] = False  # kept: the user can try again, or go on
        raise
    st.session_state.pop(BATCH, None)
    if not done:
        st.rerun()
    data_audit.changed()
    already = f" ({done['already']} had been labelled in another tab meanwhile)" if done["already"] else ""
    ui.done(f"Saved {plural(done['labelled'], 'label')}{already}; the model is learning from them.")


def save_decided(folder: str) -> None:
    """Save what this session's batch has labelled so far: before a bulk accept takes the rest, and when
    the pool emptied meanwhile (the engine then says if it was deleted)."""
    batch = st.session_state.pop(BATCH, None)
    labels = [(n, c) for n, c in batch["decided"].items()] if batch and batch["data"] == folder else []
    if labels:
        confirm(folder, labels)


def _decide(name: str, label: str) -> None:
    batch = st.session_state[BATCH]
    batch["decided"][name] = label
    batch["focus"] = None
    if name in batch["skipped"]:
        batch["skipped"].remove(name)


def _skip(name: str) -> None:
    batch = st.session_state[BATCH]
    batch["decided"].pop(name, None)
    batch["skipped"].append(name)
    batch["focus"] = None


def _accept(suggestions: dict[str, str]) -> None:
    batch = st.session_state[BATCH]
    batch["decided"].update(suggestions)
    batch["finish"] = True


def _focus(name: str) -> None:
    st.session_state[BATCH]["focus"] = name


def _in_hand(name: str, path: str, row: dict | None, classes: list[str], thing: str) -> None:
    """The image (or whole text) in hand, large, with its suggestion and one button (and key) per class."""
    if thing == "text":
        words, text = st.container(), pool_text(path)
        words.markdown(f"**Now:** {ui.md_safe(name)}")
        with words.container(border=True, key="label_text_now"):
            if text is None:
                st.caption(GONE.format(thing=thing))
            else:
                st.markdown(ui.md_safe(text))
    else:
        picture, words = st.columns([1, 3])
        thumb = ui.thumbnail(path)
        if thumb is None:
            picture.caption(GONE.format(thing=thing))
        else:
            picture.image(square(thumb), width=2 * ui.THUMB_PX)
        words.markdown(f"**Now:** {ui.md_safe(name)}")
    with words:
        st.markdown(_suggestion(row) if row else "No suggestion yet: pick its class.")
        with st.container(horizontal=True):
            for k, label in enumerate(classes):
                st.button(ui.md_safe(label), key=f"label_class_{k}", on_click=_decide, args=(name, label),
                          type="primary" if row and row["class"] == label else "secondary",
                          shortcut=str(k + 1) if k < KEYS else None,
                          help=SHOWS[thing].format(label=ui.md_safe(label)) + (f" (key {k + 1})." if k < KEYS else "."))


def _suggestion(row: dict) -> str:
    return f"The model suggests **{ui.md_safe(row['class'])}**, {row['probability']:.0%} sure."


def _actions(batch: dict, current: str, open_names: list[str], rows: dict, thing: str) -> None:
    """Skip the image (or text) in hand; take the suggestions for the rest of the batch."""
    rest = {n: rows[n]["class"] for n in open_names if n in rows}
    with st.container(horizontal=True):
        st.button(SKIP.format(thing=thing), key="label_skip", on_click=_skip, args=(current,), shortcut="Backspace",
                  help="Ask about it last; it stays unlabelled (key Backspace).")
        st.button(ACCEPT.format(left=plural(len(rest), thing)),
                  key="label_accept", on_click=_accept, args=(rest,), shortcut="Enter", type="primary",
                  disabled=not (rest or batch["decided"]),
                  help="You checked the grid: its suggestions become your labels (key Enter).")


def _grid(batch: dict, current: str, by_name: dict, rows: dict, thing: str) -> None:
    """The batch's images (or texts, cut to a few lines, whole in the tooltip), the one in hand marked;
    a click on another takes it in hand."""
    names = batch["names"]
    st.html(HIGHLIGHT.format(cell=names.index(current)))
    for start in range(0, len(names), COLUMNS):
        for k, (col, name) in enumerate(zip(st.columns(COLUMNS), names[start:start + COLUMNS]), start):
            with col.container(border=True, key=f"label_cell_{k}"):
                if thing == "text":
                    text = pool_text(by_name[name]["path"])
                    if text is not None:
                        st.markdown(ui.md_safe(_cut(text)), help=ui.md_safe(text) if _cut(text) != text else None)
                else:
                    thumb = ui.thumbnail(by_name[name]["path"])
                    if thumb is not None:
                        st.image(square(thumb), width=ui.THUMB_PX)
                st.caption(_cell_text(batch, name, name == current, rows.get(name)))
                if name != current:
                    st.button("Label this one", key=f"label_focus_{k}", on_click=_focus, args=(name,),
                              type="tertiary", help=TAKE.format(thing=thing))


def _cell_text(batch: dict, name: str, now: bool, row: dict | None) -> str:
    """The cell's caption: name, then what it is labelled, or its suggestion."""
    if name in batch["decided"]:
        state = f"yours: **{ui.md_safe(batch['decided'][name])}**"
    elif name in batch["skipped"]:
        state = "skipped"
    elif row:
        state = f"{ui.md_safe(row['class'])} ({row['probability']:.0%})"
    else:
        state = "no suggestion yet"
    return f"{':blue-background[**now**] ' if now else ''}{ui.md_safe(name)}  \n{state}"
