"""A stdio MCP server that forwards every message to a TwinMCP Streamable HTTP endpoint.

For hosts that can only launch local servers: the host writes newline-delimited JSON-RPC to
our stdin; each message is POSTed to the gateway and the answer written to stdout.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import Callable
from typing import IO, Any

import aiohttp
from mcp_types import PROTOCOL_VERSION_META_KEY
from mcp_types.jsonrpc import INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR

logger = logging.getLogger(__name__)

MAX_LINE_BYTES = 4 * 1024 * 1024


def routing_headers(message: dict[str, Any], negotiated: str | None) -> dict[str, str]:
    """The HTTP headers a message needs: 2026-07-28 messages carry their protocol version in
    `_meta` and must repeat it, their method and (for tools/call) the tool name in headers;
    legacy messages after `initialize` carry the negotiated version."""
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    version = meta.get(PROTOCOL_VERSION_META_KEY) if isinstance(meta, dict) else None
    if isinstance(version, str):
        headers = {"MCP-Protocol-Version": version}
        method = message.get("method")
        if isinstance(method, str):
            headers["Mcp-Method"] = method
        name = params.get("name") if isinstance(params, dict) else None
        if method == "tools/call" and isinstance(name, str):
            headers["Mcp-Name"] = _header_value(name)
        return headers
    return {"MCP-Protocol-Version": negotiated} if negotiated else {}


def _header_value(value: str) -> str:
    if value.isascii() and value.isprintable() and value == value.strip():
        return value
    return "=?base64?" + base64.b64encode(value.encode()).decode() + "?="


def _forget(
    in_flight: dict[Any, asyncio.Task[None]], request_id: Any
) -> Callable[[asyncio.Task[None]], None]:
    def done(_task: asyncio.Task[None]) -> None:
        in_flight.pop(request_id, None)

    return done


async def bridge_stdio(url: str, api_key: str, stdin: IO[bytes], stdout: IO[bytes]) -> int:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE_BYTES)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    write_lock = asyncio.Lock()
    in_flight: dict[Any, asyncio.Task[None]] = {}
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    protocol_version: dict[str, str] = {}

    async def emit(message: Any) -> None:
        async with write_lock:
            stdout.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
            stdout.flush()

    async def forward(session: aiohttp.ClientSession, message: dict[str, Any]) -> None:
        request_headers = {**headers, **routing_headers(message, protocol_version.get("version"))}
        try:
            async with session.post(url, json=message, headers=request_headers) as reply:
                if reply.status == 202 or "id" not in message:
                    return
                kind = reply.headers.get("Content-Type", "")
                if kind.startswith("text/event-stream"):
                    async for line in reply.content:
                        text = line.decode().strip()
                        if text.startswith("data:"):
                            await emit(json.loads(text[5:]))
                    return
                body = await reply.json(content_type=None)
                if isinstance(body, dict) and body.get("id") is None and "error" in body:
                    # An error answered before the request was read names no id; it is still
                    # this request's answer, and the host is waiting on that id.
                    body = {**body, "id": message["id"]}
                result = body.get("result") if isinstance(body, dict) else None
                if message.get("method") == "initialize" and isinstance(result, dict):
                    version = result.get("protocolVersion")
                    if isinstance(version, str):
                        protocol_version["version"] = version
                await emit(body)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            if "id" in message:
                await emit(
                    {
                        "jsonrpc": "2.0",
                        "id": message["id"],
                        "error": {
                            "code": INTERNAL_ERROR,
                            "message": f"TwinMCP at {url} could not be reached: {exc}",
                        },
                    }
                )

    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            try:
                line = await reader.readline()
            except ValueError:
                await emit(
                    {
                        "jsonrpc": "2.0",
                        "id": None,
                        "error": {"code": INVALID_REQUEST, "message": "message too large"},
                    }
                )
                continue
            if not line:
                break
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                await emit(
                    {
                        "jsonrpc": "2.0",
                        "id": None,
                        "error": {"code": PARSE_ERROR, "message": "Parse error: invalid JSON"},
                    }
                )
                continue
            if not isinstance(message, dict):
                await emit(
                    {
                        "jsonrpc": "2.0",
                        "id": None,
                        "error": {"code": INVALID_REQUEST, "message": "expected one JSON object"},
                    }
                )
                continue
            if message.get("method") == "notifications/cancelled":
                target = (message.get("params") or {}).get("requestId")
                task = in_flight.pop(target, None)
                if task is not None:
                    task.cancel()
            task = asyncio.create_task(forward(session, message))
            if "id" in message:
                request_id = message["id"]
                in_flight[request_id] = task
                task.add_done_callback(_forget(in_flight, request_id))
        for task in list(in_flight.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return 0
