"""``python -m gptnas.rank``: LM-Searcher's ranking data and ranker outside a search —
:mod:`gptnas.methods.lmsearcher.cli` (this name is kept so commands and scripts written against it keep working)."""
import sys

from .methods.lmsearcher.cli import build_parser, main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
