#!/usr/bin/env bash
# Run the MCP Inspector CLI (@modelcontextprotocol/inspector 2.12.x) against a streamable-HTTP endpoint.
#
#   inspector.sh --url URL [--bearer TOKEN] [--protocol 2025-11-25|2026-07-28] list
#   inspector.sh --url URL [--bearer TOKEN] [--protocol 2025-11-25|2026-07-28] call NAME [ARGS_JSON]
#   inspector.sh --url URL [--bearer TOKEN] [--protocol 2025-11-25|2026-07-28] read URI
#   inspector.sh --url URL [--bearer TOKEN] [--protocol 2025-11-25|2026-07-28] prompt NAME [KEY=VALUE...]
#
# Output is the Inspector's own (--format json):
#   stdout  {"result": {"tools": [...]}}  or  {"result": {"content": [...], "structuredContent": ..., "isError": ...}}
#           or  {"result": {"contents": [...]}}  or  {"result": {"messages": [...]}}
#   stderr  {"error": {"code": "auth_required"|"unreachable"|"tool_not_found"|"tool_is_error"|..., "message": ...}}
#   exit    0 ok, 1 usage, 3 auth_required (e.g. HTTP 401), 4 unreachable, 5 tool error / tool not found
#           (for an isError result the result is still printed on stdout).
#
# The Inspector binary: $MCP_INSPECTOR_BIN, else tests/mcp_clients/node_modules/.bin/mcp-inspector
# (`npm install --prefix tests/mcp_clients @modelcontextprotocol/inspector@2.12.0`). It can be run from any
# working directory via that path; no node_modules is needed in the cwd.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${MCP_INSPECTOR_BIN:-$here/node_modules/.bin/mcp-inspector}"
url="" bearer="" era="legacy"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --url) url="$2"; shift 2 ;;
    --bearer) bearer="$2"; shift 2 ;;
    --protocol)
      case "$2" in 2025-11-25) era=legacy ;; 2026-07-28) era=modern ;; *) echo "bad --protocol $2" >&2; exit 1 ;; esac
      shift 2 ;;
    *) break ;;
  esac
done
[[ -n "$url" && $# -ge 1 ]] || { sed -n '2,8p' "$0" >&2; exit 1; }

# Ad-hoc URL runs default to --protocol-era legacy (initialize + session); "modern" = 2026-07-28 stateless
# (server/discover first, then self-contained POSTs with _meta, no Mcp-Session-Id).
args=(--cli "$url" --transport http --protocol-era "$era" --format json --quiet
      # never attempt interactive OAuth (it would if stdin/stderr is a TTY and the server says 401)
      --stored-auth-only)
[[ -n "$bearer" ]] && args+=(--header "Authorization: Bearer $bearer")

case "$1" in
  list) args+=(--method tools/list) ;;
  # tools/call first pages through tools/list and fails with tool_not_found (exit 5) without calling
  # the server when NAME is not listed.
  call) args+=(--method tools/call --tool-name "$2" --tool-args-json "${3:-{\}}") ;;
  read) args+=(--method resources/read --uri "$2") ;;
  prompt) args+=(--method prompts/get --prompt-name "$2"); [[ $# -gt 2 ]] && args+=(--prompt-args "${@:3}") ;;
  *) echo "unknown command $1" >&2; exit 1 ;;
esac

# A throwaway HOME keeps runs hermetic: the Inspector otherwise reads/writes ~/.mcp-inspector
# (catalog, client config, stored OAuth tokens).
tmp_home="$(mktemp -d)"
trap 'rm -rf "$tmp_home"' EXIT
HOME="$tmp_home" "$bin" "${args[@]}"
