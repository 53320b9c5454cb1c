"""Renders nginx.local.conf.template for tests that put NGINX in front of local gateways."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

NGINX_DIR = Path(__file__).resolve().parent
TEMPLATE = NGINX_DIR / "nginx.local.conf.template"


def render(upstreams: Sequence[str], listen_port: int, prefix: Path) -> str:
    """The config text: `upstreams` are `host:port` of gateways, `prefix` an existing folder."""
    if not upstreams:
        raise ValueError("at least one gateway host:port is needed")
    for upstream in upstreams:
        host, sep, port = upstream.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"{upstream!r} is not host:port")
    # Passive health like production, but quicker so a test sees a stopped gateway skipped fast.
    servers = "\n".join(
        f"        server {upstream} max_fails=1 fail_timeout=5s;" for upstream in upstreams
    )
    text = TEMPLATE.read_text()
    for name, value in {
        "GATEWAY_UPSTREAMS": servers,
        "LISTEN_PORT": str(listen_port),
        "PREFIX": str(prefix.resolve()),
        "NGINX_DIR": str(NGINX_DIR),
    }.items():
        text = text.replace("{{" + name + "}}", value)
    return text


def write(upstreams: Sequence[str], listen_port: int, prefix: Path) -> Path:
    """Writes the rendered config as `prefix/nginx.conf` and returns its path."""
    prefix.mkdir(parents=True, exist_ok=True)
    path = prefix / "nginx.conf"
    path.write_text(render(upstreams, listen_port, prefix))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen-port", type=int, required=True)
    parser.add_argument("--prefix", type=Path, required=True)
    parser.add_argument("upstreams", nargs="+", help="gateway host:port")
    args = parser.parse_args()
    path = write(args.upstreams, args.listen_port, args.prefix)
    print(f"nginx -p {args.prefix} -e stderr -c {path}")


if __name__ == "__main__":
    main()
