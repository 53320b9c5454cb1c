"""What text a caller may send: length caps per argument and well-formed Unicode."""

from __future__ import annotations

from collections.abc import Mapping

from twinmcp.gateway.errors import InputError

# Real names and ids are well under 100 characters; 500 leaves room without letting one
# argument cost search seconds.
MAX_NAME_CHARS = 500
# A question to the documentation, not a document: agents ask in a sentence or two.
MAX_QUERY_CHARS = 4000
# A language name for the search's code filter ("python", "typescript").
MAX_LANGUAGE_CHARS = 32
# Any other string (source URLs, tokens, key names, OAuth codes).
MAX_FIELD_CHARS = 4096
# A project: a registered name, or one lockfile's contents sent with the question; those of
# large apps run to a few hundred kilobytes (a bigger project is registered once instead).
MAX_PROJECT_CHARS = 1_000_000

# Caps by argument name, for MCP tool arguments and REST parameters alike.
LIMITS: Mapping[str, int] = {
    "libraryName": MAX_NAME_CHARS,
    "libraryId": MAX_NAME_CHARS,
    "library_id": MAX_NAME_CHARS,
    "context7CompatibleLibraryID": MAX_NAME_CHARS,
    "version": MAX_NAME_CHARS,
    "query": MAX_QUERY_CHARS,
    "topic": MAX_QUERY_CHARS,
    "libraries": MAX_NAME_CHARS,  # each library hint of a search
    "jobId": MAX_NAME_CHARS,
    "keyId": MAX_NAME_CHARS,
    "language": MAX_LANGUAGE_CHARS,
    "project": MAX_PROJECT_CHARS,
}

# What to do about a value over its cap, where "send a shorter one" is not the whole answer.
_OVER_CAP_HINTS: Mapping[str, str] = {
    "project": (
        "Send a smaller file of the project (its package.json or pyproject.toml), or register "
        "the project once (`twinmcp sync`, POST /api/v1/admin/projects) and pass its name."
    ),
}


def shown(value: object, limit: int = 80) -> str:
    """`value` for an error message (text as is, else its repr), cut short so an answer never
    echoes a megabyte back."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def limit_for(name: str) -> int:
    return LIMITS.get(name, MAX_FIELD_CHARS)


def unpaired_surrogate(value: str) -> int | None:
    """Where `value` holds a UTF-16 surrogate with no partner (not encodable as UTF-8), if any."""
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        return error.start
    return None


def check_text(name: str, value: str, limit: int | None = None) -> str:
    """`value` unchanged when it fits the cap of `name` and is valid Unicode; else InputError
    naming it and saying why."""
    cap = limit_for(name) if limit is None else limit
    if len(value) > cap:
        raise InputError(
            f"'{name}' is {len(value)} characters long; the limit is {cap}. "
            + _OVER_CAP_HINTS.get(name, f"Send a shorter {name}.")
        )
    position = unpaired_surrogate(value)
    if position is not None:
        raise InputError(
            f"'{name}' contains an unpaired UTF-16 surrogate (\\u{ord(value[position]):04x} at "
            f"character {position}), which is not Unicode text; send valid UTF-8 text."
        )
    return value


def find_unpaired_surrogate(document: object) -> str | None:
    """The JSON path of the first string (key or value) in `document` that is not Unicode text.

    json.loads accepts `"\\ud800"` and raw surrogate bytes, but such text can be neither
    encoded into an answer nor sent to a peer, so a request holding one is refused whole.
    """
    pending: list[tuple[str, object]] = [("$", document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if unpaired_surrogate(value) is not None:
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and unpaired_surrogate(key) is not None:
                    return f"{path} (a key)"
                pending.append((f"{path}.{key}", item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return None
