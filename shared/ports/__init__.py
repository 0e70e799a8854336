"""Ports: the types and protocols services depend on and adapters implement.

Nothing here does I/O or imports an adapter, a service, Flask or the HTTP layer.
"""
