"""Unit tests for ``app/store/``."""
