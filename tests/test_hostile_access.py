"""Who can open the studio: the shared-password gate, a configured login, and the localhost default."""

import tomllib

import pytest
from app_fixtures import LAUNCHER, ROOT, studio, texts
from streamlit.testing.v1 import AppTest

from pages import nav
from tlcore import sharing


@pytest.fixture(autouse=True)
def _no_earlier_guesses(monkeypatch):
    """Wrong passwords count per client for the whole server: an earlier test's would make this one wait."""
    monkeypatch.setattr(sharing.GUESSES, "_wrong", {})


def _locked() -> AppTest:
    at = AppTest.from_string(LAUNCHER, default_timeout=60)
    at.secrets[nav.PASSWORD_SECRET] = "correct horse"
    return at.run()


def _shows_only_the_password_box(at: AppTest) -> None:
    assert [t.label for t in at.text_input] == ["Password"] and len(at.button) == 1
    assert not at.title and not at.sidebar.children and not at.markdown and not at.get("page_link")


def test_with_a_password_set_nothing_shows_but_the_password_box():
    at = _locked()
    assert not at.exception
    _shows_only_the_password_box(at)
    at.switch_page(str(ROOT / "pages" / "runs.py")).run()  # a page's address does not get past it
    _shows_only_the_password_box(at)


def test_a_wrong_password_gets_one_plain_line_and_nothing_else():
    at = _locked()
    at.text_input[0].input("Correct horse")
    at.button[0].click()
    at.run()
    assert [e.value for e in at.error] == [nav.WRONG_PASSWORD]
    _shows_only_the_password_box(at)
    assert nav.UNLOCKED not in at.session_state


def test_the_right_password_opens_the_studio_for_the_session():
    at = _locked()
    at.text_input[0].input("correct horse")
    at.button[0].click()
    at.run()
    assert not at.exception and at.title[0].value == "Your images"
    assert "**Run:** none yet" in texts(at.sidebar.markdown)
    at.switch_page(str(ROOT / "pages" / "runs.py")).run()  # asked once per session
    assert at.title[0].value == "All runs"


def test_with_a_login_configured_nothing_shows_but_the_log_in_button():
    at = AppTest.from_string(LAUNCHER, default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x"}
    at.run()
    assert not at.exception and [b.label for b in at.button] == ["Log in"]
    assert not at.title and not at.sidebar.children and not at.text_input


def test_without_a_password_the_studio_opens_at_once():
    at = studio()
    assert at.title[0].value == "Your images" and not any(t.label == "Password" for t in at.text_input)


def test_the_server_listens_on_this_computer_only():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert 200 <= config["server"]["maxUploadSize"] <= 1024
