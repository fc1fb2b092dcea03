"""Sharing the studio: a password set but empty refuses to open it (in the browser and at launch),
and wrong guesses wait longer and longer per client, are refused unread while waiting, and are
logged without what was typed."""

import logging
import os

import pytest
from app_fixtures import LAUNCHER
from streamlit.testing.v1 import AppTest

from pages import nav
from tlcore import launch, sharing
from tlcore.sharing import EMPTY_PASSWORD, NOT_TEXT, PASSWORD_SECRET, Guesses, client_of, too_many

RIGHT = "correct horse"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The server's count of wrong guesses, empty, on a clock the test moves."""
    now = Clock()
    monkeypatch.setattr(sharing.GUESSES, "clock", now)
    monkeypatch.setattr(sharing.GUESSES, "_wrong", {})
    return now


def _gate(password) -> AppTest:
    at = AppTest.from_string(LAUNCHER, default_timeout=60)
    at.secrets[PASSWORD_SECRET] = password
    return at.run()


def _guess(at: AppTest, typed: str) -> AppTest:
    at.text_input[0].input(typed)
    at.button[0].click()
    return at.run()


def _locked(at: AppTest) -> bool:
    return not at.title and not at.sidebar.children and nav.UNLOCKED not in at.session_state


# --- a password set but empty -------------------------------------------------------------------

@pytest.mark.parametrize("password,line", [("", EMPTY_PASSWORD), ("   ", EMPTY_PASSWORD), (1234, NOT_TEXT),
                                           (False, NOT_TEXT)])
def test_an_empty_password_opens_nothing_and_says_so(password, line):
    at = _gate(password)
    assert not at.exception and [e.value for e in at.error] == [line]
    assert "\n" not in line and _locked(at) and not at.text_input and not at.button


def _app_with_secrets(tmp_path, monkeypatch, text: str):
    """A copy of the launcher's world: app.py in tmp_path beside .streamlit/secrets.toml holding
    ``text``, a home folder without secrets, and an exec that fails the test if it is reached."""
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(text)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(launch, "app_path", lambda: tmp_path / "app.py")

    def started(*args):
        raise AssertionError("the server was started")

    monkeypatch.setattr(launch.os, "execv", started)


@pytest.mark.parametrize("text,line", [('studio_password = ""\n', EMPTY_PASSWORD),
                                       ('studio_password = 7\n', NOT_TEXT)])
def test_the_launcher_refuses_to_start_with_an_empty_password(text, line, tmp_path, monkeypatch):
    _app_with_secrets(tmp_path, monkeypatch, text)
    with pytest.raises(SystemExit) as stop:
        launch.main([])
    assert str(stop.value) == f"error: {line}"


def test_the_home_folders_secrets_count_and_the_apps_win(tmp_path, monkeypatch):
    _app_with_secrets(tmp_path, monkeypatch, f'studio_password = "{RIGHT}"\n')
    (tmp_path / "home" / ".streamlit").mkdir(parents=True)
    (tmp_path / "home" / ".streamlit" / "secrets.toml").write_text('studio_password = ""\n')
    assert launch.secrets_problem(tmp_path / "app.py") is None  # the app's own file overrides
    (tmp_path / ".streamlit" / "secrets.toml").write_text("[other]\nx = 1\n")
    assert launch.secrets_problem(tmp_path / "app.py") == EMPTY_PASSWORD


# --- guesses -------------------------------------------------------------------------------------

def test_each_wrong_guess_doubles_the_wait_up_to_five_minutes():
    clock = Clock()
    guesses = Guesses(clock)
    assert guesses.wait_left("a") == 0
    waits = []
    for _ in range(11):
        waits.append(guesses.wrong("a"))
        clock.now += waits[-1]
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    guesses.wrong("a")
    clock.now += 299
    assert guesses.wait_left("a") == 1 and guesses.wait_left("b") == 0  # another client is not slowed
    guesses.right("a")
    assert guesses.wait_left("a") == 0 and guesses.wrong("a") == 1  # the right password starts afresh


def test_a_client_quiet_for_an_hour_starts_afresh():
    clock = Clock()
    guesses = Guesses(clock)
    for _ in range(5):
        guesses.wrong("a")
    clock.now += sharing.FORGET_AFTER
    assert guesses.wrong("b") == 1 and guesses.wrong("a") == 1


def test_clients_are_addresses_and_an_ipv6_network_is_one():
    assert client_of("203.0.113.7") == "203.0.113.7"
    assert client_of("2001:db8:1:2::5") == client_of("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_of("2001:db8:1:3::5") != client_of("2001:db8:1:2::5")
    assert client_of(None) == "this computer"  # every tab of this computer, or of a proxy on it


@pytest.mark.parametrize("seconds,words", [(0.2, "1 second"), (1.5, "2 seconds"), (64, "64 seconds"),
                                           (300, "5 minutes")])
def test_the_wait_is_said_in_plain_words(seconds, words):
    assert too_many(seconds) == sharing.TOO_MANY.format(wait=words)


def test_a_guess_during_the_wait_is_refused_unread_even_the_right_one(clock):
    at = _gate(RIGHT)
    assert [e.value for e in _guess(at, "Correct horse").error] == [nav.WRONG_PASSWORD]
    clock.now += 0.5
    assert [e.value for e in _guess(at, RIGHT).error] == [too_many(0.5)]
    assert _locked(at) and [t.label for t in at.text_input] == ["Password"]
    clock.now += 0.5
    _guess(at, RIGHT)
    assert not at.exception and at.title[0].value == "Your images"
    assert sharing.GUESSES.wait_left("this computer") == 0


def test_a_new_tab_does_not_start_the_count_again(clock):
    first = _gate(RIGHT)
    for typed in ("a", "b"):
        _guess(first, typed)
        clock.now += 1.0  # the first wait is over, the second is not
    second = _gate(RIGHT)  # another session from the same computer
    assert [e.value for e in _guess(second, RIGHT).error] == [too_many(1.0)] and _locked(second)


def test_wrong_guesses_are_logged_without_what_was_typed(clock, caplog):
    typed = "hunter2-" + os.urandom(4).hex()
    with caplog.at_level(logging.WARNING, logger="tlcore.sharing"):
        at = _gate(RIGHT)
        _guess(at, typed)
        clock.now += 10
        _guess(at, typed)
    lines = [r.getMessage() for r in caplog.records if r.name == "tlcore.sharing"]
    assert lines == ["Wrong studio password from this computer (1 in a row); its next guess waits 1 s",
                     "Wrong studio password from this computer (2 in a row); its next guess waits 2 s"]
    assert typed not in caplog.text
