"""Errors a user can act on."""


class SourceError(Exception):
    """A source folder that cannot be read at all (wrong path, missing index file)."""
