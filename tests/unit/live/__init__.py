"""Unit tests for ``app/live/``."""
