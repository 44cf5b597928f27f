"""Local search (White et al. 2021): :class:`LocalSearch` in :mod:`.method`; README.md says how it works here."""
from .method import LocalSearch

__all__ = ["LocalSearch"]
