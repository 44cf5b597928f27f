"""Whether to draw progress bars: on a terminal, or when asked; never into a piped or redirected log."""
from __future__ import annotations

import sys


def progress_wanted(on: bool = False, off: bool = False, stream=None) -> bool:
    """``--progress`` (``on``) and ``--no-progress`` (``off``) decide; given neither, bars are drawn only when
    ``stream`` (default: stderr, where tqdm writes) is a terminal, so a log written to a file holds no bar updates."""
    if off:
        return False
    if on:
        return True
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False
