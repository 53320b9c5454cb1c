"""Helpers of the hostile-input suite: a stack's callers, refusals asserted, logs read."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc
from twinmcp.cli.stack import SERVICES, Stack, isolated_environment

# A JWT secret the tests know, so they can forge tokens signed with it (expired ones) or not.
JWT_SECRET = "hostile-suite-secret-" + "x" * 32
FINISHED_STATES = {"succeeded", "failed", "cancelled"}


@dataclass
class Reply:
    status: int
    body: Any  # the decoded JSON, or the text when the answer is not JSON
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The error text a person would read: REST `message`, JSON-RPC `error.message`, or a
        tool result's text."""
        if isinstance(self.body, dict):
            if isinstance(self.body.get("message"), str):
                return str(self.body["message"])
            error = self.body.get("error")
            if isinstance(error, dict):
                return str(error.get("message", ""))
            result = self.body.get("result")
            if isinstance(result, dict):
                return "".join(str(c.get("text", "")) for c in result.get("content", []))
        return str(self.body)


def assert_refused(reply: Reply, status: int, fragment: str) -> None:
    """`reply` is the clear refusal expected: its status, and a message saying why."""
    assert reply.status == status, f"expected {status}, got {reply.status}: {reply.body!r:.600}"
    assert _loose(fragment) in _loose(reply.message), (
        f"{fragment!r} not in the message: {reply.message!r:.600}"
    )


def _loose(text: str) -> str:
    """Case and underscores ignored: 'maxPages' matches a message naming 'max_pages'."""
    return text.lower().replace("_", "")


def assert_tool_error(reply: Reply, fragment: str) -> None:
    """A tools/call refused the way an agent can act on: an error result or a JSON-RPC error,
    never a 5xx, with a message saying why."""
    assert reply.status < 500, reply.body
    body = reply.body
    assert isinstance(body, dict), body
    is_error = "error" in body or bool(body.get("result", {}).get("isError"))
    assert is_error, f"the call was not refused: {body!r:.600}"
    assert fragment.lower() in reply.message.lower(), (
        f"{fragment!r} not in the message: {reply.message!r:.600}"
    )


@dataclass
class Hostile:
    """A running stack and the credentials a hostile caller could hold."""

    stack: Stack
    env: dict[str, str]
    http: aiohttp.ClientSession
    auth: auth_pb2_grpc.AuthServiceStub
    admin_user_id: str = ""
    admin_key: str = ""  # scopes admin + read, of an admin user
    read_key: str = ""  # scope read, of the same admin user
    log_marks: dict[str, int] = field(default_factory=dict)
    accepted_jobs: list[str] = field(default_factory=list)  # submitted by the current test

    @property
    def url(self) -> str:
        return self.stack.gateway_url

    @property
    def port(self) -> int:
        return int(self.env["PORT"])

    async def make_admin(self) -> None:
        user = await self.auth.CreateUser(
            auth_pb2.CreateUserRequest(
                login=f"ops{uuid.uuid4().hex[:8]}", tier=auth_pb2.TIER_FREE, is_admin=True
            ),
            timeout=10,
        )
        self.admin_user_id = user.user.user_id
        admin = await self.auth.CreateApiKey(
            auth_pb2.CreateApiKeyRequest(
                user_id=self.admin_user_id, name="admin", scopes=["admin", "read"]
            ),
            timeout=10,
        )
        read = await self.auth.CreateApiKey(
            auth_pb2.CreateApiKeyRequest(user_id=self.admin_user_id, name="read", scopes=["read"]),
            timeout=10,
        )
        self.admin_key, self.read_key = admin.secret, read.secret

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        data: bytes | None = None,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30,
    ) -> Reply:
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        async with self.http.request(
            method,
            f"{self.url}{path}",
            data=data,
            headers=sent,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as reply:
            text = await reply.text(errors="replace")
            try:
                decoded: Any = json.loads(text)
            except ValueError:
                decoded = text
            return Reply(reply.status, decoded, dict(reply.headers))

    async def mcp(
        self,
        message: Any,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """POSTs one JSON-RPC message (a dict, or raw bytes sent as they are) to /mcp."""
        sent = {"Accept": "application/json, text/event-stream", **(headers or {})}
        sent.setdefault("Content-Type", "application/json")
        data = message if isinstance(message, bytes) else json.dumps(message).encode()
        return await self.request("POST", "/mcp", data=data, key=key, headers=sent)

    async def call_tool(
        self, name: str, arguments: Mapping[str, Any], *, key: str | None = None
    ) -> Reply:
        return await self.mcp(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": name, "arguments": dict(arguments)},
            },
            key=key,
        )

    async def submit(self, source: str, **fields: Any) -> Reply:
        """POST /api/v1/admin/sources as the admin."""
        body = {"source": source, "libraryId": "/hostile/probe", "version": "1.0", **fields}
        reply = await self.request("POST", "/api/v1/admin/sources", body=body, key=self.admin_key)
        if reply.status == 202:
            self.accepted_jobs.append(reply.body["job"]["jobId"])
        return reply

    async def cancel_accepted_jobs(self) -> None:
        """Cancels what the last test submitted, so a source wrongly accepted (one that would
        copy for ever) does not hold a worker for the tests after it."""
        for job_id in self.accepted_jobs:
            await self.request("POST", f"/api/v1/admin/jobs/{job_id}/cancel", key=self.admin_key)
        self.accepted_jobs.clear()

    async def job(self, job_id: str, timeout: float = 90) -> dict[str, Any]:
        """The job once it has finished (succeeded, failed or cancelled)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            reply = await self.request("GET", f"/api/v1/admin/jobs/{job_id}", key=self.admin_key)
            assert reply.status == 200, reply.body
            job: dict[str, Any] = reply.body["job"]
            if job["state"] in FINISHED_STATES:
                return job
            assert asyncio.get_running_loop().time() < deadline, f"job still {job['state']}"
            await asyncio.sleep(0.2)

    async def refused_source(self, source: str, fragment: str, **fields: Any) -> str:
        """Submits `source` and asserts it is refused with `fragment` in the reason: at once
        (400) or by its job (failed, never fetched). Returns the reason."""
        reply = await self.submit(source, **fields)
        if reply.status == 202:
            job = await self.job(reply.body["job"]["jobId"])
            assert job["state"] == "failed", job
            reason = str(job.get("error", ""))
            assert not reason.startswith("retrying"), job
            assert "internal error" not in reason, job
        else:
            assert reply.status == 400, reply.body
            reason = reply.message
        assert fragment.lower() in reason.lower(), f"{fragment!r} not in {reason!r}"
        return reason

    async def raw(self, request: bytes, timeout: float = 15) -> tuple[int, str]:
        """Sends `request` byte for byte (headers no client library would send); returns the
        status and the whole answer."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(request)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), timeout)
        finally:
            writer.close()
        text = answer.decode("utf-8", errors="replace")
        match = re.match(r"HTTP/1\.[01] (\d{3})", text)
        assert match, f"not an HTTP answer: {text[:300]!r}"
        return int(match.group(1)), text

    def logs(self) -> dict[str, str]:
        return logs_of(self.stack)

    def mark_logs(self) -> None:
        """From now on, `assert_no_tracebacks` reads only what the services log after this."""
        self.log_marks = {name: len(text) for name, text in self.logs().items()}

    def assert_no_tracebacks(self) -> None:
        new = {name: text[self.log_marks.get(name, 0) :] for name, text in self.logs().items()}
        tracebacks = {name: text for name, text in new.items() if "Traceback" in text}
        assert not tracebacks, traceback_report(tracebacks)


def stack_environment(data_dir: Path, **extra: str) -> dict[str, str]:
    return isolated_environment(
        os.environ,
        data_dir,
        **{
            "LOG_FORMAT": "json",
            "EMBEDDING_PROVIDER": "none",
            "JWT_SECRET": JWT_SECRET,
            # The suite sends hundreds of requests from one address in a minute.
            "RATE_LIMIT_ANON_RPM": "100000",
            "RATE_LIMIT_ANON_RPD": "10000000",
            "RATE_LIMIT_FREE_RPM": "100000",
            "RATE_LIMIT_FREE_RPD": "10000000",
            **extra,
        },
    )


def logs_of(stack: Stack) -> dict[str, str]:
    return {
        spec.name: stack.log_path(spec.name).read_text(errors="replace")
        for spec in SERVICES
        if stack.log_path(spec.name).exists()
    }


def traceback_report(tracebacks: Mapping[str, str]) -> str:
    parts = []
    for name, text in tracebacks.items():
        at = text.index("Traceback")
        parts.append(f"{name} logged a traceback:\n{text[max(0, at - 800) : at + 2500]}")
    return "\n\n".join(parts)
