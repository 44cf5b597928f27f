"""User-facing errors: each carries one line that names the problem and the fix.

The CLI prints ``error: <message>`` and exits with code 2 for any of these; everything else is a bug and keeps its
traceback. Where a built-in exception type is what Python users catch for the same mistake, the error is also one
of those (:class:`ConfigTypeError` is a ``TypeError``, :class:`SpaceError` a ``ValueError``), so code that caught
the built-in type before keeps working.
"""


class GptnasError(Exception):
    """Base class for errors caused by bad input (config, paths, data files, architecture strings)."""


class ConfigError(GptnasError):
    """A run configuration or command-line value is invalid."""


class ConfigTypeError(ConfigError, TypeError):
    """A value of the wrong type: ``workers="two"``, ``evaluate=5``, an unknown keyword of ``gptnas.search``."""


class ConfigValueError(ConfigError, ValueError):
    """A value of the right type out of its range: ``workers=0``, a seed of 2**64, ``llm.timeout_s=-1``."""


class SpaceError(ConfigError, ValueError):
    """A search space is defined wrongly (no options, duplicate option names, ...) or has too few members."""


class InvalidArchitecture(GptnasError, ValueError):
    """An architecture string, token sequence or genome does not describe a member of the space."""


class DataError(GptnasError):
    """A benchmark table or dataset is missing, unreadable or of the wrong format."""


class RunDirError(GptnasError):
    """A run directory is missing, is not a run, or would be overwritten."""
