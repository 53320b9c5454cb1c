"""Bounds on what one request may carry, checked before any work is done."""

from __future__ import annotations

from twinmcp.search.errors import InvalidInputError
from twinmcp.search.libraryid import MAX_ID_LENGTH

# The largest token budget an answer may be given.
MAX_BUDGET = 100_000
# Longest strings a request may carry, in characters. A question or a task description fits
# well within MAX_QUERY_CHARS; names and ids are far shorter. Longer input is refused before
# any work, so one request's cost is bounded (a 900 kB name once cost a second of CPU).
MAX_QUERY_CHARS = 2_000
MAX_LIBRARY_NAME_CHARS = 256
MAX_LIBRARY_ID_CHARS = MAX_ID_LENGTH
MAX_VERSION_CHARS = 128
MAX_PROJECT_CHARS = 100
MAX_RANKER_CHARS = 32
MAX_FORMAT_CHARS = 40  # a project file's format: "uv.lock", "package-lock.json"


def check_length(field_name: str, value: str, limit: int) -> None:
    """Refuses a string longer than `limit` characters, naming the field and the limit."""
    if len(value) > limit:
        raise InvalidInputError(
            f"{field_name} is {len(value)} characters long; the limit is {limit}. "
            f"Send a shorter {field_name}"
        )
