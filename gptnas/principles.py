"""``python -m gptnas.principles``: LAPT's principles outside a search — :mod:`gptnas.methods.lapt.cli` (this name
is kept so commands and scripts written against it keep working)."""
import sys

from .methods.lapt.cli import build_parser, extract, main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
