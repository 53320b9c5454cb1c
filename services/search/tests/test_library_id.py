"""Parsing library ids and the versions they may carry."""

from __future__ import annotations

import pytest
from twinmcp.search.errors import InvalidInputError
from twinmcp.search.libraryid import LibraryRef, parse_library_id


@pytest.mark.parametrize(
    ("raw", "explicit", "expected"),
    [
        ("/fastapi/fastapi", "", LibraryRef("/fastapi/fastapi", "")),
        ("/vercel/next.js/v14.3.0", "", LibraryRef("/vercel/next.js", "v14.3.0")),
        ("/vercel/next.js@v14.3.0", "", LibraryRef("/vercel/next.js", "v14.3.0")),
        ("/websites/docs_python_org", "", LibraryRef("/websites/docs_python_org", "")),
        ("/llmstxt/svelte", "", LibraryRef("/llmstxt/svelte", "")),
        ("fastapi/fastapi", "", LibraryRef("/fastapi/fastapi", "")),
        ("/pallets/flask@2.3", "3.0", LibraryRef("/pallets/flask", "3.0")),
    ],
)
def test_ids_parse_into_library_and_version(raw: str, explicit: str, expected: LibraryRef) -> None:
    assert parse_library_id(raw, explicit) == expected


@pytest.mark.parametrize("raw", ["", "/", "/only", "/a b/c", "/o/r/1.0@2.0", "/o/$r"])
def test_malformed_ids_are_invalid_input_with_a_hint(raw: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        parse_library_id(raw)
    assert str(error.value)


@pytest.mark.parametrize("version", ["^3.0", "~3.0.1", ">=2.0", ">=1.0 <2", "1.0 || 2.0", "*"])
def test_a_semver_range_is_refused_as_a_range_not_resolved(version: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        parse_library_id("/acme/webkit", version)
    assert "is a range" in str(error.value)
    assert "indexed versions" in str(error.value)
