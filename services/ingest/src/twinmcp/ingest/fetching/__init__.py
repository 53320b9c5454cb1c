"""Bringing a source onto local disk as a folder of files the document parser can read."""
