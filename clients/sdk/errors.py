"""The one exception type the CLI turns into a one-line message and exit code 1."""


class SawgridError(Exception):
    """A user-facing error: str(err) is a complete one-line explanation."""
