"""The studio's navigation and log-in: what app.py draws first, before PyTorch is imported.

Nothing here imports PyTorch (tlcore.studio loads it only for the operations a page asks for), so
the sidebar shows the steps within a second of a visit, while the rest of the studio loads
behind a spinner.
"""

from __future__ import annotations

import hmac
import runpy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from tlcore.studio import GUESSES, PASSWORD_SECRET, client_of, password_problem, too_many

UNLOCKED = "unlocked"  # this session typed the studio's password
WRONG_PASSWORD = "That is not the studio's password."
STEPS = (  # the flow, in order: (page module, title, icon)
    ("data", "Data", ":material/photo_library:"),
    ("label", "Label", ":material/label:"),
    ("model", "Model", ":material/neurology:"),
    ("strategy", "Strategy", ":material/tune:"),
    ("train", "Train", ":material/model_training:"),
    ("evaluate", "Evaluate", ":material/fact_check:"),
    ("use", "Use & export", ":material/rocket_launch:"),
    ("runs", "Runs", ":material/history:"),
)
# Streamlit's own Stop, shown beside its running indicator while a page is drawn, would stop the
# drawing and not a run; hidden, so that the Train page's Stop is the only one on screen.
ONE_STOP = "<style>[data-testid='stStatusWidget'] button {display: none;}</style>"
LOADING = ("Opening the studio: loading PyTorch and the models, once after each restart (10 to 30 seconds, "
           "longer on a busy computer)…")
APP = Path(__file__).resolve().parent.parent / "app.py"
_routed = threading.local()


@contextmanager
def routed() -> Iterator[None]:
    """Marks, for this script thread, that app.py is drawing the page (see ``first_visit``)."""
    _routed.on = True
    try:
        yield
    finally:
        _routed.on = False


def first_visit() -> None:
    """Called at the top of each page file, before its imports. A fresh server's first run of a
    page's address uses Streamlit's legacy pages/-folder mode, which runs the page file without
    app.py: no sidebar, no error handling, and an empty page while its imports load PyTorch. Run
    app.py instead, which draws the sidebar and a spinner at once and routes back to the page,
    and end this run."""
    if not getattr(_routed, "on", False):
        runpy.run_path(str(APP), run_name="__main__")
        st.stop()


def page(name: str) -> str:
    """The absolute path of a page's file (so links work whatever the working folder)."""
    return str(Path(__file__).resolve().parent / f"{name}.py")


def navigation(unlocked: bool) -> st.navigation:
    """Register the steps and draw them as links in the sidebar. Streamlit's own sidebar
    list is off (client.showSidebarNavigation): on a fresh server's first visit it would list
    every module of pages/ until app.py has run."""
    current = st.navigation([st.Page(page(name), title=title, icon=icon) for name, title, icon in STEPS],
                            position="hidden")
    if unlocked:
        with st.sidebar:
            for name, title, icon in STEPS:
                st.page_link(page(name), label=title, icon=icon)
    return current


def password_gate() -> bool:
    """True when this visitor may use the studio: nothing configured (the localhost default), or
    logged in through ``[auth]`` (st.login), or typed ``studio_password`` in this session, as
    .streamlit/secrets.toml asks. Otherwise draw only the log-in button or the password box, or
    one line when the password set is empty (which must not open the studio to everyone). Wrong
    guesses make the next one from the same address wait longer and longer (tlcore.sharing, through tlcore.studio)."""
    try:
        auth, problem, expected = "auth" in st.secrets, password_problem(st.secrets), st.secrets.get(PASSWORD_SECRET)
    except FileNotFoundError:  # no secrets file at all
        auth, problem, expected = False, None, None
    if problem:
        st.error(problem, icon=":material/error:")
        return False
    if auth and not st.user.get("is_logged_in"):  # .get: absent where no user is known (tests)
        st.button("Log in", on_click=st.login, help="With your organisation's account.")
        return False
    if not expected or st.session_state.get(UNLOCKED):
        return True
    with st.form("password"):
        typed = st.text_input("Password", type="password", help="The password of this studio, from whoever runs it.")
        entered = st.form_submit_button("Open the studio")
    if entered:
        client = client_of(st.context.ip_address)
        if wait := GUESSES.wait_left(client):  # refused unread: a guess while waiting tells nothing
            st.error(too_many(wait))
            return False
        if hmac.compare_digest(typed.encode(), expected.encode()):  # same time for every wrong guess
            GUESSES.right(client)
            st.session_state[UNLOCKED] = True
            st.rerun()
        GUESSES.wrong(client)
        st.error(WRONG_PASSWORD)
    return False
