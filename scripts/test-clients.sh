#!/usr/bin/env bash
# Installs the real clients the integration tests drive: the MCP clients pinned in
# tests/mcp_clients/ (the official Python SDK from PyPI in a venv under target/, with the
# openai SDK, as an Agent API client; the MCP Inspector CLI, the TypeScript SDK and the
# official MCP conformance suite from npm) and playwright-core (tests/browser/) to drive Debian's Chromium
# (installed by `scripts/deps.sh --test`). Idempotent: a stamp per client skips the install
# while its pin is unchanged. Prints the variables the tests read, ready for `eval`.
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
  echo "installing the MCP Inspector, the TypeScript SDK and the conformance suite into $clients/node_modules" >&2
  npm ci --prefix "$clients" --silent --no-audit --no-fund >&2
  cp "$clients/package-lock.json" "$clients/node_modules/.installed"
fi

browser=tests/browser
if ! cmp -s "$browser/package-lock.json" "$browser/node_modules/.installed" 2>/dev/null; then
  echo "installing playwright-core into $browser/node_modules" >&2
  npm ci --prefix "$browser" --silent --no-audit --no-fund >&2
  cp "$browser/package-lock.json" "$browser/node_modules/.installed"
fi
chromium=$(command -v chromium) || { echo "chromium is missing: run scripts/deps.sh --test" >&2; exit 1; }

echo "export LUNA_TEST_CHROMIUM=$chromium"
echo "export LUNA_TEST_MCP_PYTHON=$PWD/$venv/bin/python"
echo "export LUNA_TEST_MCP_INSPECTOR=$PWD/$clients/node_modules/.bin/mcp-inspector"
echo "export LUNA_TEST_MCP_CONFORMANCE=$PWD/$clients/node_modules/.bin/conformance"
