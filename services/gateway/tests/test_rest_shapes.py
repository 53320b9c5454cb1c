"""The REST answers keep their exact JSON (Context7 clients read field names, empty values and
left-out keys), the models of schemas.py describe every field peers send, and the OpenAPI
components are those models.

data/rest_answers.json holds each answer's status and body text as the hand-built dicts gave
them before the models built them: same keys, same order, same empty values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from pydantic import BaseModel
from twinmcp.auth.v1 import auth_pb2
from twinmcp.gateway import schemas
from twinmcp.gateway.rest import _to_json
from twinmcp.ingest.v1 import ingest_pb2
from twinmcp.search.v1 import search_pb2

Stack = Any
ADMIN = {"Authorization": "Bearer admin-key"}
READER = {"Authorization": "Bearer read-key"}
ANSWERS: dict[str, list[Any]] = json.loads(
    (Path(__file__).parent / "data" / "rest_answers.json").read_text()
)


async def _answers(stack: Stack) -> dict[str, list[Any]]:
    """Each answer of rest_answers.json, asked again in the same order (job and key ids count)."""
    stack.search.libraries["/npm/express"] = search_pb2.Library(
        library_id="/npm/express",
        title="express",
        source_type=search_pb2.SOURCE_TYPE_CATALOG,
        package_names=["express"],
        packages=[search_pb2.PackageRef(registry="npm", name="express")],
    )
    asked: list[tuple[str, str, str, Any, dict[str, str]]] = [
        ("libs", "GET", "/api/v2/libs/search?libraryName=fastapi&query=cors", None, {}),
        ("libs_express", "GET", "/api/v2/libs/search?libraryName=express", None, {}),
        (
            "context_json",
            "GET",
            "/api/v2/context?libraryId=/fastapi/fastapi&query=cors&tokens=1000&type=json",
            None,
            {},
        ),
        ("v3_json", "GET", "/api/v3/search?query=cors&tokens=1000&type=json", None, {}),
        ("unknown", "GET", "/api/v2/context?libraryId=/tiangolo/fastapi&query=q", None, {}),
        ("version", "GET", "/api/v2/context?libraryId=/fastapi/fastapi/9.9.9&query=q", None, {}),
        ("submit", "POST", "/api/v1/admin/sources", {"source": "https://github.com/a/b"}, ADMIN),
        ("jobs", "GET", "/api/v1/admin/jobs", None, ADMIN),
        ("follow", "POST", "/api/v1/admin/libraries/fastapi/fastapi/follow", None, ADMIN),
        ("follows", "GET", "/api/v1/admin/follows", None, ADMIN),
        (
            "project",
            "POST",
            "/api/v1/admin/projects",
            {"name": "shop", "files": {"requirements.txt": "fastapi==0.110.0\nflask>=2\n"}},
            ADMIN,
        ),
        ("key", "POST", "/api/v1/account/keys", {"name": "laptop"}, READER),
        ("keys", "GET", "/api/v1/account/keys", None, READER),
        ("usage", "GET", "/api/v1/account/usage?days=7", None, READER),
        ("refresh", "POST", "/auth/refresh", {"refreshToken": "refresh"}, {}),
    ]
    out: dict[str, list[Any]] = {}
    for name, method, path, body, headers in asked:
        async with stack.http.request(
            method, f"{stack.url}{path}", json=body, headers=headers
        ) as response:
            out[name] = [response.status, await response.text()]
    return out


async def test_every_answer_keeps_its_json_byte_for_byte(stack: Stack) -> None:
    answers = await _answers(stack)
    assert list(answers) == list(ANSWERS)
    for name, expected in ANSWERS.items():
        assert answers[name] == expected, name


def _full(message: Message) -> Message:
    """`message` with every field set, so that MessageToDict shows each one."""
    for field in message.DESCRIPTOR.fields:
        if field.is_repeated:
            if field.message_type is None:
                getattr(message, field.name).append("x" if field.type == field.TYPE_STRING else 1)
        elif field.message_type is not None:
            if field.message_type.full_name == "google.protobuf.Timestamp":
                getattr(message, field.name).FromSeconds(1_700_000_000)
            else:
                _full(getattr(message, field.name))
        elif field.enum_type is not None:
            setattr(message, field.name, field.enum_type.values[-1].number)
        elif field.type == field.TYPE_STRING:
            setattr(message, field.name, "x")
        elif field.type == field.TYPE_BOOL:
            setattr(message, field.name, True)
        else:
            setattr(message, field.name, 1)
    return message


@pytest.mark.parametrize(
    ("message", "model"),
    [
        (ingest_pb2.Job(), schemas.Job),
        (ingest_pb2.FollowedLibrary(), schemas.FollowedLibrary),
        (auth_pb2.ApiKey(), schemas.ApiKey),
        (auth_pb2.UsageDay(), schemas.UsageDay),
        (auth_pb2.SessionTokens(), schemas.SessionTokens),
        (auth_pb2.User(), schemas.User),
    ],
)
def test_the_models_of_peer_messages_name_every_field_the_message_has(
    message: Message, model: type[BaseModel]
) -> None:
    body = _to_json(_full(message))
    if model is schemas.Job:
        body["state"] = "cancelled"  # rest.job_json's lower-case name
    assert set(body) == set(model.model_fields)
    assert model.model_validate(body).model_dump(mode="json") == body


async def test_the_openapi_components_are_the_models(stack: Stack) -> None:
    async with stack.http.get(f"{stack.url}/openapi.json") as response:
        components = (await response.json())["components"]["schemas"]
    for model in (schemas.Library, schemas.Context, schemas.DocsSearch, schemas.Error):
        assert set(components[model.__name__]["properties"]) == set(model.model_fields)
    # A field left out when empty is optional, never null.
    note = components["Library"]["properties"]["note"]
    assert note["type"] == "string" and "note" not in components["Library"]["required"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/v1/admin/jobs?limit=abc", "'limit' must be a whole number from 1 to 500"),
        ("/api/v1/admin/jobs?limit=501", "'limit' must be a whole number from 1 to 500"),
        ("/api/v1/admin/jobs?state=queued,nope", "unknown state 'nope'; use queued, running"),
        ("/api/v1/account/usage?days=0", "'days' must be a whole number from 1 to 366"),
        ("/api/v2/context?libraryId=/a/b&tokens=-1", "'tokens' must be a whole number, e.g. 5000"),
        ("/api/v2/context?libraryId=/a/b&type=JSON", "'type' must be 'txt' or 'json'"),
        ("/api/v3/search?query=q&type=xml", "'type' must be 'txt' or 'json'"),
        ("/auth/github/callback?code=c", "'state' is required"),
    ],
)
async def test_a_query_parameter_that_does_not_fit_its_model_is_a_400_naming_it(
    stack: Stack, path: str, message: str
) -> None:
    async with stack.http.get(f"{stack.url}{path}", headers=ADMIN) as response:
        body = await response.json()
    assert response.status == 400, body
    assert body["error"] == "bad_request" and body["message"].startswith(message), body
    assert set(body) == {"error", "message"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"source": "x", "maxPages": "3"}, "'maxPages' must be a whole number from 0 to"),
        ({"source": "x", "maxDepth": True}, "'maxDepth' must be a whole number from 0 to"),
        ({"source": "x", "makeDefault": 1}, "'makeDefault' must be true or false"),
        ({"source": ["x"]}, "'source' must be a string"),
        ({"source": "   "}, "'source' is required"),
        ({"source": "x", "libraryId": "/" + "a" * 600}, "'libraryId' is 601 characters long"),
    ],
)
async def test_a_body_that_does_not_fit_its_model_is_a_400_naming_the_field(
    stack: Stack, body: dict[str, Any], message: str
) -> None:
    async with stack.http.post(
        f"{stack.url}/api/v1/admin/sources", json=body, headers=ADMIN
    ) as response:
        answer = await response.json()
    assert response.status == 400, answer
    assert answer["message"].startswith(message), answer
    assert stack.ingest.jobs == {}
