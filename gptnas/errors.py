"""User-facing errors: each carries one line that names the problem and the fix.

The CLI prints ``error: <message>`` and exits with code 2 for any of these; everything else is a bug and keeps its
traceback.
"""


class GptnasError(Exception):
    """Base class for errors caused by bad input (config, paths, data files, architecture strings)."""


class ConfigError(GptnasError):
    """A run configuration or command-line value is invalid."""


class InvalidArchitecture(GptnasError, ValueError):
    """An architecture string, token sequence or genome does not describe a member of the space."""


class DataError(GptnasError):
    """A benchmark table or dataset is missing, unreadable or of the wrong format."""


class RunDirError(GptnasError):
    """A run directory is missing, is not a run, or would be overwritten."""
