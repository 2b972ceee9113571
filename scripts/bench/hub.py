#!/usr/bin/env python3
"""The Hub's weight and speed: gzip size of the JavaScript and CSS the first page loads
(budget 200 KB), and time from navigation to the dashboard showing live data on loopback
(budget 400 ms), in Chromium, a fresh browser context per run (nothing cached).

    scripts/bench/hub.py [--runs 10]
"""

import argparse
import gzip
import json
import re
import statistics
import subprocess
import urllib.request

from common import ROOT, Luna, build_release, percentile

parser = argparse.ArgumentParser()
parser.add_argument("--runs", type=int, default=10)
args = parser.parse_args()

build_release()
luna = Luna()
luna.start()
try:
    base = f"http://127.0.0.1:{luna.port}"

    def fetch(path):
        request = urllib.request.Request(base + path, headers={"Accept-Encoding": "gzip", "Accept": "text/html"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read(), response.headers.get("Content-Encoding")

    page, _ = fetch("/")
    html = gzip.decompress(page).decode()
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+\.(?:js|css))"', html)
    total = 0
    for asset in assets:
        body, encoding = fetch(asset)
        assert encoding == "gzip", f"{asset} was not sent compressed"
        total += len(body)
        print(f"{asset}: {len(body) / 1000:.1f} KB gzip")
    print(f"initial JavaScript + CSS: {total / 1000:.1f} KB gzip (budget 200 KB)")

    output = subprocess.run(
        ["node", f"{ROOT}/scripts/bench/hub_load.mjs", base + "/", str(args.runs)],
        check=True, capture_output=True, text=True,
    ).stdout
    times = json.loads(output.strip().splitlines()[-1])
    print(
        f"navigation to live dashboard over {args.runs} runs: median {statistics.median(times):.0f} ms, "
        f"p90 {percentile([t / 1000 for t in times], 0.9) * 1000:.0f} ms, max {max(times):.0f} ms (budget 400 ms)"
    )
finally:
    luna.stop()
