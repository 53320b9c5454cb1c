"""Hostile callers of the gateway: malformed JSON-RPC, forged tokens, odd headers, key tricks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
import uuid

import aiohttp
import jwt
import pytest
from support.hostile import JWT_SECRET, Hostile, assert_refused, assert_tool_error
from twinmcp.auth.v1 import auth_pb2

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

SEARCH = "/api/v2/libs/search?libraryName=fastapi&query=cors"
BODY_SECONDS = 1.0
KEEPALIVE_SECONDS = 2.0


@pytest.fixture(scope="module")
def stack_extra_env() -> dict[str, str]:
    # Short timers, so the slow-client tests wait seconds, not the defaults' 30 and 75.
    return {
        "HTTP_BODY_SECONDS": str(BODY_SECONDS),
        "HTTP_KEEPALIVE_SECONDS": str(KEEPALIVE_SECONDS),
    }


def _rpc(**fields: object) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": 1, **fields}


class TestMalformedJsonRpc:
    async def test_a_body_that_is_not_json_is_a_parse_error(self, hostile: Hostile) -> None:
        reply = await hostile.mcp(b'{"jsonrpc": "2.0", "id": 1, "method": ')
        assert_refused(reply, 400, "Parse error")

    async def test_a_deeply_nested_body_is_a_parse_error_not_a_crash(
        self, hostile: Hostile
    ) -> None:
        reply = await hostile.mcp(b"[" * 200_000 + b"]" * 200_000)
        assert reply.status in (400, 413), reply.body
        assert "error" in reply.body

    async def test_deep_nesting_inside_params_is_a_parse_error(self, hostile: Hostile) -> None:
        body = b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"a":'
        reply = await hostile.mcp(body + b"[" * 100_000 + b"]" * 100_000 + b"}}")
        assert_refused(reply, 400, "Parse error")

    async def test_a_10_mb_body_is_refused_as_too_large(self, hostile: Hostile) -> None:
        padding = "x" * (10 * 1024 * 1024)
        reply = await hostile.mcp(_rpc(method="tools/list", params={"pad": padding}))
        assert_refused(reply, 413, "larger than")

    async def test_a_batch_is_refused_with_what_to_send_instead(self, hostile: Hostile) -> None:
        reply = await hostile.mcp([_rpc(method="tools/list")] * 1000)
        assert_refused(reply, 400, "one JSON-RPC request per POST")

    async def test_an_object_as_id_is_an_invalid_request(self, hostile: Hostile) -> None:
        reply = await hostile.mcp({"jsonrpc": "2.0", "id": {"x": 1}, "method": "tools/list"})
        assert_refused(reply, 400, "id must be a string or an integer")

    async def test_an_unknown_tool_names_the_tools_there_are(self, hostile: Hostile) -> None:
        reply = await hostile.mcp(
            _rpc(method="tools/call", params={"name": "../../etc/passwd", "arguments": {}})
        )
        assert_tool_error(reply, "Unknown tool")
        assert "resolve-library-id" in reply.message


class TestForgedTokens:
    async def test_an_unsigned_alg_none_token_is_refused(self, hostile: Hostile) -> None:
        token = _forged_token(hostile.admin_user_id, {"alg": "none", "typ": "JWT"}, b"")
        reply = await hostile.request("GET", SEARCH, key=token)
        assert_refused(reply, 401, "is not accepted")

    async def test_a_token_signed_with_another_key_is_refused(self, hostile: Hostile) -> None:
        token = _session_token(hostile.admin_user_id, "another-secret-" + "y" * 40)
        reply = await hostile.request("GET", "/api/v1/account/keys", key=token)
        assert_refused(reply, 401, "signature is not valid")

    async def test_an_expired_token_signed_with_the_real_key_is_refused(
        self, hostile: Hostile
    ) -> None:
        token = _session_token(hostile.admin_user_id, JWT_SECRET, expires_in=-60)
        reply = await hostile.request("GET", "/api/v1/account/keys", key=token)
        assert_refused(reply, 401, "expired")

    async def test_an_rs256_header_on_an_hs256_token_is_refused(self, hostile: Hostile) -> None:
        token = _forged_token(
            hostile.admin_user_id, {"alg": "RS256", "typ": "JWT"}, JWT_SECRET.encode()
        )
        reply = await hostile.request("GET", "/api/v1/account/keys", key=token)
        assert_refused(reply, 401, "'RS256' is not accepted")

    async def test_a_made_up_key_is_refused_with_what_to_send(self, hostile: Hostile) -> None:
        reply = await hostile.request("GET", SEARCH, key="tmcp_" + "A" * 40)
        assert_refused(reply, 401, "Authorization: Bearer")


class TestPrivileges:
    async def test_an_anonymous_caller_cannot_reach_admin(self, hostile: Hostile) -> None:
        reply = await hostile.request("GET", "/api/v1/admin/jobs")
        assert_refused(reply, 401, "API key")

    async def test_a_read_key_cannot_reach_admin(self, hostile: Hostile) -> None:
        reply = await hostile.request("GET", "/api/v1/admin/jobs", key=hostile.read_key)
        assert_refused(reply, 403, "admin")

    async def test_a_read_only_key_cannot_mint_an_admin_key(self, hostile: Hostile) -> None:
        before = await _key_ids(hostile)
        reply = await hostile.request(
            "POST", "/api/v1/account/keys", body={"scopes": ["admin"]}, key=hostile.read_key
        )
        assert_refused(reply, 403, "admin")
        assert await _key_ids(hostile) == before

    async def test_a_revoked_key_still_cached_by_the_gateway_cannot_mint_a_key(
        self, hostile: Hostile
    ) -> None:
        made = await hostile.auth.CreateApiKey(
            auth_pb2.CreateApiKeyRequest(
                user_id=hostile.admin_user_id, name="soon-revoked", scopes=["read"]
            ),
            timeout=10,
        )
        reply = await hostile.request("GET", "/api/v1/account/keys", key=made.secret)
        assert reply.status == 200, reply.body  # the gateway now holds it in its cache
        await hostile.auth.RevokeApiKey(
            auth_pb2.RevokeApiKeyRequest(user_id=hostile.admin_user_id, key_id=made.key.key_id),
            timeout=10,
        )
        before = await _key_ids(hostile)
        reply = await hostile.request(
            "POST", "/api/v1/account/keys", body={"name": "survivor"}, key=made.secret
        )
        assert_refused(reply, 401, "revoked")
        assert await _key_ids(hostile) == before


class TestOddHeaders:
    async def test_a_host_with_userinfo_does_not_pass_the_mcp_host_check(
        self, hostile: Hostile
    ) -> None:
        reply = await hostile.mcp(
            _rpc(method="tools/list"), headers={"Host": f"localhost:{hostile.port}@evil.example"}
        )
        assert_refused(reply, 400, "Invalid Host header")

    @pytest.mark.parametrize(
        "host", ["evil.example", "127.0.0.1.evil.example", "localhost:{port}@evil.example"]
    )
    async def test_rest_answers_only_for_its_own_host_names(
        self, hostile: Hostile, host: str
    ) -> None:
        reply = await hostile.request(
            "GET", SEARCH, headers={"Host": host.format(port=hostile.port)}
        )
        assert reply.status in (400, 421), reply.body
        assert "Invalid Host header" in reply.message

    async def test_a_foreign_host_is_misdirected_on_mcp(self, hostile: Hostile) -> None:
        reply = await hostile.mcp(_rpc(method="tools/list"), headers={"Host": "evil.example"})
        assert_refused(reply, 421, "Invalid Host header")

    async def test_a_foreign_origin_is_refused_on_mcp(self, hostile: Hostile) -> None:
        reply = await hostile.mcp(
            _rpc(method="tools/list"), headers={"Origin": "https://evil.example"}
        )
        assert_refused(reply, 403, "Origin not allowed")

    async def test_non_utf8_bytes_in_authorization_are_refused_without_a_crash(
        self, hostile: Hostile
    ) -> None:
        status, answer = await hostile.raw(
            b"GET " + SEARCH.encode() + b" HTTP/1.1\r\n"
            b"Host: 127.0.0.1\r\n"
            b"Authorization: Bearer tmcp_\xff\xfe\xc3(\r\n"
            b"Connection: close\r\n\r\n"
        )
        assert status in (400, 401), answer
        assert "API key" in answer or "Authorization" in answer, answer

    async def test_a_control_character_in_a_key_header_is_refused_and_the_key_not_logged(
        self, hostile: Hostile
    ) -> None:
        secret = f"tmcp_{uuid.uuid4().hex}"
        status, answer = await hostile.raw(
            b"GET " + SEARCH.encode() + b" HTTP/1.1\r\n"
            b"Host: 127.0.0.1\r\n"
            b"X-API-Key: " + secret.encode() + b"\x1b[2J\r\n"
            b"Connection: close\r\n\r\n"
        )
        assert status in (400, 401), answer
        assert secret not in answer
        for name, log in hostile.logs().items():
            assert secret not in log, f"{name} logged the key"
            assert secret[5:] not in log, f"{name} logged the key"
        hostile.assert_no_tracebacks()


class TestUnknownLibrary:
    async def test_rest_context_of_an_unknown_library_is_a_404_saying_how_to_find_ids(
        self, hostile: Hostile
    ) -> None:
        reply = await hostile.request("GET", "/api/v2/context?libraryId=/nope/nothing&query=x")
        assert_refused(reply, 404, "/api/v2/libs/search")

    async def test_a_library_id_without_its_slash_is_a_400(self, hostile: Hostile) -> None:
        reply = await hostile.request("GET", "/api/v2/context?libraryId=nope&query=x")
        assert_refused(reply, 400, "must look like '/org/project'")

    async def test_query_docs_of_an_unknown_library_is_a_tool_error(self, hostile: Hostile) -> None:
        reply = await hostile.call_tool(
            "query-docs", {"libraryId": "/nope/nothing", "query": "how do I"}
        )
        assert_tool_error(reply, "resolve-library-id")


# Lone UTF-16 surrogates: valid JSON escapes, but not Unicode text (issue 13 M8).
SURROGATE = b'"\\ud800"'


class TestLoneSurrogates:
    @pytest.mark.parametrize(
        "body",
        [
            b'{"jsonrpc":"2.0","id":' + SURROGATE + b',"method":"tools/list"}',
            b'{"jsonrpc":"2.0","id":1,"method":' + SURROGATE + b"}",
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":'
            + SURROGATE
            + b',"arguments":{}}}',
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":'
            b'"resolve-library-id","arguments":{"libraryName":' + SURROGATE + b',"query":"x"}}}',
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":'
            b'"resolve-library-id","arguments":{"libraryName":"react","query":'
            + SURROGATE
            + b"}}}",
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":'
            b'"query-docs","arguments":{"libraryId":' + SURROGATE + b',"query":"x"}}}',
        ],
        ids=["id", "method", "tool-name", "libraryName", "query", "libraryId"],
    )
    async def test_a_lone_surrogate_in_an_mcp_string_is_refused_as_not_unicode(
        self, hostile: Hostile, body: bytes
    ) -> None:
        reply = await hostile.mcp(body)
        assert reply.status < 500, reply.body
        assert "error" in reply.body or reply.body.get("result", {}).get("isError"), reply.body
        assert "surrogate" in reply.message, reply.message

    async def test_a_lone_surrogate_in_a_refresh_token_is_a_400(self, hostile: Hostile) -> None:
        reply = await hostile.request(
            "POST",
            "/auth/refresh",
            data=b'{"refreshToken":' + SURROGATE + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert_refused(reply, 400, "surrogate")


class TestRequestSize:
    async def test_a_900_kb_resolve_query_is_refused_with_the_limit(self, hostile: Hostile) -> None:
        reply = await hostile.call_tool(
            "resolve-library-id",
            {"libraryName": "react", "query": "hooks " * 150_000},
            key=hostile.read_key,
        )
        assert_tool_error(reply, "limit")

    async def test_a_900_kb_library_name_is_refused_with_the_limit(self, hostile: Hostile) -> None:
        reply = await hostile.call_tool(
            "resolve-library-id", {"libraryName": "r" * 900_000, "query": "x"}
        )
        assert_tool_error(reply, "limit")

    async def test_a_request_line_over_8_kb_is_refused_by_the_server(
        self, hostile: Hostile
    ) -> None:
        reply = await hostile.request(
            "GET", "/api/v2/libs/search?libraryName=react&query=" + "q" * 20_000
        )
        assert 400 <= reply.status < 500, reply.body
        hostile.assert_no_tracebacks()


class TestSlowClients:
    async def test_a_body_that_never_arrives_is_a_408_and_the_connection_closes(
        self, hostile: Hostile
    ) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", hostile.port)
        try:
            writer.write(
                b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n" + b'{"jsonrpc": "2.0", '
            )
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), timeout=BODY_SECONDS + 15)
        finally:
            writer.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
        assert b"did not arrive within" in answer

    async def test_a_request_head_that_never_ends_is_cut_off(self, hostile: Hostile) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", hostile.port)
        started = asyncio.get_running_loop().time()
        try:
            writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), timeout=KEEPALIVE_SECONDS + 15)
        finally:
            writer.close()
        assert b"200 OK" not in answer  # closed, not served
        assert asyncio.get_running_loop().time() - started < KEEPALIVE_SECONDS + 15


async def _key_ids(hostile: Hostile) -> list[str]:
    reply = await hostile.auth.ListApiKeys(
        auth_pb2.ListApiKeysRequest(user_id=hostile.admin_user_id), timeout=10
    )
    return sorted(key.key_id for key in reply.keys)


def _claims(user_id: str, expires_in: int = 600) -> dict[str, object]:
    now = int(time.time())
    return {
        "sub": user_id,
        "iss": "twinmcp-auth",
        "aud": "twinmcp",
        "iat": now - 120,
        "exp": now + expires_in,
        "jti": uuid.uuid4().hex,
        "typ": "access",
    }


def _session_token(user_id: str, secret: str, *, expires_in: int = 600) -> str:
    return jwt.encode(_claims(user_id, expires_in), secret, algorithm="HS256")


def _forged_token(user_id: str, header: dict[str, str], hmac_key: bytes) -> str:
    """A token with any header: signed HS256 with `hmac_key`, or unsigned when it is empty
    (the alg-confusion and alg-none tricks PyJWT itself refuses to produce)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signed = f"{part(json.dumps(header).encode())}.{part(json.dumps(_claims(user_id)).encode())}"
    signature = hmac.new(hmac_key, signed.encode(), hashlib.sha256).digest() if hmac_key else b""
    return f"{signed}.{part(signature)}"


class TestMalformedRestInput:
    @pytest.mark.parametrize(
        ("path", "fragment"),
        [
            ("/api/v2/context?libraryId=/nope/x&query=q&tokens=1e999", "tokens"),
            ("/api/v2/context?libraryId=/nope/x&query=q&tokens=" + "9" * 100, "tokens"),
            ("/api/v2/context?libraryId=/nope/x&query=q&type=xml", "type"),
            ("/api/v2/context?libraryId=/../../etc/passwd&query=q", "library"),
            ("/api/v2/libs/search", "libraryName"),
            ("/api/v2/libs/search?libraryName=" + "n" * 600 + "&query=q", "limit"),
        ],
        ids=["tokens-float", "tokens-100-digits", "type", "dotdot-id", "no-name", "long-name"],
    )
    async def test_bad_query_parameters_are_400s_or_404s_saying_what(
        self, hostile: Hostile, path: str, fragment: str
    ) -> None:
        reply = await hostile.request("GET", path)
        assert reply.status in (400, 404), reply.body
        assert fragment.lower() in reply.message.lower(), reply.message

    @pytest.mark.parametrize(
        ("data", "fragment"),
        [
            (b"not json", "JSON object"),
            (b"[1, 2]", "JSON object"),
            (b'{"source": 7}', "'source' must be a string"),
            (b'{"source": ""}', "'source' is required"),
            (b'{"source": "https://example.org/", "maxPages": "many"}', "maxPages"),
            (b'{"source": "https://example.org/", "makeDefault": "yes"}', "makeDefault"),
            (b'{"source": "javascript:alert(1)"}', "scheme"),
            (b'{"source": "https://example.org/llms.txt", "libraryId": "/../x"}', "library id"),
        ],
        ids=["not-json", "array", "source-number", "source-empty", "pages-text", "default-text",
             "javascript", "library-dotdot"],
    )  # fmt: skip
    async def test_bad_admin_bodies_are_400s_saying_what(
        self, hostile: Hostile, data: bytes, fragment: str
    ) -> None:
        reply = await hostile.request(
            "POST",
            "/api/v1/admin/sources",
            data=data,
            key=hostile.admin_key,
            headers={"Content-Type": "application/json"},
        )
        assert_refused(reply, 400, fragment)

    @pytest.mark.parametrize(
        ("path", "status"),
        [
            ("/api/v1/admin/jobs?limit=abc", 400),
            ("/api/v1/admin/jobs?state=bogus", 400),
            ("/api/v1/admin/jobs/0123456789abcdef0123456789abcdef", 404),
            ("/api/v1/admin/jobs/..%2F..%2Fetc%2Fpasswd", 404),
        ],
    )
    async def test_bad_admin_queries_are_clear_4xx(
        self, hostile: Hostile, path: str, status: int
    ) -> None:
        reply = await hostile.request("GET", path, key=hostile.admin_key)
        assert reply.status == status, reply.body
        assert reply.message

    @pytest.mark.parametrize(
        ("body", "status", "fragment"),
        [
            ({"scopes": "admin"}, 400, "list of strings"),
            ({"scopes": ["superuser"]}, 400, "superuser"),
            ({"name": "n" * 10_000}, 400, "limit"),
        ],
        ids=["scopes-string", "unknown-scope", "long-name"],
    )
    async def test_bad_key_requests_are_refused_saying_what(
        self, hostile: Hostile, body: dict[str, object], status: int, fragment: str
    ) -> None:
        before = await _key_ids(hostile)
        reply = await hostile.request(
            "POST", "/api/v1/account/keys", body=body, key=hostile.admin_key
        )
        assert_refused(reply, status, fragment)
        assert await _key_ids(hostile) == before

    async def test_revoking_a_key_that_is_not_yours_is_a_404(self, hostile: Hostile) -> None:
        reply = await hostile.request(
            "DELETE", "/api/v1/account/keys/no-such-key", key=hostile.admin_key
        )
        assert reply.status == 404, reply.body


class TestSearchAcrossLibraries:
    @pytest.mark.parametrize(
        ("params", "fragment"),
        [
            ({"query": "q", "libraries": "a,b,c,d,e"}, "the limit is 4"),
            ({"query": "q" * 5000}, "limit"),
            ({"query": "q", "libraries": "/x/" + "y" * 600}, "limit"),
            ({"query": "q", "type": "xml"}, "type"),
            ({}, "query"),
        ],
        ids=["five-libraries", "long-query", "long-library", "type", "no-query"],
    )
    async def test_bad_v3_searches_are_400s_saying_what(
        self, hostile: Hostile, params: dict[str, str], fragment: str
    ) -> None:
        query = "&".join(f"{name}={value}" for name, value in params.items())
        reply = await hostile.request("GET", f"/api/v3/search?{query}")
        assert_refused(reply, 400, fragment)

    async def test_search_docs_with_too_many_libraries_is_a_tool_error(
        self, hostile: Hostile
    ) -> None:
        reply = await hostile.call_tool(
            "search-docs", {"query": "q", "libraries": ["/a/a", "/b/b", "/c/c", "/d/d", "/e/e"]}
        )
        assert_tool_error(reply, "the limit is 4")

    async def test_a_lone_surrogate_in_search_docs_is_refused(self, hostile: Hostile) -> None:
        reply = await hostile.mcp(
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search-docs",'
            b'"arguments":{"query":' + SURROGATE + b"}}}"
        )
        assert_tool_error(reply, "surrogate")


class TestMcpEnvelope:
    @pytest.mark.parametrize(
        ("message", "fragment"),
        [
            (_rpc(method="tools/call", params="x"), "params must be an object"),
            (
                _rpc(method="tools/call", params={"name": "query-docs", "arguments": [1]}),
                "arguments must be an object",
            ),
            (
                _rpc(method="tools/call", params={"name": "query-docs", "arguments": {}}),
                "Missing '",
            ),
            (_rpc(method="no/such/method"), "Method not found"),
            ({"jsonrpc": "1.0", "id": 1, "method": "tools/list"}, "Invalid request"),
        ],
        ids=["params-string", "arguments-list", "arguments-missing", "method", "version"],
    )
    async def test_a_malformed_envelope_is_a_json_rpc_error_saying_what(
        self, hostile: Hostile, message: dict[str, object], fragment: str
    ) -> None:
        reply = await hostile.mcp(message)
        assert_tool_error(reply, fragment)

    async def test_get_on_mcp_is_a_405(self, hostile: Hostile) -> None:
        reply = await hostile.request("GET", "/mcp", headers={"Accept": "text/event-stream"})
        assert reply.status == 405, reply.body


class TestDashboard:
    async def test_a_form_without_this_sessions_csrf_token_is_refused(
        self, hostile: Hostile
    ) -> None:
        async with _browser() as browser:
            await _sign_in(hostile, browser, hostile.admin_key)
            before = await hostile.request("GET", "/api/v1/admin/jobs", key=hostile.admin_key)
            for token in ("", "forged-token"):
                async with browser.post(
                    f"{hostile.url}/dashboard/sources",
                    data={"csrf": token, "kind": "website", "source": "https://example.org/"},
                    allow_redirects=False,
                ) as reply:
                    assert reply.status == 403, await reply.text()
                    assert "security token" in await reply.text()
            after = await hostile.request("GET", "/api/v1/admin/jobs", key=hostile.admin_key)
            assert after.body == before.body  # nothing was submitted

    @pytest.mark.parametrize(
        "cookie", ["garbage", "A" * 10_000, "eyJ" + "x" * 200, "\u00e9t\u00e9"]
    )
    async def test_a_forged_session_cookie_is_a_signed_out_visitor(
        self, hostile: Hostile, cookie: str
    ) -> None:
        async with _browser() as browser:
            browser.cookie_jar.update_cookies({"twinmcp_session": cookie})
            async with browser.get(f"{hostile.url}/dashboard", allow_redirects=False) as reply:
                assert reply.status == 303, await reply.text()
                assert reply.headers["Location"].startswith("/dashboard/sign-in")

    async def test_a_read_key_session_cannot_open_admin_pages(self, hostile: Hostile) -> None:
        async with _browser() as browser:
            await _sign_in(hostile, browser, hostile.read_key)
            async with browser.get(f"{hostile.url}/dashboard/jobs") as reply:
                assert reply.status == 403
                assert "admin" in await reply.text()

    @pytest.mark.parametrize(
        "target",
        [
            "https://evil.example/",
            "//evil.example/x",
            "/dashboard\\@evil.example",
            "javascript:1",
            "/dashboard\r\nSet-Cookie: planted=1",
            "/dashboard\x00",
        ],
    )
    async def test_sign_in_never_redirects_off_the_dashboard(
        self, hostile: Hostile, target: str
    ) -> None:
        async with _browser() as browser:
            location = await _sign_in(hostile, browser, hostile.admin_key, next_path=target)
        assert location == "/dashboard"

    async def test_markup_in_a_query_parameter_comes_back_escaped(self, hostile: Hostile) -> None:
        async with (
            _browser() as browser,
            browser.get(
                f"{hostile.url}/dashboard/sign-in",
                params={"next": '/dashboard"><script>alert(1)</script>'},
            ) as reply,
        ):
            page = await reply.text()
        assert reply.status == 200
        assert "<script>alert(1)</script>" not in page
        assert "Content-Security-Policy" in reply.headers


def _browser() -> aiohttp.ClientSession:
    # unsafe: keep cookies of an IP-address host (127.0.0.1), as a browser does.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _sign_in(
    hostile: Hostile, browser: aiohttp.ClientSession, key: str, next_path: str = ""
) -> str:
    """Signs `browser` in with `key` through the form; returns where sign-in sent it."""
    async with browser.get(f"{hostile.url}/dashboard/sign-in") as form:
        match = re.search(r'name="csrf" value="([^"]+)"', await form.text())
    assert match, "the sign-in form carries no CSRF token"
    async with browser.post(
        f"{hostile.url}/dashboard/sign-in",
        data={"csrf": match.group(1), "api_key": key, "next": next_path},
        allow_redirects=False,
    ) as reply:
        assert reply.status == 303, await reply.text()
        return reply.headers["Location"]


class TestProjectFiles:
    @pytest.mark.parametrize(
        "files",
        [
            # Found by this suite, not by issue 13's probe: the parsers recurse per nesting level.
            pytest.param({"package.json": "[" * 100_000}, id="deep-json"),
            pytest.param({"package-lock.json": '{"packages": ' * 50_000}, id="deep-lock"),
            pytest.param({"pyproject.toml": "[[[[ not toml"}, id="bad-toml"),
            pytest.param({"pyproject.toml": "a = " + "[" * 50_000}, id="deep-toml"),
            pytest.param({"../../etc/passwd": "root:x:0:0"}, id="climbing-path"),
            pytest.param({"requirements.txt": "\ud800"}, id="surrogate"),
            pytest.param({f"requirements-{n}.txt": "flask==3.0.0" for n in range(51)}, id="51"),
        ],
    )
    async def test_hostile_project_files_are_a_400_saying_what(
        self, hostile: Hostile, files: dict[str, str]
    ) -> None:
        reply = await hostile.request(
            "POST",
            "/api/v1/admin/projects",
            body={"name": "hostile", "files": files},
            key=hostile.admin_key,
        )
        assert reply.status == 400, reply.body
        assert reply.message
        hostile.assert_no_tracebacks()
