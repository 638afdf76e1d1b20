"""The unit tier: pure code with fakes, no services, no root; mirrors ``app/``."""
