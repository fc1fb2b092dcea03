"""The one exception type for problems a user can act on."""


class TLError(Exception):
    """A problem with the user's input or environment, worded so a non-expert can fix it.

    The UI and the command line show ``str(error)`` as it is, never a traceback.
    """
