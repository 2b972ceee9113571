#!/usr/bin/env python3
"""TLS handshakes per second and HTTPS requests per second on keep-alive through the gateway,
with plain HTTP on keep-alive for comparison. Uses wrk (Debian: wrk).

    scripts/bench/tls.py [--seconds 10] [--connections 32] [--rounds 3]

Luna runs in `lan` mode (its self-signed ECDSA P-256 certificate; an ACME certificate from
Let's Encrypt is the same key type) on loopback. The route is /healthz, which the gateway
answers itself, so the figures are TLS and the gateway, not an upstream.

- handshakes/s: every request carries `Connection: close`, so each one is a new TCP connection
  and a full TLS 1.3 handshake (wrk does not resume sessions);
- HTTPS keep-alive req/s: the same request on open connections;
- HTTP keep-alive req/s: the same request in local mode, without TLS.
"""

import argparse
import os
import statistics
import subprocess
import tempfile
import time

from common import LUNA, Luna, build_release, ensure_wrk, free_port, wrk

parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=int, default=10)
parser.add_argument("--connections", type=int, default=32)
parser.add_argument("--rounds", type=int, default=3)
args = parser.parse_args()

ensure_wrk()
build_release()


def start_lan():
    """`luna serve` in lan mode on free loopback ports; returns (process, https port, home)."""
    home = tempfile.mkdtemp(prefix="luna-bench-tls-")
    os.makedirs(os.path.join(home, "config"))
    with open(os.path.join(home, ".env"), "w") as file:
        file.write("GITHUB_CLIENT_ID=bench\nGITHUB_CLIENT_SECRET=bench\n")
    with open(os.path.join(home, "config", "luna.toml"), "w") as file:
        file.write('deployment_mode = "lan"\npublic_domain = "bench.home.arpa"\n[auth]\nallowed_users = ["bench"]\n')
    http_port, https_port = free_port(), free_port()
    process = subprocess.Popen(
        [LUNA, "--home", home, "serve", "--http-listen", f"127.0.0.1:{http_port}",
         "--https-listen", f"127.0.0.1:{https_port}"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(home, "luna.log"), "ab"),
    )
    started = time.perf_counter()
    while subprocess.run(["curl", "-sk", "-o", "/dev/null", f"https://127.0.0.1:{https_port}/healthz"]).returncode:
        if process.poll() is not None or time.perf_counter() - started > 30:
            raise SystemExit(f"luna did not serve HTTPS; see {home}/luna.log")
        time.sleep(0.05)
    return process, https_port, home


lan, https_port, _ = start_lan()
local = Luna()
local.start()
results = {"handshakes": [], "https keep-alive": [], "http keep-alive": []}
https_url = f"https://127.0.0.1:{https_port}/healthz"
for _ in range(args.rounds):
    results["handshakes"].append(wrk(https_url, args.connections, args.seconds, ["Connection: close"]))
    results["https keep-alive"].append(wrk(https_url, args.connections, args.seconds))
    results["http keep-alive"].append(wrk(f"http://127.0.0.1:{local.port}/healthz", args.connections, args.seconds))
lan.terminate()
lan.wait(timeout=20)
local.stop()

print(f"/healthz through the gateway, {args.connections} connections, {args.rounds} x {args.seconds} s each (median):")
labels = {
    "handshakes": "new TLS connection per request (handshakes/s)",
    "https keep-alive": "HTTPS keep-alive (req/s)",
    "http keep-alive": "plain HTTP keep-alive (req/s)",
}
for key, label in labels.items():
    print(f"  {label:<48} {statistics.median(results[key]):>9,.0f}  {[round(r) for r in results[key]]}")
