#!/usr/bin/env python3
"""Luna supervising many services: idle CPU, and time from a crash to healthy again.

    scripts/bench/supervise.py [--services 50] [--seconds 60] [--crashes 5]

Each service is tests/fixtures/bin/service.py with a port and a /healthz check, under the
product's default supervision settings (liveness probe every 30 s, restart backoff from 1 s).
"""

import argparse
import os
import signal
import statistics
import tempfile
import time

from common import ROOT, Luna, build_release

parser = argparse.ArgumentParser()
parser.add_argument("--services", type=int, default=50)
parser.add_argument("--seconds", type=float, default=60)
parser.add_argument("--crashes", type=int, default=5)
args = parser.parse_args()

build_release()
home = tempfile.mkdtemp(prefix="luna-bench-")
service = os.path.join(ROOT, "tests", "fixtures", "bin", "service.py")
for index in range(args.services):
    folder = os.path.join(home, "extensions", f"bench{index:03}", "services", "api")
    os.makedirs(folder)
    with open(os.path.join(home, "extensions", f"bench{index:03}", "config.json"), "w") as file:
        file.write('{"version": "1"}')
    with open(os.path.join(folder, "service_config.json"), "w") as file:
        file.write('{"requires_port": true, "health_check": "/healthz", "api": true}')
    with open(os.path.join(folder, "start.sh"), "w") as file:
        file.write(f'#!/bin/sh\nexec python3 {service} "$1"\n')
    os.chmod(os.path.join(folder, "start.sh"), 0o755)

luna = Luna(home)
luna.start()


def records():
    return luna.get("/api/supervisor/services")["services"]


deadline = time.time() + 120
while sum(r["status"] == "running" for r in records().values()) < args.services:
    if time.time() > deadline:
        raise SystemExit("not every service became running within 120 s")
    time.sleep(0.2)
print(f"{args.services} services running")

time.sleep(2)
cpu_before, wall_before = luna.cpu_seconds(), time.perf_counter()
time.sleep(args.seconds)
cpu = luna.cpu_seconds() - cpu_before
wall = time.perf_counter() - wall_before
print(f"idle CPU of luna over {wall:.0f} s: {cpu:.2f} s = {100 * cpu / wall:.2f}% of one core, "
      f"RSS {luna.rss_kib() / 1024:.1f} MiB")

recoveries = []
for round_index in range(args.crashes):
    key = f"bench{round_index:03}.api"
    old_pid = records()[key]["pid"]
    killed = time.perf_counter()
    os.kill(old_pid, signal.SIGKILL)
    while True:
        record = records()[key]
        if record["status"] == "running" and record["pid"] not in (None, old_pid):
            break
        time.sleep(0.01)
    recoveries.append(time.perf_counter() - killed)
print(
    f"crash to healthy over {args.crashes} crashes: median {statistics.median(recoveries):.2f} s, "
    f"min {min(recoveries):.2f} s, max {max(recoveries):.2f} s (restart backoff 1 s ±10%)"
)
luna.stop()
