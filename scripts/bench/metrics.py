#!/usr/bin/env python3
"""What metrics cost: gateway throughput of this build against a build without metrics (the
same run, interleaved rounds, the ratio), and the CPU time of one /metrics scrape with 50
extensions' worth of series. Uses wrk (Debian: wrk).

    scripts/bench/metrics.py --before /path/to/luna-without-metrics [--seconds 10] [--rounds 3]

The throughput route is /api/supervisor/health (gateway -> core API over its Unix socket), so
the figure is the gateway's own per-request cost, where the counting happens.
"""

import argparse
import os
import statistics
import subprocess
import time
import urllib.request

from common import LUNA, Luna, build_release, ensure_wrk, wrk

parser = argparse.ArgumentParser()
parser.add_argument("--before", required=True, help="a luna binary built without metrics")
parser.add_argument("--seconds", type=int, default=10)
parser.add_argument("--connections", type=int, default=32)
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--extensions", type=int, default=50)
parser.add_argument("--scrapes", type=int, default=200)
args = parser.parse_args()

ensure_wrk()
build_release()
fixture = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "bin", "hostile_app.py")

# --- throughput, with and without metrics ---------------------------------------------------
lunas = {"metrics": Luna(binary=LUNA), "before": Luna(binary=args.before)}
for luna in lunas.values():
    luna.start()
rates = {name: [] for name in lunas}
try:
    for _ in range(args.rounds):
        for name, luna in lunas.items():
            url = f"http://127.0.0.1:{luna.port}/api/supervisor/health"
            rates[name].append(wrk(url, args.connections, args.seconds))
finally:
    for luna in lunas.values():
        luna.stop()
median = {name: statistics.median(values) for name, values in rates.items()}
print(f"throughput /api/supervisor/health, {args.connections} connections, median of {args.rounds} rounds of {args.seconds} s:")
for name in lunas:
    print(f"  {name:8} {median[name]:9.0f} rps  ({', '.join(f'{rate:.0f}' for rate in rates[name])})")
print(f"  ratio with/without metrics: {median['metrics'] / median['before']:.3f}")

# --- one scrape with 50 extensions' series ---------------------------------------------------
luna = Luna()
os.makedirs(os.path.join(luna.home, "config"), exist_ok=True)
base = 30000
with open(os.path.join(luna.home, "config", "luna.toml"), "w") as config:
    config.write(f"[supervisor]\nui_ports = [{base}, {base + args.extensions + 10}]\n")
for n in range(args.extensions):
    ui = os.path.join(luna.home, "extensions", f"app{n}", "ui")
    os.makedirs(ui)
    with open(os.path.join(luna.home, "extensions", f"app{n}", "config.json"), "w") as manifest:
        manifest.write(f'{{"name": "app{n}", "version": "1"}}')
    start = os.path.join(ui, "start.sh")
    with open(start, "w") as script:
        script.write(f'#!/bin/sh\nexec python3 {os.path.abspath(fixture)} "$@"\n')
    os.chmod(start, 0o755)
luna.start()
try:
    deadline = time.time() + 120
    while sum(1 for record in luna.get("/api/supervisor/services")["services"].values() if record["status"] == "running") < args.extensions:
        if time.time() > deadline:
            raise SystemExit("the extensions did not all start within 120 s")
        time.sleep(0.5)
    # Traffic to every app, so each has its request and latency series.
    for n in range(args.extensions):
        request = urllib.request.Request(f"http://127.0.0.1:{luna.port}/healthz", headers={"Host": f"app{n}.localhost:{luna.port}"})
        urllib.request.urlopen(request, timeout=5).read()
    token = subprocess.run([LUNA, "--home", luna.home, "token", "--metrics"], capture_output=True, text=True, check=True).stdout.strip()
    scrape = urllib.request.Request(f"http://127.0.0.1:{luna.port}/metrics", headers={"Authorization": f"Bearer {token}"})
    body = urllib.request.urlopen(scrape, timeout=5).read()
    series = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
    before = luna.cpu_seconds()
    started = time.perf_counter()
    for _ in range(args.scrapes):
        urllib.request.urlopen(scrape, timeout=5).read()
    wall = time.perf_counter() - started
    cpu = luna.cpu_seconds() - before
    print(f"one scrape with {args.extensions} extensions: {series} series, {len(body) / 1024:.0f} KiB, "
          f"{cpu / args.scrapes * 1000:.2f} ms of Luna's CPU, {wall / args.scrapes * 1000:.2f} ms wall (mean of {args.scrapes})")
finally:
    luna.stop()
