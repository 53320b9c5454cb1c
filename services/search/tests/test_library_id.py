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


@pytest.mark.parametrize(
    "version", ["^3.0", "~3.0.1", ">=2.0", ">=1.0 <2", "1.0 || 2.0", "*", "~=2.0", ">=1.4,<2"]
)
def test_a_range_or_specifier_is_kept_to_be_resolved_against_indexed_versions(
    version: str,
) -> None:
    assert parse_library_id("/acme/webkit", version) == LibraryRef("/acme/webkit", version)
    assert parse_library_id(f"/acme/webkit@{version}") == LibraryRef("/acme/webkit", version)


def test_a_version_with_characters_no_range_uses_is_refused() -> None:
    with pytest.raises(InvalidInputError) as error:
        parse_library_id("/acme/webkit", "1.0;drop")
    assert "not a valid version name" in str(error.value)
