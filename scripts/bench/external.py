#!/usr/bin/env python3
"""External services on the local Docker engine: time from install request to healthy, and
the time to list installed services with 20 installed.

    scripts/bench/external.py [--installs 5] [--services 20] [--lists 200]

Uses scripts/test-docker.sh (Docker engine, local registry, busybox test image) and the
`webcheck` test definition (busybox httpd, host networking, Docker healthcheck every 0.5 s
plus Luna's HTTP probe). The image is already local, so an install is: pull check against the
registry, create, start, healthy. Everything runs over the API socket, as the CLI does.
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

from common import ROOT, Luna, build_release, free_port, percentile

parser = argparse.ArgumentParser()
parser.add_argument("--installs", type=int, default=5)
parser.add_argument("--services", type=int, default=20)
parser.add_argument("--lists", type=int, default=200)
args = parser.parse_args()

exports = subprocess.run([os.path.join(ROOT, "scripts", "test-docker.sh")], check=True,
                         capture_output=True, text=True).stdout
env = dict(line.removeprefix("export ").split("=", 1) for line in exports.splitlines() if line.startswith("export "))
image = env["LUNA_TEST_DOCKER_IMAGE"]
build_release()


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("luna")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def api(luna, method, path, body=None):
    connection = UnixConnection(os.path.join(luna.home, ".luna", "run", "api.sock"))
    payload = json.dumps(body).encode() if body is not None else None
    connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    if response.status >= 300:
        raise SystemExit(f"{method} {path}: {response.status} {data[:300]!r}")
    return json.loads(data)


fixture = os.path.join(ROOT, "tests", "fixtures", "external_services", "webcheck")
home = tempfile.mkdtemp(prefix="luna-bench-external-")
names = [f"wc-bench-{os.getpid()}-{index}" for index in range(args.services)]
for name in names:
    service = json.load(open(os.path.join(fixture, "service.json")))
    service.update(name=name, image=image)
    os.makedirs(os.path.join(home, "external_services", name))
    json.dump(service, open(os.path.join(home, "external_services", name, "service.json"), "w"))
    shutil.copy(os.path.join(fixture, "config-form.json"), os.path.join(home, "external_services", name))

luna = Luna(home)
luna.start()
try:
    durations = []
    for _ in range(args.installs):
        started = time.perf_counter()
        view = api(luna, "POST", f"/api/external-services/{names[0]}/install", {"config": {"port": free_port()}})
        durations.append(time.perf_counter() - started)
        assert view["status"] == "running", view
        api(luna, "POST", f"/api/external-services/{names[0]}/uninstall", {"remove_data": True})

    for name in names:
        api(luna, "POST", f"/api/external-services/{name}/install", {"config": {"port": free_port()}})
    listings = []
    for _ in range(args.lists):
        started = time.perf_counter()
        installed = api(luna, "GET", "/api/external-services/installed")
        listings.append(time.perf_counter() - started)
    assert len(installed) == args.services, len(installed)
    rss = luna.rss_kib()
finally:
    for name in names:
        try:
            api(luna, "POST", f"/api/external-services/{name}/uninstall", {"remove_data": True})
        except SystemExit:
            pass
    luna.stop()

print(f"install request → healthy ({args.installs} installs, local image, healthcheck every 0.5 s):")
print(f"  median {statistics.median(durations) * 1000:.0f} ms, min {min(durations) * 1000:.0f} ms, "
      f"max {max(durations) * 1000:.0f} ms")
print(f"GET /api/external-services/installed with {args.services} installed ({args.lists} requests):")
print(f"  p50 {percentile(listings, 0.5) * 1000:.2f} ms, p99 {percentile(listings, 0.99) * 1000:.2f} ms")
print(f"luna RSS with {args.services} services installed: {rss / 1024:.1f} MiB")
