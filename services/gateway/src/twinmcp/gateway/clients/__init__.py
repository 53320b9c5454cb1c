"""Typed clients of the auth, search and ingest services; every call carries a deadline."""
