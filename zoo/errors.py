"""The one base class of every error a user can cause."""


class ZooError(Exception):
    """An error the user can cause and fix (a bad flag, file, dataset or request).

    The command line prints its message as one line and exits with status 2,
    so the message says what was wrong, with the value, and what to do
    instead. Each subclass keeps its builtin base as a second base
    (`class ModelFileError(ZooError, ValueError)`), so code that catches the
    builtin still catches it.

    Example:
        >>> from zoo.registry import ModelFileError
        >>> issubclass(ModelFileError, ZooError) and issubclass(ModelFileError, ValueError)
        True
    """
