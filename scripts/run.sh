#!/usr/bin/env bash
# The run command: builds Luna (release) and starts it in this checkout on its defaults
# (local mode, http://127.0.0.1:8800). Extra arguments go to `luna serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --locked
exec target/release/luna serve "$@"
