"""Usage per day as server-rendered SVG bar geometry, and client configurations to paste."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

from twinmcp.auth.v1 import auth_pb2

WIDTH = 640
HEIGHT = 200
_TOP = 16  # room for the limit's label
_BOTTOM = 24  # room for the dates


@dataclass(frozen=True)
class Bar:
    date: str
    requests: int
    x: float
    y: float
    width: float
    height: float
    label_x: float


@dataclass(frozen=True)
class UsageChart:
    bars: list[Bar]
    total: int
    scale_max: int
    day_limit: int
    limit_y: float | None  # where the daily limit's line is drawn, when it fits the scale
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def baseline(self) -> float:
        return self.height - _BOTTOM


def usage_chart(
    days: Iterable[auth_pb2.UsageDay], today: dt.date, span: int, day_limit: int
) -> UsageChart:
    """One bar per UTC day of the last `span` days (days without requests are zero bars)."""
    per_day: dict[str, int] = {}
    for day in days:
        per_day[day.date] = per_day.get(day.date, 0) + int(day.requests)
    dates = [(today - dt.timedelta(days=back)).isoformat() for back in range(span - 1, -1, -1)]
    counts = [per_day.get(date, 0) for date in dates]
    peak = max(counts, default=0)
    # The limit stays on the scale while usage is within 4x of it; beyond, bars would vanish.
    scale = max(peak, day_limit if 0 < day_limit <= 4 * max(peak, 1) else 0, 1)
    plot = HEIGHT - _TOP - _BOTTOM
    slot = WIDTH / max(len(dates), 1)
    bars = []
    for index, (date, count) in enumerate(zip(dates, counts, strict=True)):
        height = plot * count / scale
        x = index * slot + slot * 0.15
        bars.append(
            Bar(
                date=date,
                requests=count,
                x=round(x, 1),
                y=round(_TOP + plot - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                label_x=round(index * slot + slot / 2, 1),
            )
        )
    limit_y = round(_TOP + plot - plot * day_limit / scale, 1) if 0 < day_limit <= scale else None
    return UsageChart(bars, sum(counts), scale, day_limit, limit_y)


@dataclass(frozen=True)
class ClientConfig:
    client: str
    where: str  # the file or command it goes in
    text: str


def client_configs(mcp_url: str, key: str) -> list[ClientConfig]:
    """The configurations of docs/clients.md, with `key` filled in."""
    header = {"Authorization": f"Bearer {key}"}
    cursor = {"mcpServers": {"twinmcp": {"url": mcp_url, "headers": header}}}
    vscode = {"servers": {"twinmcp": {"type": "http", "url": mcp_url, "headers": header}}}
    return [
        ClientConfig(
            "Claude Code",
            "a terminal",
            f'claude mcp add --transport http twinmcp {mcp_url} --header "Authorization: '
            f'Bearer {key}"',
        ),
        ClientConfig("Cursor", "~/.cursor/mcp.json", json.dumps(cursor, indent=2)),
        ClientConfig("VS Code", ".vscode/mcp.json", json.dumps(vscode, indent=2)),
    ]
