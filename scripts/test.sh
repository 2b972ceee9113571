#!/usr/bin/env bash
# The test command: installs what the tests need (system packages, the MCP clients),
# starts a throwaway PostgreSQL, a Docker engine with a local registry and a test image, then
# checks formatting and lints and runs every test (unit and integration, against real
# processes, sockets and databases).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
eval "$(scripts/test-clients.sh)"
eval "$(scripts/test-docker.sh)"
# The installer test runs install/install.sh in a Debian 12 container with systemd as PID 1.
scripts/test-systemd-image.sh
LUNA_TEST_POSTGRES_URL=$(scripts/test-postgres.sh start)
export LUNA_TEST_POSTGRES_URL
trap 'scripts/test-postgres.sh stop' EXIT
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
# The Hub: its generated API types match the document (a Rust test keeps that equal to what
# Luna serves), and its own unit tests. `cargo clippy` above ran `npm ci` through build.rs.
(cd hub_ui && npm run --silent check-api && npm test --silent)
cargo test --locked --all-targets
