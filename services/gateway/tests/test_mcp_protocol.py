"""Wire-level behaviour of POST /mcp in both protocol eras, with exact statuses and codes."""

from __future__ import annotations

import base64
from typing import Any

Stack = Any


async def test_server_discover_lists_every_supported_version_with_cache_hints(stack: Stack) -> None:
    status, headers, body = await stack.mcp(stack.request("server/discover"))
    assert status == 200
    result = body["result"]
    assert result["resultType"] == "complete"
    assert result["supportedVersions"] == [
        "2026-07-28",
        "2025-11-25",
        "2025-06-18",
        "2025-03-26",
        "2024-11-05",
    ]
    assert result["capabilities"] == {"tools": {}}
    assert result["ttlMs"] > 0 and result["cacheScope"] == "public"
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "twinmcp"
    assert "Mcp-Session-Id" not in headers


async def test_modern_tools_list_carries_result_type_and_cache_hints(stack: Stack) -> None:
    status, _, body = await stack.mcp(stack.request("tools/list"))
    assert status == 200
    result = body["result"]
    assert result["resultType"] == "complete"
    assert result["cacheScope"] == "public" and result["ttlMs"] >= 0
    names = [tool["name"] for tool in result["tools"]]
    assert names == ["resolve-library-id", "query-docs", "get-library-docs", "search-docs"]
    for tool in result["tools"]:
        annotations = tool["annotations"]
        assert annotations["readOnlyHint"] is True
        assert annotations["idempotentHint"] is True
        assert annotations["openWorldHint"] is False


async def test_protocol_version_header_differing_from_body_is_rejected_with_32020(
    stack: Stack,
) -> None:
    status, _, body = await stack.mcp(
        stack.request("tools/list", id=7), {"MCP-Protocol-Version": "2025-11-25"}
    )
    assert status == 400
    assert body["error"]["code"] == -32020
    assert body["id"] == 7


async def test_missing_protocol_version_header_on_a_modern_body_is_a_header_mismatch(
    stack: Stack,
) -> None:
    status, _, body = await stack.mcp(stack.request("tools/list"), {"MCP-Protocol-Version": ""})
    assert status == 400
    assert body["error"]["code"] == -32020


async def test_method_header_differing_from_body_is_rejected_with_32020(stack: Stack) -> None:
    status, _, body = await stack.mcp(stack.request("tools/list"), {"Mcp-Method": "tools/call"})
    assert status == 400
    assert body["error"]["code"] == -32020


async def test_name_header_differing_from_tool_name_is_rejected_with_32020(stack: Stack) -> None:
    request = stack.call("resolve-library-id", {"libraryName": "fastapi", "query": "cors"})
    status, _, body = await stack.mcp(request, {"Mcp-Name": "query-docs"})
    assert status == 400
    assert body["error"]["code"] == -32020
    assert stack.search.queries == []


async def test_base64_encoded_name_header_is_decoded_before_comparing(stack: Stack) -> None:
    encoded = base64.b64encode(b"resolve-library-id").decode()
    request = stack.call("resolve-library-id", {"libraryName": "fastapi", "query": "cors"})
    status, _, body = await stack.mcp(request, {"Mcp-Name": f"=?base64?{encoded}?="})
    assert status == 200
    assert body["result"]["isError"] is False


async def test_duplicated_routing_header_is_a_header_mismatch(stack: Stack) -> None:
    # A dict would fold the duplicate away, so send raw header pairs.
    async with stack.http.post(
        f"{stack.url}/mcp",
        json=stack.request("tools/list"),
        headers=[
            ("MCP-Protocol-Version", stack.MODERN),
            ("Mcp-Method", "tools/list"),
            ("Mcp-Method", "tools/list"),
        ],
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == -32020


async def test_unsupported_protocol_version_lists_every_supported_version(stack: Stack) -> None:
    request = stack.request("server/discover", id="v")
    request["params"]["_meta"] = {
        **stack.META,
        "io.modelcontextprotocol/protocolVersion": "1999-01-01",
    }
    status, _, body = await stack.mcp(request, {"MCP-Protocol-Version": "1999-01-01"})
    assert status == 400
    assert body["id"] == "v"
    assert body["error"]["code"] == -32022
    assert body["error"]["data"]["requested"] == "1999-01-01"
    assert body["error"]["data"]["supported"] == [
        "2026-07-28",
        "2025-11-25",
        "2025-06-18",
        "2025-03-26",
        "2024-11-05",
    ]


async def test_unknown_protocol_version_header_without_meta_is_unsupported(stack: Stack) -> None:
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    status, _, body = await stack.mcp(request, {"MCP-Protocol-Version": "1999-01-01"}, modern=False)
    assert status == 400
    assert body["error"]["code"] == -32022
    assert "2026-07-28" in body["error"]["data"]["supported"]


async def test_meta_without_client_capabilities_is_invalid_params_400(stack: Stack) -> None:
    request = stack.request("tools/list", id=3)
    del request["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"]
    status, _, body = await stack.mcp(request)
    assert status == 400
    assert body == {
        "jsonrpc": "2.0",
        "id": 3,
        "error": {
            "code": -32602,
            "message": "params._meta is missing the required key(s): "
            "io.modelcontextprotocol/clientCapabilities",
        },
    }


async def test_modern_header_with_no_meta_is_invalid_params_400(stack: Stack) -> None:
    status, _, body = await stack.mcp({"jsonrpc": "2.0", "id": 4, "method": "tools/list"})
    assert status == 400
    assert body["error"]["code"] == -32602
    assert body["id"] == 4


async def test_meta_without_client_info_is_served(stack: Stack) -> None:
    request = stack.request("tools/list")
    del request["params"]["_meta"]["io.modelcontextprotocol/clientInfo"]
    status, _, body = await stack.mcp(request)
    assert status == 200
    assert "tools" in body["result"]


async def test_unknown_modern_method_is_404_with_32601(stack: Stack) -> None:
    for method in ("unknown/method", "initialize", "ping", "logging/setLevel"):
        status, _, body = await stack.mcp(stack.request(method, id=601))
        assert (status, body["error"]["code"], body["id"]) == (404, -32601, 601), method


async def test_unknown_legacy_method_is_a_32601_error(stack: Stack) -> None:
    status, _, body = await stack.mcp(
        {"jsonrpc": "2.0", "id": 9, "method": "prompts/list"}, modern=False
    )
    assert status == 200
    assert body["error"]["code"] == -32601


async def test_batch_is_rejected_with_invalid_request(stack: Stack) -> None:
    status, _, body = await stack.mcp(
        [stack.request("tools/list", id=1), stack.request("tools/list", id=2)], modern=False
    )
    assert status == 400
    assert body["id"] is None
    assert body["error"]["code"] == -32600
    assert "Batch" in body["error"]["message"]


async def test_invalid_json_is_parse_error_with_null_id(stack: Stack) -> None:
    status, _, body = await stack.mcp(None, raw=b'{"jsonrpc": "2.0", "id": 1,', modern=False)
    assert status == 400
    assert body == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "Parse error: the body is not valid JSON"},
    }


async def test_request_without_method_is_invalid_request_keeping_the_id(stack: Stack) -> None:
    status, _, body = await stack.mcp({"jsonrpc": "2.0", "id": 12}, modern=False)
    assert status == 400
    assert body["error"]["code"] == -32600
    assert body["id"] == 12


async def test_wrong_jsonrpc_version_is_invalid_request(stack: Stack) -> None:
    status, _, body = await stack.mcp({"jsonrpc": "1.0", "id": 5, "method": "ping"}, modern=False)
    assert (status, body["error"]["code"], body["id"]) == (400, -32600, 5)


async def test_null_id_is_invalid_request(stack: Stack) -> None:
    status, _, body = await stack.mcp(
        {"jsonrpc": "2.0", "id": None, "method": "ping"}, modern=False
    )
    assert (status, body["error"]["code"], body["id"]) == (400, -32600, None)


async def test_notifications_are_accepted_with_202_and_no_body(stack: Stack) -> None:
    legacy = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    status, _, body = await stack.mcp(legacy, modern=False)
    assert (status, body) == (202, "")
    modern = {
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"_meta": stack.META},
    }
    status, _, body = await stack.mcp(modern)
    assert (status, body) == (202, "")


async def test_get_and_delete_are_405_with_allow_post(stack: Stack) -> None:
    for method in ("GET", "DELETE"):
        async with stack.http.request(method, f"{stack.url}/mcp") as response:
            assert response.status == 405
            assert response.headers["Allow"] == "POST"


async def test_foreign_origin_is_forbidden(stack: Stack) -> None:
    status, _, body = await stack.mcp(
        stack.request("tools/list"), {"Origin": "https://evil.example.com"}
    )
    assert status == 403
    assert body["error"]["code"] == -32600 and body["id"] == 1


async def test_localhost_origin_is_allowed(stack: Stack) -> None:
    status, _, _ = await stack.mcp(
        stack.request("tools/list"), {"Origin": f"http://localhost:{stack.gateway.port}"}
    )
    assert status == 200


async def test_foreign_host_is_rejected_against_dns_rebinding(stack: Stack) -> None:
    status, _, body = await stack.mcp(stack.request("tools/list"), {"Host": "evil.example.com"})
    assert status == 421
    assert body["error"]["code"] == -32600


async def test_body_over_the_limit_is_413_with_a_jsonrpc_error(stack: Stack) -> None:
    huge = stack.request("tools/list")
    huge["params"]["padding"] = "x" * (1024 * 1024 + 10)
    status, _, body = await stack.mcp(huge)
    assert status == 413
    assert body["error"]["code"] == -32600
    assert "limit" in body["error"]["message"]


async def test_unknown_tool_is_invalid_params(stack: Stack) -> None:
    status, _, body = await stack.mcp(stack.call("no-such-tool", {}))
    assert status == 400
    assert body["error"]["code"] == -32602
    assert "resolve-library-id" in body["error"]["message"]
    status, _, body = await stack.mcp(stack.call("no-such-tool", {}, modern=False), modern=False)
    assert status == 200
    assert body["error"]["code"] == -32602


async def test_arguments_that_are_not_an_object_are_invalid_params(stack: Stack) -> None:
    request = stack.call("query-docs", {})
    request["params"]["arguments"] = ["/fastapi/fastapi"]
    status, _, body = await stack.mcp(request)
    assert (status, body["error"]["code"]) == (400, -32602)


async def test_legacy_initialize_answers_the_clients_version_and_issues_no_session(
    stack: Stack,
) -> None:
    for asked, expected in [
        ("2025-11-25", "2025-11-25"),
        ("2025-06-18", "2025-06-18"),
        ("2025-03-26", "2025-03-26"),
        ("2024-11-05", "2024-11-05"),
        ("2023-01-01", "2025-11-25"),
    ]:
        request = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": asked,
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        status, headers, body = await stack.mcp(request, modern=False)
        assert status == 200
        assert body["result"]["protocolVersion"] == expected
        assert body["result"]["capabilities"]["tools"] == {"listChanged": False}
        assert "Mcp-Session-Id" not in headers


async def test_legacy_ping_and_tools_list_work_without_a_session(stack: Stack) -> None:
    status, _, body = await stack.mcp({"jsonrpc": "2.0", "id": "p", "method": "ping"}, modern=False)
    assert (status, body["result"]) == (200, {})
    status, _, body = await stack.mcp(
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"MCP-Protocol-Version": "2025-06-18"},
        modern=False,
    )
    assert status == 200
    assert len(body["result"]["tools"]) == 4
    assert "resultType" not in body["result"]


async def test_missing_or_json_only_accept_header_still_gets_json(stack: Stack) -> None:
    for accept in ("", "application/json", "*/*"):
        status, headers, body = await stack.mcp(stack.request("tools/list"), {"Accept": accept})
        assert status == 200, accept
        assert headers["Content-Type"].startswith("application/json")
        assert body["result"]["tools"]


async def test_event_stream_only_accept_gets_one_sse_event(stack: Stack) -> None:
    status, headers, body = await stack.mcp(
        stack.request("tools/list", id=77), {"Accept": "text/event-stream"}
    )
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    assert body.startswith("event: message\ndata: {")
    assert '"id":77' in body


def _text(body: dict[str, Any]) -> str:
    return str(body["result"]["content"][0]["text"])
