"""The one error type for mistakes a user can make.

Bad spec values, impossible layers, unknown names and malformed CLI input all raise :class:`UserError`.
Its message names the field, the value given and what is allowed, so the CLI can print it on one line
and exit with status 2. Anything else that escapes is a bug in accel, not in the user's input.
"""


class UserError(ValueError):
    """A user-facing error: one line naming what is wrong and what is allowed."""

    def __init__(self, message: str):
        if "\n" in message:
            raise AssertionError(f"UserError messages are one line: {message!r}")
        super().__init__(message)
