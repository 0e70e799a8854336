"""The local stack: real emulators, the fake Google server and every function, started
and stopped by one orchestrator (``python -m devstack run``; the tests use the same one)."""
