"""Unit tests for ``app/api/``."""
