"""What the JSON form of an answer says of its owner's rules and withheld snippets.

The text form is search's (search/tests/test_owner_rules_rendering.py).
"""

from __future__ import annotations

from twinmcp.gateway.rendering import context_answer
from twinmcp.search.v1 import search_pb2


def test_the_json_form_carries_the_rules_and_the_count_of_withheld_snippets() -> None:
    answer = search_pb2.QueryDocsResponse(
        library_id="/owner/widgets",
        title="Widgets",
        version="1.0",
        rules=["Pin the version."],
        withheld_snippets=2,
        text="# Widgets (/owner/widgets), version 1.0",
    )
    body = context_answer(answer).model_dump(mode="json")
    assert body["withheldSnippets"] == 2
    assert body["rules"] == ["Pin the version."]
