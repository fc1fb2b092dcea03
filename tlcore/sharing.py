"""Sharing the studio with a team: the shared password's setting, and the limit on guessing it.

The standard library only, so the log-in box draws before PyTorch loads."""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping

PASSWORD_SECRET = "studio_password"  # in .streamlit/secrets.toml: the password a team shares
EMPTY_PASSWORD = ("The studio's password (studio_password in .streamlit/secrets.toml) is empty, which would let "
                  "anyone in; write a password between its quotes, or delete that line to use the studio without one.")
NOT_TEXT = ("The studio's password (studio_password in .streamlit/secrets.toml) must be text in quotes, "
            'for example studio_password = "correct horse".')
TOO_MANY = "Too many wrong passwords; wait {wait} before the next try."
FIRST_WAIT = 1.0  # seconds after the first wrong guess; each further one doubles it
LONGEST_WAIT = 300.0
FORGET_AFTER = 3600.0  # a client whose last wrong guess is this old starts afresh
_log = logging.getLogger(__name__)


def password_problem(secrets: Mapping) -> str | None:
    """Why the studio must not start with these secrets (a password set but empty, or not text),
    or None. No password at all is fine: the studio then listens on this computer only."""
    if PASSWORD_SECRET not in secrets:
        return None
    value = secrets[PASSWORD_SECRET]
    if not isinstance(value, str):
        return NOT_TEXT
    return EMPTY_PASSWORD if not value.strip() else None


def client_of(ip: str | None) -> str:
    """Who guesses, for the limit: the address the connection came from, IPv6 by its /64 network
    (one household's or one machine's block). None (a connection from this computer, or through a
    proxy on it) or anything not an address is one client for all: a new browser tab must not
    start the count again."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "this computer"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def too_many(seconds: float) -> str:
    """The line a client sees when it guesses again before its wait is over."""
    left = math.ceil(seconds)
    wait = f"{left} second{'s' * (left != 1)}" if left < 90 else f"{math.ceil(left / 60)} minutes"
    return TOO_MANY.format(wait=wait)


class Guesses:
    """Wrong passwords per client, with the wait before that client's next guess: FIRST_WAIT after
    the first wrong one, doubled by each further one up to LONGEST_WAIT. Shared by every session of
    the server (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._wrong: dict[str, tuple[int, float]] = {}  # client -> (wrong guesses in a row, time of the last)

    def wait_left(self, client: str) -> float:
        """Seconds before ``client`` may guess again; 0 when it may now."""
        with self._lock:
            count, last = self._wrong.get(client, (0, 0.0))
        return max(0.0, last + self._wait(count) - self.clock()) if count else 0.0

    def wrong(self, client: str) -> float:
        """Count a wrong guess of ``client`` (logged, without what was typed); the wait it earns."""
        now = self.clock()
        with self._lock:
            self._wrong = {c: (n, t) for c, (n, t) in self._wrong.items() if now - t < FORGET_AFTER}
            count = self._wrong.get(client, (0, 0.0))[0] + 1
            self._wrong[client] = (count, now)
        wait = self._wait(count)
        _log.warning("Wrong studio password from %s (%d in a row); its next guess waits %.0f s", client, count, wait)
        return wait

    def right(self, client: str) -> None:
        """``client`` typed the password: its count starts again."""
        with self._lock:
            self._wrong.pop(client, None)

    @staticmethod
    def _wait(count: int) -> float:
        return min(LONGEST_WAIT, FIRST_WAIT * 2 ** min(count - 1, 32))


GUESSES = Guesses()  # the server's one count
