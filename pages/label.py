"""Label: the unlabelled pool as suggestions to confirm or correct, a batch at a time, by click or key."""

from __future__ import annotations

from pages import nav

nav.first_visit()  # before the imports below, which load PyTorch

import streamlit as st

from pages import label_batch, label_bulk, ui
from pages.data_audit import plural
from pages.nav import page
from tlcore.studio import Labeller, pool_state

POLL_S = 1.0  # how often the page looks at the background computation while it runs
NO_POOL = ("This dataset has no unlabelled {things} yet. Add them on the Data page, under {where}, and the model "
           "suggests their classes here.")
WHERE = {"image": "'Unlabelled images'", "text": "'Texts', in 'Add texts without labels, to label with the model'"}
ABOUT = ("The model suggests a class for each unlabelled {thing}; you confirm or correct it with one click or a key. "
         "After each batch it learns from your labels and asks about the {things} that teach it most.")
ALL_LABELLED = ("Every {thing} of the pool has a label now ({given} given here). Add more {things} on the Data page, "
                "or train on these.")
READING = ("Reading the pool's {things} for the model: {done} of {total} (once; label by hand meanwhile, the "
           "suggestions appear when it is done)")


@st.cache_resource(show_spinner=False, max_entries=8)
def labeller(folder: str, model: str, image_size: int) -> Labeller:
    """The dataset's background suggestions, shared by every tab labelling it (features computed once)."""
    return Labeller(folder, model, image_size)


def render() -> None:
    st.title("Label with the model")
    if not ui.guard(ui.DATASET):
        return
    folder = st.session_state[ui.DATASET]
    thing = label_batch.noun(folder)
    st.caption(ABOUT.format(thing=thing, things=thing + "s"))
    with ui.friendly_errors():
        _labelling(folder)


def _labelling(folder: str) -> None:
    pool, thing = pool_state(folder), label_batch.noun(folder)
    if not pool["images"]:
        label_batch.save_decided(folder)
        if pool["given"]:
            st.success(ALL_LABELLED.format(thing=thing, things=thing + "s", given=plural(pool["given"], "label")),
                       icon=":material/check_circle:")
        else:
            st.info(NO_POOL.format(things=thing + "s", where=WHERE[thing]), icon=":material/info:")
        st.page_link(page("data"), label="Go to Data", icon=":material/arrow_forward:")
        label_bulk.undo_button(folder, pool["given"])
        label_bulk.history(folder)
        return
    size = 0 if thing == "text" else int(st.session_state.get(ui.OPT + "image_size", 0) or 0)  # texts: no size
    job = labeller(folder, st.session_state[ui.MODEL], size)
    job.keep_current()
    state = job.state()
    st.fragment(run_every=POLL_S if state["busy"] else None)(_status)(job, state["busy"], thing)
    label_batch.section(folder, state)
    st.divider()
    if not state["error"]:  # else the line above says why there are no suggestions to accept
        label_bulk.section(folder, state)
    label_bulk.undo_button(folder, pool["given"])
    label_bulk.history(folder)


def _status(job: Labeller, was_busy: bool, thing: str) -> None:
    """The background computation: a progress bar while it runs; the page is drawn again when it ends."""
    state = job.state()
    if state["busy"]:
        done, total = state["done"], state["total"]
        if total and done < total:
            st.progress(done / total, text=READING.format(things=thing + "s", done=done, total=total))
        else:
            st.progress(1.0, text="Learning from your labels: the suggestions update in a few seconds…")
    elif was_busy:
        st.rerun()  # the whole page, now with the new suggestions
    elif state["error"]:
        st.info(ui.md_safe(state["error"]), icon=":material/info:")


if __name__ == "__main__":
    render()
