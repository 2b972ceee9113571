#!/usr/bin/env bash
# The test command: installs what the tests need, then checks formatting and lints and
# runs every test (unit and integration, against real processes and sockets).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked --all-targets
