"""The project's own package, shared by every deployed function.

Layout: ``settings`` (configuration), ``errors`` (the one error model), ``logs``
(structured, redacted logging), ``http`` (the one HTTP entry layer), ``auth`` (Firebase ID
tokens), ``firestore`` (client and collection names), ``services`` (use cases) and
``bootstrap`` (the composition root that picks the real adapters).
"""
