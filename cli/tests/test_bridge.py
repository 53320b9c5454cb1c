"""The stdio bridge's HTTP headers for each protocol era."""

from twinmcp.cli.bridge import routing_headers

META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}


def test_a_modern_tool_call_repeats_version_method_and_tool_name_in_headers() -> None:
    message = {"method": "tools/call", "params": {"name": "query-docs", "_meta": META}}
    assert routing_headers(message, None) == {
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "query-docs",
    }


def test_a_tool_name_that_is_not_plain_ascii_is_base64_wrapped() -> None:
    message = {"method": "tools/call", "params": {"name": "résumé", "_meta": META}}
    assert routing_headers(message, None)["Mcp-Name"] == "=?base64?csOpc3Vtw6k=?="


def test_a_legacy_message_carries_the_negotiated_version_only_after_initialize() -> None:
    assert routing_headers({"method": "tools/list"}, None) == {}
    assert routing_headers({"method": "tools/list"}, "2025-06-18") == {
        "MCP-Protocol-Version": "2025-06-18"
    }
