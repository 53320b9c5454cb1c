"""Log configuration: JSON lines carrying the trace id, or plain lines for a terminal."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping

from opentelemetry import trace
from twinmcp.runtime.settings import env_bool, env_str

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, trace/span ids and extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(service: str, env: Mapping[str, str]) -> None:
    """Configures the root logger once, from LOG_LEVEL and LOG_FORMAT (json or text)."""
    level = env_str(env, "LOG_LEVEL", "INFO").upper()
    is_json = env_str(env, "LOG_FORMAT", "json").lower() == "json"
    handler = logging.StreamHandler(sys.stderr)
    if is_json:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Alembic narrates every migration step at INFO; start-up logs should stay readable.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if not env_bool(env, "LOG_ACCESS", False):
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
