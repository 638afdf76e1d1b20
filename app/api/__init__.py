"""HTTP API routers, one per resource (their dependencies are in ``app/deps.py``)."""
