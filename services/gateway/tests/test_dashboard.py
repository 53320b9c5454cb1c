"""The dashboard over the fake peers: sign-in, sessions, CSRF, admin pages, keys, playground."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from twinmcp.auth.v1 import auth_pb2
from twinmcp.gateway.dashboard.charts import usage_chart
from twinmcp.gateway.dashboard.sessions import COOKIE, Session, SessionCodec
from twinmcp.gateway.dashboard.views import DASHBOARD
from twinmcp.gateway.state import GATEWAY
from yarl import URL

Stack = Any
FAKE_SECRETS = ("read-key", "admin-key", "service-key")
PAGES = [
    "/dashboard",
    "/dashboard/libraries",
    "/dashboard/libraries/fastapi/fastapi",
    "/dashboard/jobs",
    "/dashboard/sources",
    "/dashboard/users",
    "/dashboard/projects",
]
FORMS = [
    "/dashboard/keys",
    "/dashboard/keys/k1/revoke",
    "/dashboard/sources",
    "/dashboard/jobs/job-1/cancel",
    "/dashboard/refresh",
    "/dashboard/projects",
    "/dashboard/projects/ingest",
    "/dashboard/sign-out",
]
# A real project: its pyproject declares three packages, its uv.lock locks two of them.
PYPROJECT = """[project]
name = "shop"
version = "0.1.0"
dependencies = ["fastapi>=0.100", "pydantic>=2", "httpx"]
"""
UV_LOCK = """version = 1
requires-python = ">=3.11"

[[package]]
name = "fastapi"
version = "0.110.0"
dependencies = [{ name = "pydantic" }]

[[package]]
name = "pydantic"
version = "2.6.0"

[[package]]
name = "shop"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "fastapi" }, { name = "pydantic" }]
"""


class Browser:
    """A cookie-keeping client that does not follow redirects, as a test can then see them."""

    def __init__(self, stack: Stack, http: aiohttp.ClientSession) -> None:
        self.stack = stack
        self.http = http
        self.page = ""

    async def get(self, path: str) -> tuple[int, dict[str, str], str]:
        async with self.http.get(f"{self.stack.url}{path}", allow_redirects=False) as reply:
            self.page = await reply.text()
            return reply.status, dict(reply.headers), self.page

    async def post(
        self,
        path: str,
        form: dict[str, Any],
        *,
        with_csrf: bool = True,
        files: dict[str, bytes] | None = None,
    ) -> tuple[int, dict[str, str], str]:
        """Sends `form`, and `files` (file name to content) as a browser uploads them."""
        data = aiohttp.FormData()
        if with_csrf:
            data.add_field("csrf", self.csrf())
        for name, value in form.items():
            for item in value if isinstance(value, list) else [value]:
                data.add_field(name, item)
        for filename, content in (files or {}).items():
            data.add_field(
                "files", content, filename=filename, content_type="application/octet-stream"
            )
        async with self.http.post(
            f"{self.stack.url}{path}", data=data, allow_redirects=False
        ) as reply:
            self.page = await reply.text()
            return reply.status, dict(reply.headers), self.page

    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]*)"', self.page)
        return found[1] if found else ""

    async def sign_in(self, key: str) -> tuple[int, dict[str, str], str]:
        await self.get("/dashboard/sign-in")
        return await self.post("/dashboard/sign-in", {"api_key": key})


async def _browser(stack: Stack) -> AsyncIterator[Browser]:
    # unsafe: the gateway is reached by IP address, whose cookies aiohttp drops by default.
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        yield Browser(stack, http)


@pytest.fixture
async def browser(stack: Stack) -> AsyncIterator[Browser]:
    # The fake names its keys after their secrets; real keys have names their owners chose.
    for key in stack.auth.api_keys.values():
        key.name = f"key {key.key_id}"
    async for opened in _browser(stack):
        yield opened


@pytest.fixture
async def other_browser(stack: Stack) -> AsyncIterator[Browser]:
    async for opened in _browser(stack):
        yield opened


async def test_every_page_sends_the_unauthenticated_to_sign_in(browser: Browser) -> None:
    for path in PAGES:
        status, headers, _ = await browser.get(path)
        assert status == 303, path
        assert headers["Location"].startswith("/dashboard/sign-in?next=/dashboard"), path


async def test_every_form_refuses_the_unauthenticated_and_does_nothing(
    stack: Stack, browser: Browser
) -> None:
    keys_before = len(stack.auth.api_keys)
    for path in FORMS:
        status, headers, _ = await browser.post(
            path, {"name": "x", "source": "https://github.com/o/r", "kind": "github"}
        )
        assert (status, headers["Location"]) == (303, "/dashboard/sign-in"), path
    assert len(stack.auth.api_keys) == keys_before
    assert not stack.auth.revoked
    assert not stack.ingest.jobs


async def test_a_reader_is_refused_the_admin_pages_and_forms(
    stack: Stack, browser: Browser
) -> None:
    status, _, _ = await browser.sign_in("read-key")
    assert status == 303
    for path in (
        "/dashboard/jobs",
        "/dashboard/sources",
        "/dashboard/users",
        "/dashboard/projects",
    ):
        status, _, page = await browser.get(path)
        assert status == 403, path
        assert "Administrators only" in page
    await browser.get("/dashboard")
    for path in (
        "/dashboard/sources",
        "/dashboard/refresh",
        "/dashboard/jobs/job-1/cancel",
        "/dashboard/projects",
        "/dashboard/projects/ingest",
    ):
        form = {"kind": "github", "source": "pypi:requests==2.32.3", "libraryId": "/o/r"}
        status, _, page = await browser.post(
            path, {**form, "name": "shop"}, files={"uv.lock": UV_LOCK.encode()}
        )
        assert status == 403, path
        assert "Administrators only" in page, path
    assert not stack.ingest.jobs
    _, _, page = await browser.get("/dashboard")
    assert "/dashboard/jobs" not in page  # no admin links for a reader


async def test_a_form_without_the_session_csrf_token_is_refused(
    stack: Stack, browser: Browser, other_browser: Browser
) -> None:
    await browser.sign_in("admin-key")
    keys_before = len(stack.auth.api_keys)
    await browser.get("/dashboard")
    status, _, page = await browser.post("/dashboard/keys", {"name": "x"}, with_csrf=False)
    assert status == 403
    assert "Form refused" in page
    # A token of another browser's session is no better than none.
    await other_browser.sign_in("read-key")
    await other_browser.get("/dashboard")
    stolen = other_browser.csrf()
    status, _, _ = await browser.post(
        "/dashboard/keys", {"name": "x", "csrf": stolen}, with_csrf=False
    )
    assert status == 403
    assert len(stack.auth.api_keys) == keys_before


async def test_sign_in_without_the_form_token_is_refused(other_browser: Browser) -> None:
    status, _, page = await other_browser.post(
        "/dashboard/sign-in", {"api_key": "admin-key"}, with_csrf=False
    )
    assert status == 403
    assert "expired" in page
    status, _, _ = await other_browser.get("/dashboard")
    assert status == 303


async def test_sign_in_sets_a_sealed_http_only_lax_cookie_and_never_shows_the_key(
    browser: Browser,
) -> None:
    status, headers, _ = await browser.sign_in("admin-key")
    assert (status, headers["Location"]) == (303, "/dashboard")
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback: a Secure cookie would be dropped
    assert "admin-key" not in cookie
    for path in PAGES:
        status, headers, page = await browser.get(path)
        assert status == 200, path
        assert not any(secret in page for secret in FAKE_SECRETS), path
        assert headers["Cache-Control"] == "no-store"


async def test_behind_https_the_cookie_is_secure(open_stack: Any, fake_search: Any) -> None:
    async with open_stack(fake_search, {"api_base_url": "https://docs.example.com"}) as stack:
        async for browser in _browser(stack):
            _, headers, _ = await browser.sign_in("read-key")
            assert "Secure" in headers["Set-Cookie"]


async def test_a_bad_key_or_a_service_key_does_not_sign_in(browser: Browser) -> None:
    status, _, page = await browser.sign_in("no-such-key")
    assert status == 401
    assert "not valid or has been revoked" in page
    assert "no-such-key" not in page
    status, _, page = await browser.post("/dashboard/sign-in", {"api_key": "service-key"})
    assert status == 403
    assert "belongs to no user" in page


async def test_a_tampered_or_foreign_cookie_is_no_session(stack: Stack, browser: Browser) -> None:
    await browser.sign_in("admin-key")
    sealed = SessionCodec("another gateway's secret").seal(Session(credential="admin-key"))
    browser.http.cookie_jar.clear()
    browser.http.cookie_jar.update_cookies({COOKIE: sealed}, URL(stack.url))
    assert len(browser.http.cookie_jar) == 1
    status, _, _ = await browser.get("/dashboard")
    assert status == 303


async def test_sign_in_goes_back_only_to_a_dashboard_page(browser: Browser) -> None:
    _, _, page = await browser.get("/dashboard/sign-in?next=https%3A%2F%2Fevil.example%2F")
    assert 'name="next" value="/dashboard"' in page
    for target, expected in (
        ("https://evil.example/", "/dashboard"),
        ("//evil.example/dashboard", "/dashboard"),
        ("/dashboard\r\nSet-Cookie: x=1", "/dashboard"),
        ("/dashboard/libraries?q=x", "/dashboard/libraries?q=x"),
    ):
        await browser.get("/dashboard/sign-in")
        _, headers, _ = await browser.post(
            "/dashboard/sign-in", {"api_key": "read-key", "next": target}
        )
        assert headers["Location"] == expected
        await browser.get("/dashboard")
        status, _, _ = await browser.post("/dashboard/sign-out", {})
        assert status == 303


async def test_a_new_key_secret_is_shown_once_with_configs_then_never_again(
    stack: Stack, browser: Browser
) -> None:
    await browser.sign_in("read-key")
    await browser.get("/dashboard")
    status, _, page = await browser.post("/dashboard/keys", {"name": "laptop", "scopes": "read"})
    assert status == 200
    secret = next(s for s, p in stack.auth.keys.items() if p.key_id == _newest(stack))
    assert f'value="{secret}"' in page
    text = html.unescape(page)
    assert f'--header "Authorization: Bearer {secret}"' in text  # Claude Code
    assert f'"Authorization": "Bearer {secret}"' in text  # Cursor and VS Code
    assert "http://127.0.0.1:3000/mcp" in text or f"{stack.url}/mcp" in text
    assert not any(s in page for s in FAKE_SECRETS)
    _, _, page = await browser.get("/dashboard")
    assert secret not in page
    assert "laptop" in page
    assert "YOUR_API_KEY" in page


async def test_a_scope_beyond_the_signed_in_key_shows_auths_refusal(
    stack: Stack, browser: Browser
) -> None:
    await browser.sign_in("read-key")
    await browser.get("/dashboard")
    keys_before = len(stack.auth.api_keys)
    status, _, page = await browser.post(
        "/dashboard/keys", {"name": "sneaky", "scopes": ["read", "admin"]}
    )
    assert status == 403
    assert "lacks the scopes admin" in html.unescape(page)
    assert len(stack.auth.api_keys) == keys_before


async def test_a_key_without_a_name_is_a_clear_error(browser: Browser) -> None:
    await browser.sign_in("read-key")
    await browser.get("/dashboard")
    status, _, page = await browser.post("/dashboard/keys", {"name": "  "})
    assert status == 400
    assert "give the key a name" in page


async def test_revoking_a_key_and_revoking_ones_own_ends_the_session(
    stack: Stack, browser: Browser
) -> None:
    await browser.sign_in("read-key")
    await browser.get("/dashboard")
    await browser.post("/dashboard/keys", {"name": "spare", "scopes": "read"})
    spare = _newest(stack)
    status, headers, _ = await browser.post(f"/dashboard/keys/{spare}/revoke", {})
    assert (status, headers["Location"]) == (303, f"/dashboard?revoked={spare}")
    assert spare in stack.auth.revoked
    _, _, page = await browser.get(headers["Location"])
    assert f"Key {spare} revoked" in page
    own = stack.auth.keys["read-key"].key_id
    status, headers, _ = await browser.post(f"/dashboard/keys/{own}/revoke", {})
    assert (status, headers["Location"]) == (303, "/dashboard/sign-in")
    status, _, _ = await browser.get("/dashboard")
    assert status == 303


async def test_a_revoked_session_key_ends_the_session_at_once(
    stack: Stack, browser: Browser, other_browser: Browser
) -> None:
    await browser.sign_in("read-key")
    await other_browser.sign_in("read-key")
    await other_browser.get("/dashboard")
    await other_browser.post(f"/dashboard/keys/{stack.auth.keys['read-key'].key_id}/revoke", {})
    status, headers, _ = await browser.get("/dashboard")
    assert status == 303
    assert headers["Location"].startswith("/dashboard/sign-in?ended=1")
    _, _, page = await browser.get(headers["Location"])
    assert "Your session ended" in page


async def test_an_admin_key_revoked_at_auth_loses_the_admin_pages_despite_the_cache(
    stack: Stack, browser: Browser
) -> None:
    stack.auth.cache_ttl_seconds = 60  # a plain page would go on trusting the cached answer
    await browser.sign_in("admin-key")
    assert (await browser.get("/dashboard/users"))[0] == 200
    stack.auth.revoked.add(stack.auth.keys["admin-key"].key_id)  # at auth, not via the gateway

    status, headers, _ = await browser.get("/dashboard/users")

    assert status == 303
    assert headers["Location"].startswith("/dashboard/sign-in?ended=1")


async def test_an_expired_github_session_is_refreshed_and_its_open_form_still_works(
    stack: Stack, browser: Browser
) -> None:
    stack.auth.add_key("access", "u1", ["read"], auth_pb2.TIER_FREE)
    stack.auth.add_key("access2", "u1", ["read"], auth_pb2.TIER_FREE)
    sealed = stack.gateway.runner.app[DASHBOARD].codec.seal(
        Session(credential="access", refresh_token="refresh")
    )
    browser.http.cookie_jar.update_cookies({COOKIE: sealed}, URL(stack.url))
    _, _, page = await browser.get("/dashboard")
    assert "Your account" in page
    stack.auth.revoked.add(stack.auth.keys["access"].key_id)  # the access token expired
    stack.gateway.runner.app[GATEWAY].access.forget_key(stack.auth.keys["access"].key_id)
    status, _, page = await browser.post("/dashboard/keys", {"name": "after-refresh"})
    assert status == 200, page
    assert "after-refresh" in page


async def test_usage_is_drawn_as_one_bar_per_day_against_the_daily_limit() -> None:
    today = dt.date(2026, 3, 10)
    days = [
        auth_pb2.UsageDay(date="2026-03-10", key_id="k1", requests=30),
        auth_pb2.UsageDay(date="2026-03-10", key_id="k2", requests=10),
        auth_pb2.UsageDay(date="2026-03-09", key_id="k1", requests=20),
        auth_pb2.UsageDay(date="2026-02-01", key_id="k1", requests=999),  # out of the span
    ]
    chart = usage_chart(days, today, 14, day_limit=100)
    assert len(chart.bars) == 14
    assert [b.date for b in chart.bars[-2:]] == ["2026-03-09", "2026-03-10"]
    assert [b.requests for b in chart.bars[-2:]] == [20, 40]
    assert chart.total == 60
    assert chart.bars[-1].height == pytest.approx(2 * chart.bars[-2].height)
    assert chart.limit_y is not None and chart.limit_y < chart.bars[-1].y  # limit above usage
    over = usage_chart([auth_pb2.UsageDay(date="2026-03-10", requests=900)], today, 14, 100)
    assert over.limit_y is not None and over.limit_y > over.bars[-1].y


async def test_the_account_page_draws_the_usage_chart_and_counts_by_key(
    stack: Stack, browser: Browser
) -> None:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    own = stack.auth.keys["read-key"].key_id
    stack.auth.usage = [
        auth_pb2.UsageDay(date=today, key_id=own, requests=7),
        auth_pb2.UsageDay(date=today, key_id="gone", requests=2),
    ]
    await browser.sign_in("read-key")
    _, _, page = await browser.get("/dashboard")
    assert page.count('class="bar"') == 14
    assert "9 requests in this period" in page
    assert "100 a minute" in page
    by_key = re.search(r'<table id="usage-by-key".*?</table>', page, re.S)
    assert by_key is not None
    assert re.findall(r'<td class="num">(\d+)</td>', by_key[0]) == ["7", "2"]
    assert f"key {own}" in by_key[0] and "(no key)" in by_key[0]


async def test_a_parameter_over_its_cap_is_a_400_page_not_a_500(browser: Browser) -> None:
    await browser.sign_in("read-key")
    for path in (
        f"/dashboard?key={'k' * 5000}",
        f"/dashboard/libraries?q={'q' * 5000}",
        "/dashboard/libraries/fastapi/fastapi?query=cors&version=" + "v" * 600,
    ):
        status, headers, page = await browser.get(path)
        assert status == 400, path
        assert headers["Content-Type"].startswith("text/html"), path
        assert "characters" in page, path


async def test_libraries_are_listed_and_searchable(browser: Browser) -> None:
    await browser.sign_in("read-key")
    status, _, page = await browser.get("/dashboard/libraries")
    assert status == 200
    assert '<a href="/dashboard/libraries/fastapi/fastapi">FastAPI</a>' in page
    assert "0.110.0, 0.100.0" in page
    assert "https://github.com/fastapi/fastapi" in page
    _, _, page = await browser.get("/dashboard/libraries?q=fast+api")
    assert "1 library matching" in html.unescape(page)
    _, _, page = await browser.get("/dashboard/libraries?q=django")
    assert "No library matches" in page


async def test_the_playground_shows_exactly_what_query_docs_returns(
    stack: Stack, browser: Browser
) -> None:
    await browser.sign_in("read-key")
    status, _, page = await browser.get(
        "/dashboard/libraries/fastapi/fastapi?query=cors&version=0.110.0&tokens=1000"
    )
    assert status == 200
    shown = html.unescape(re.search(r'<pre id="answer"[^>]*>(.*?)</pre>', page, re.S)[1])
    _, _, body = await stack.mcp(
        stack.call(
            "query-docs", {"libraryId": "/fastapi/fastapi/0.110.0", "query": "cors", "tokens": 1000}
        )
    )
    assert shown == body["result"]["content"][0]["text"]
    facts = re.search(r'<dl class="facts" id="answer-facts">(.*?)</dl>', page, re.S)[1]
    assert "<dd>0.110.0</dd>" in facts
    assert " of 1,000</dd>" in facts
    assert " ms</dd>" in facts
    assert "Use async def for I/O-bound endpoints." in page  # the rules


async def test_the_playground_shows_the_tools_error_for_a_missing_version(
    stack: Stack, browser: Browser
) -> None:
    await browser.sign_in("read-key")
    _, _, page = await browser.get("/dashboard/libraries/fastapi/fastapi?query=cors&version=9.9")
    text = html.unescape(page)
    assert "Version '9.9' of /fastapi/fastapi is not indexed" in text
    assert "isError" in text


async def test_the_playground_refuses_a_token_budget_with_the_tools_own_message(
    stack: Stack, browser: Browser
) -> None:
    await browser.sign_in("read-key")
    status, _, page = await browser.get(
        "/dashboard/libraries/fastapi/fastapi?query=cors&tokens=abc"
    )
    _, _, body = await stack.mcp(
        stack.call(
            "query-docs", {"libraryId": "/fastapi/fastapi", "query": "cors", "tokens": "abc"}
        )
    )
    refusal = body["result"]["content"][0]["text"]
    assert body["result"]["isError"] is True
    assert status == 400
    assert refusal in html.unescape(page)


async def test_an_unknown_library_page_is_a_404_page(browser: Browser) -> None:
    await browser.sign_in("read-key")
    status, headers, page = await browser.get("/dashboard/libraries/nobody/nothing")
    assert status == 404
    assert headers["Content-Type"].startswith("text/html")
    assert "not indexed" in page


async def test_an_admin_adds_sources_of_any_kind_and_sees_the_jobs(
    stack: Stack, browser: Browser
) -> None:
    await browser.sign_in("admin-key")
    _, _, page = await browser.get("/dashboard/sources")
    assert 'http-equiv="refresh"' not in page  # typing is never interrupted by a reload
    status, headers, _ = await browser.post(
        "/dashboard/sources",
        {"kind": "pypi", "source": "requests==2.32.3", "version": "", "makeDefault": "on"},
    )
    assert status == 303
    assert headers["Location"].startswith("/dashboard/jobs?submitted=job-")
    job = next(iter(stack.ingest.jobs.values()))
    assert job.source == "pypi:requests==2.32.3"
    _, _, page = await browser.get(headers["Location"])
    assert f'data-job-id="{job.job_id}" data-state="queued"' in page
    assert 'http-equiv="refresh"' in page  # a queued job: the page follows it
    await browser.get("/dashboard/sources")
    status, _, page = await browser.post(
        "/dashboard/sources", {"kind": "git", "source": "ftp://example.com/r"}
    )
    assert status == 400
    assert "source must be a folder, git or https URL" in page
    assert 'value="ftp://example.com/r"' in page  # the form keeps what was typed
    status, _, page = await browser.post(
        "/dashboard/sources", {"kind": "website", "source": "https://x.dev", "maxPages": "-1"}
    )
    assert status == 400
    assert "'maxPages' must be a whole number" in html.unescape(page)


async def test_an_admin_cancels_a_job_and_refreshes_a_library(
    stack: Stack, browser: Browser
) -> None:
    await browser.sign_in("admin-key")
    await browser.get("/dashboard/libraries/fastapi/fastapi")
    status, headers, _ = await browser.post("/dashboard/refresh", {"libraryId": "/fastapi/fastapi"})
    assert status == 303
    job_id = headers["Location"].rsplit("=", 1)[1]
    await browser.get("/dashboard/jobs")
    status, _, _ = await browser.post(f"/dashboard/jobs/{job_id}/cancel", {})
    assert status == 303
    _, _, page = await browser.get("/dashboard/jobs")
    assert f'data-job-id="{job_id}" data-state="cancelled"' in page
    assert 'http-equiv="refresh"' not in page


async def test_an_admin_sees_every_user_and_their_tiers_and_finds_one(
    stack: Stack, browser: Browser
) -> None:
    await browser.sign_in("admin-key")
    status, _, page = await browser.get("/dashboard/users")
    assert status == 200
    rows = re.findall(r"<tr><td>([^<]*)</td><td><code>([^<]*)</code>.*?<td>(\w+)</td>", page)
    assert [(login, user_id) for login, user_id, _ in rows] == [("u1", "u1"), ("u2", "u2")]
    assert "free" in {tier for _, _, tier in rows}
    assert "Next page" not in page
    status, _, page = await browser.get("/dashboard/users?user=u1")
    assert status == 200
    assert "<code>u1</code>" in page and "<code>u2</code>" not in page
    status, _, page = await browser.get("/dashboard/users?user=nobody")
    assert status == 404
    assert "no user nobody" in page


async def test_users_come_a_page_at_a_time(stack: Stack, browser: Browser) -> None:
    for n in range(120):
        stack.auth.add_key(f"user-key-{n}", f"user{n:03d}", ["read"], auth_pb2.TIER_FREE)
    await browser.sign_in("admin-key")
    _, _, page = await browser.get("/dashboard/users")
    assert page.count("<tr><td>") == 100
    after = re.search(r'href="/dashboard/users\?after=([^"]+)">Next page', page)
    assert after is not None
    _, _, second = await browser.get(f"/dashboard/users?after={after[1]}")
    assert second.count("<tr><td>") == 22  # 120 + u1 + u2, less the first 100
    assert "Next page" not in second


async def test_pages_carry_a_strict_csp_and_hold_no_inline_script_or_style(
    browser: Browser,
) -> None:
    await browser.sign_in("admin-key")
    for path in PAGES:
        _, headers, page = await browser.get(path)
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert headers["X-Frame-Options"] == "DENY"
        assert re.findall(r"<script(?![^>]*\bsrc=)", page) == [], path
        assert " style=" not in page and "<style" not in page, path
        labelled = set(re.findall(r'<label for="([^"]+)"', page))
        controls = re.findall(
            r'<(?:input|select)(?![^>]*type="(?:hidden|checkbox)")[^>]*id="([^"]+)"', page
        )
        assert set(controls) <= labelled, path


async def test_github_sign_in_is_bound_to_the_browser_that_started_it(
    open_stack: Any, fake_search: Any
) -> None:
    async with open_stack(fake_search, {"is_github_sign_in": True}) as stack:
        stack.auth.add_key("access", "u1", ["read"], auth_pb2.TIER_FREE)
        async for browser in _browser(stack):
            _, _, page = await browser.get("/dashboard/sign-in")
            assert 'href="/dashboard/sign-in/github"' in page
            status, headers, _ = await browser.get("/dashboard/sign-in/github")
            assert status == 302
            state = headers["Location"].rsplit("state=", 1)[1]
            assert stack.auth.redirect_uris == [
                "http://127.0.0.1:3000/auth/github/callback/dashboard"
            ]
            async for stranger in _browser(stack):
                status, _, page = await stranger.get(
                    f"/auth/github/callback/dashboard?code=c&state={state}"
                )
                assert status == 400
                assert "not started from this browser" in page
            status, headers, _ = await browser.get(
                f"/auth/github/callback/dashboard?code=c&state={state}"
            )
            assert (status, headers["Location"]) == (303, "/dashboard")
            status, _, page = await browser.get("/dashboard")
            assert status == 200
            assert "access" not in re.findall(r'value="([^"]*)"', page)


async def test_without_github_configured_its_sign_in_is_not_offered(browser: Browser) -> None:
    _, _, page = await browser.get("/dashboard/sign-in")
    assert "/dashboard/sign-in/github" not in page
    status, _, _ = await browser.get("/dashboard/sign-in/github")
    assert status == 404


async def test_static_files_are_served(browser: Browser) -> None:
    status, _, css = await browser.get("/dashboard/static/dashboard.css")
    assert status == 200
    assert "@media (max-width: 640px)" in css


def _newest(stack: Stack) -> str:
    return max(stack.auth.api_keys, key=lambda key_id: int(key_id[1:]))


# -- projects ----------------------------------------------------------------------------------


async def test_an_admin_registers_a_project_from_its_lockfile_and_ingests_the_missing(
    stack: Stack, browser: Browser
) -> None:
    await browser.sign_in("admin-key")
    status, _, page = await browser.get("/dashboard/projects")
    assert status == 200
    assert 'enctype="multipart/form-data"' in page
    assert '<label for="prj-files">' in page
    status, _, page = await browser.post(
        "/dashboard/projects",
        {"name": "shop"},
        files={"pyproject.toml": PYPROJECT.encode(), "uv.lock": UV_LOCK.encode()},
    )
    assert status == 200, page
    assert "Project shop" in page
    rows = dict(re.findall(r'<tr data-package="([^"]+)" data-indexed="(yes|no)">', page))
    assert rows == {"pypi:fastapi": "yes", "pypi:pydantic": "no"}
    assert '<a href="/dashboard/libraries/fastapi/fastapi">/fastapi/fastapi</a>' in page
    assert "<td>0.110.0</td>" in page and "<td>2.6.0</td>" in page
    assert "twinmcp ingest pypi:pydantic==2.6.0" in page
    assert "<td>pypi:httpx</td><td>any</td><td>pyproject.toml</td>" in page  # not locked
    assert not stack.ingest.jobs  # registering alone ingests nothing
    sources = re.findall(r'<input type="hidden" name="source" value="([^"]+)">', page)
    assert sources == ["pypi:pydantic==2.6.0"]
    status, headers, _ = await browser.post("/dashboard/projects/ingest", {"source": sources})
    assert (status, headers["Location"]) == (303, "/dashboard/jobs?ingested=1")
    (job,) = stack.ingest.jobs.values()
    assert (job.source, job.library_id, job.version) == (
        "pypi:pydantic==2.6.0",
        "/pypi/pydantic",
        "2.6.0",
    )
    _, _, page = await browser.get(headers["Location"])
    assert "1 locked versions submitted" in page
    assert f'data-job-id="{job.job_id}" data-state="queued"' in page


async def test_a_pasted_lockfile_registers_as_an_uploaded_one(browser: Browser) -> None:
    await browser.sign_in("admin-key")
    await browser.get("/dashboard/projects")
    status, _, page = await browser.post(
        "/dashboard/projects",
        {"name": "shop", "pastedPath": "./uv.lock", "pastedContent": UV_LOCK, "transitive": "on"},
    )
    assert status == 200, page
    rows = dict(re.findall(r'<tr data-package="([^"]+)" data-indexed="(yes|no)">', page))
    assert rows == {"pypi:fastapi": "yes", "pypi:pydantic": "no"}


@pytest.mark.parametrize(
    ("form", "files", "status", "said"),
    [
        ({"name": "shop"}, {}, 400, "choose the project's manifests and lockfiles"),
        ({"name": ""}, {"uv.lock": b"version = 1"}, 400, "'name' is required"),
        ({"name": "shop"}, {"notes.md": b"# hi"}, 400, "is not a manifest or lockfile"),
        ({"name": "shop"}, {"uv.lock": b"\xff\xfe"}, 400, "is not UTF-8 text"),
        ({"name": "shop"}, {"pyproject.toml": b"[[[[ not toml"}, 400, "pyproject.toml"),
        ({"name": "shop"}, {"package.json": b"[" * 100_000}, 400, "too deeply"),
        ({"name": "shop", "pastedContent": UV_LOCK}, {}, 400, "name the pasted file"),
        ({"name": "../shop"}, {"uv.lock": UV_LOCK.encode()}, 400, "is not valid"),
        (
            {"name": "shop"},
            {f"requirements-{n}.txt": b"flask==3.0.0" for n in range(51)},
            400,
            "send at most 50",
        ),
        ({"name": "shop"}, {"uv.lock": b"#" * (2 * 1024 * 1024)}, 413, "Request Entity Too Large"),
    ],
    ids=[
        "none",
        "no-name",
        "unknown",
        "not-utf8",
        "bad-toml",
        "deep",
        "unnamed",
        "bad-name",
        "51",
        "huge",
    ],
)
async def test_a_bad_project_form_is_a_page_saying_what_and_registers_nothing(
    browser: Browser, form: dict[str, str], files: dict[str, bytes], status: int, said: str
) -> None:
    await browser.sign_in("admin-key")
    await browser.get("/dashboard/projects")
    got, _, page = await browser.post("/dashboard/projects", form, files=files)
    assert got == status, page
    assert said in html.unescape(page)
    assert "Project shop" not in page
    assert "Traceback" not in page


async def test_a_project_form_or_ingest_without_the_csrf_token_is_refused(
    stack: Stack, browser: Browser
) -> None:
    await browser.sign_in("admin-key")
    await browser.get("/dashboard/projects")
    status, _, page = await browser.post(
        "/dashboard/projects",
        {"name": "shop"},
        with_csrf=False,
        files={"uv.lock": UV_LOCK.encode()},
    )
    assert status == 403
    assert "Form refused" in page
    status, _, _ = await browser.post(
        "/dashboard/projects/ingest", {"source": "pypi:pydantic==2.6.0"}, with_csrf=False
    )
    assert status == 403
    assert not stack.ingest.jobs


async def test_ingesting_a_project_submits_only_registry_packages(
    stack: Stack, browser: Browser
) -> None:
    await browser.sign_in("admin-key")
    await browser.get("/dashboard/projects")
    status, _, page = await browser.post(
        "/dashboard/projects/ingest", {"source": ["npm:@scope/ui@1.2.0", "/etc"]}
    )
    assert status == 400
    assert "1 of 2 submitted; refused: '/etc' is not a registry package" in html.unescape(page)
    (job,) = stack.ingest.jobs.values()
    assert (job.source, job.library_id, job.version) == (
        "npm:@scope/ui@1.2.0",
        "/npm/scope/ui",
        "1.2.0",
    )


async def test_the_add_source_page_explains_registry_packages(browser: Browser) -> None:
    await browser.sign_in("admin-key")
    _, _, page = await browser.get("/dashboard/sources")
    assert '<option value="pypi"' in page and '<option value="npm"' in page
    assert 'aria-describedby="src-hint"' in page
    assert "<code>name==version</code>" in page and "<code>name@version</code>" in page
    assert '<a href="/dashboard/projects">register the project</a>' in page
