"""Deployed entry points: one thin module per Cloud Function.

Each module parses the trigger, calls a service from ``shared`` and maps the result.
``main.py`` at the repository root exposes them by name for deployment.
"""
