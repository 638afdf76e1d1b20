"""Unit tests for ``app/brokers/``."""
