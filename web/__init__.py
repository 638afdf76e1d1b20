"""Templates and static files (shipped as package data so wheels carry them)."""
