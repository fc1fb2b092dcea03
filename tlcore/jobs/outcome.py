"""How a command ends, on the command line or in a worker: its exit code, and a failure told in
one line a user can act on (a traceback only when asked for with TLSTUDIO_DEBUG=1)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from tlcore.atomic import disk_full, is_disk_full
from tlcore.data.names import printable
from tlcore.errors import TLError

# A file problem, naming the file ({where}) and not the library call.
NO_FILE = "{where} does not exist; check the path."
A_FOLDER = "{where} is a folder; give the name of a file."
NOT_ALLOWED = "You are not allowed to use {where}; choose another place or ask the owner of the folder."
NOT_USABLE = "{where} could not be used ({reason})."


def guarded(command: str, work: Callable[[], int]) -> int:
    """``work()``'s exit code; bad input ends with a one-line reason and a non-zero exit code."""
    try:
        return work()
    except TLError as e:
        message = str(e)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        message = os_message(e)
    except Exception:
        # Not an ordinary mistake but a bug: one line for the user, the traceback on request.
        if os.environ.get("TLSTUDIO_DEBUG"):
            raise
        message = (f"'{command}' stopped on an unexpected problem; run it again with TLSTUDIO_DEBUG=1 "
                   "to see the details, and please report them.")
    print(f"error: {printable(' '.join(message.split()))}", file=sys.stderr)  # one line, whatever it quotes
    return 2


def os_message(err: OSError) -> str:
    """One sentence for a file or disk problem, naming the file and not the library call."""
    where = err.filename or "a file"
    if is_disk_full(err):
        return str(disk_full(where if err.filename else "."))
    if isinstance(err, FileNotFoundError):
        return NO_FILE.format(where=where)
    if isinstance(err, IsADirectoryError):
        return A_FOLDER.format(where=where)
    if isinstance(err, PermissionError):
        return NOT_ALLOWED.format(where=where)
    return NOT_USABLE.format(where=where, reason=(err.strerror or "input/output error").lower())
