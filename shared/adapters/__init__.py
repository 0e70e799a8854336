"""Adapters: the real implementations of the service ports (Firestore, Google, FCM)."""
