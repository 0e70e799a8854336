"""Use cases: plain Python over ports, no framework objects and no I/O of their own."""
