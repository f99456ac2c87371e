"""QTC: live algorithmic-trading competitions with exact order lifecycle tracking."""

__version__ = "0.1.0"
