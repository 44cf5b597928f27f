"""BANANAS (White et al., AAAI 2021): :class:`BANANAS` in :mod:`.method`, its encodings and predictor beside it;
README.md says how it works here."""
from .method import BANANAS

__all__ = ["BANANAS"]
