#!/usr/bin/env python3
"""Release binary size, time from exec to /healthz answering, and idle RSS of a bare luna.

    scripts/bench/startup.py [--runs 20]
"""

import argparse
import os
import statistics
import time

from common import LUNA, Luna, build_release, percentile

parser = argparse.ArgumentParser()
parser.add_argument("--runs", type=int, default=20)
args = parser.parse_args()

build_release()
print(f"binary size: {os.path.getsize(LUNA) / 1024 / 1024:.1f} MiB ({LUNA})")

times = []
for _ in range(args.runs):
    luna = Luna()
    times.append(luna.start())
    luna.stop()
print(
    f"exec to /healthz over {args.runs} runs: median {statistics.median(times) * 1000:.1f} ms, "
    f"p90 {percentile(times, 0.9) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"
)

luna = Luna()
luna.start()
time.sleep(5)
print(
    f"idle RSS after 5 s: {luna.rss_kib() / 1024:.1f} MiB "
    f"(anonymous {luna.rss_kib('RssAnon') / 1024:.1f} MiB, file-backed {luna.rss_kib('RssFile') / 1024:.1f} MiB)"
)
luna.stop()
