"""User-facing errors.

Every mistake a user can make (a wrong image size, a missing data folder, a corrupt checkpoint, a
nonsense CLI value) raises :class:`AlexNetError` with one line that names the cause and the fix. The
CLI prints that line and exits with status 1 instead of showing a stack trace.
"""


class AlexNetError(ValueError):
    """A bad input, explained in one line: what is wrong and how to fix it."""
