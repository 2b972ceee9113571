#!/usr/bin/env bash
# Installs the system packages Luna needs to build (and, with `--test`, to run its tests).
# Debian/Ubuntu only; does nothing for packages that are already there.
set -euo pipefail

build_packages=(cmake make gcc g++ pkg-config)
# The bundled example extension and the test fixtures are small Python programs.
run_packages=(python3)
# Sessions are tested on a real PostgreSQL server; MCP with real clients (Python SDK in a
# venv; the MCP Inspector needs node and npm, which the machine provides); the consent page
# and the Hub in a real browser; HTTPS against a real ACME server (Pebble and its DNS stand-in);
# `/metrics` scraped by a real Prometheus (and checked by its promtool).
test_packages=(postgresql python3-venv chromium pebble prometheus)

# The Hub (hub_ui/) is built by Vite, which needs Node.js 20.19+ (Debian 12's own nodejs is 18).
node_major_minor=$(node --version 2>/dev/null | sed -E 's/^v([0-9]+)\.([0-9]+).*/\1 \2/' || true)
read -r node_major node_minor <<<"${node_major_minor:-0 0}"
if ((node_major < 20 || (node_major == 20 && node_minor < 19))); then
  echo "Luna's Hub needs Node.js 20.19+ with npm (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "Install it from https://nodejs.org or NodeSource (deb.nodesource.com), then run this again." >&2
  exit 1
fi

packages=("${build_packages[@]}" "${run_packages[@]}")
if [[ "${1:-}" == "--test" ]]; then
  packages+=("${test_packages[@]}")
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "installing: ${missing[*]}" >&2
if [[ $EUID -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
