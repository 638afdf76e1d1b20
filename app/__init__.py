"""livefeed: a self-hosted live-blog service."""

__version__ = "0.1.0"
