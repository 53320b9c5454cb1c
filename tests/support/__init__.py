"""Helpers shared by the cross-service test folders (tests/ is on pytest's pythonpath)."""
