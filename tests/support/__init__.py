"""Test and benchmark support: real Redis / PostgreSQL / livefeed processes and fixtures."""
