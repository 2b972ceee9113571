#!/usr/bin/env bash
# Installs the real MCP clients the integration tests drive, pinned in tests/mcp_clients/:
# the official Python SDK (PyPI `mcp`) in a venv under target/, and the MCP Inspector CLI
# (npm). Idempotent: a stamp per client skips the install while its pin is unchanged.
# Prints the two variables the tests read, ready for `eval`.
set -euo pipefail
cd "$(dirname "$0")/.."
clients=tests/mcp_clients
venv=target/test-tools/mcp-venv

if ! cmp -s "$clients/requirements.txt" "$venv/.installed" 2>/dev/null; then
  echo "installing the Python MCP SDK into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$clients/requirements.txt" >&2
  cp "$clients/requirements.txt" "$venv/.installed"
fi

if ! cmp -s "$clients/package-lock.json" "$clients/node_modules/.installed" 2>/dev/null; then
  echo "installing the MCP Inspector into $clients/node_modules" >&2
  npm ci --prefix "$clients" --silent --no-audit --no-fund >&2
  cp "$clients/package-lock.json" "$clients/node_modules/.installed"
fi

echo "export LUNA_TEST_MCP_PYTHON=$PWD/$venv/bin/python"
echo "export LUNA_TEST_MCP_INSPECTOR=$PWD/$clients/node_modules/.bin/mcp-inspector"
