"""The one exception type segscope raises for bad input."""

from __future__ import annotations


class SegscopeError(ValueError):
    """Bad input: a one-line message naming the file (when there is one) and the problem.

    The command line prints the message alone and exits with status 1.
    """

    def __init__(self, message: str, path: object | None = None):
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)
