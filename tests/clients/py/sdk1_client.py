"""The official Python SDK's 1.x client against a URL; run with .tools/py-mcp1's Python.

Usage: sdk1_client.py <url> <library id> <question>. Prints one JSON line of what it heard.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from mcp import ClientSession, McpError
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult


def summarize(result: CallToolResult) -> dict[str, Any]:
    return {
        "isError": result.isError,
        "text": "\n".join(getattr(block, "text", "") for block in result.content),
        "contentTypes": [block.type for block in result.content],
    }


async def main(url: str, library_id: str, question: str) -> dict[str, Any]:
    async with (
        streamable_http_client(url) as (read, write, session_id),
        ClientSession(read, write) as session,
    ):
        init = await session.initialize()
        out: dict[str, Any] = {
            "protocolVersion": init.protocolVersion,
            "serverInfo": init.serverInfo.model_dump(exclude_none=True),
            "instructions": init.instructions,
            "sessionId": session_id(),
        }
        await session.send_ping()
        listed = await session.list_tools()
        out["tools"] = [tool.name for tool in listed.tools]
        out["readOnly"] = [
            tool.annotations.readOnlyHint if tool.annotations else None for tool in listed.tools
        ]
        out["resolve"] = summarize(
            await session.call_tool(
                "resolve-library-id", {"libraryName": "fastapi", "query": question}
            )
        )
        out["docs"] = summarize(
            await session.call_tool(
                "query-docs", {"libraryId": library_id, "query": question, "tokens": 2000}
            )
        )
        out["missing"] = summarize(
            await session.call_tool("query-docs", {"libraryId": "/no/such", "query": question})
        )
        try:
            await session.call_tool("no-such-tool", {})
            out["unknownTool"] = None
        except McpError as error:
            out["unknownTool"] = {"code": error.error.code, "message": error.error.message}
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:4]))))
