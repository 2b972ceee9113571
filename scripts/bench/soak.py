#!/usr/bin/env python3
"""A soak run as an operator would make one: sustained keep-alive load through the gateway to an
upstream that misbehaves a little, while the Hub follows a log and an MCP client lists tools.

    scripts/bench/soak.py [--minutes 10] [--rate 400] [--clients 8] [--luna target/release/luna]

Luna (release, local mode, a temp home) serves the extension `soak` whose UI (its origin `soak.localhost:<port>`) is
this folder's soak_upstream.py: it answers every 100th request with 500 and drops every 200th
connection in the middle of the answer (Luna answers 502). `--clients` keep-alive connections send `--rate` requests/s in all,
paced. Every 10 s an MCP client lists the tools (`/api/mcp`), and one log follow of the UI stays
open all along.

Every 5 s the script samples luna's RSS and open file descriptors. At the end it prints the RSS
slope over each half (MiB/min, least squares; the second half is the steady state), the responses by status, the 5xx Luna made
itself (its JSON error body) apart from the upstream's own 500s, the connections the upstream
dropped, and client EOFs: a connection closed by Luna while a request waited for its answer,
although the previous answer had not said `Connection: close`.
"""

import argparse
import asyncio
import json
import os
import statistics
import time
import urllib.request

from common import LUNA, ROOT, Luna, build_release

parser = argparse.ArgumentParser()
parser.add_argument("--minutes", type=float, default=10)
parser.add_argument("--rate", type=float, default=400, help="requests per second, all clients together")
parser.add_argument("--clients", type=int, default=8)
parser.add_argument("--luna", default=LUNA, help="the binary to run (default: a fresh release build)")
args = parser.parse_args()

if args.luna == LUNA:
    build_release()

home = __import__("tempfile").mkdtemp(prefix="luna-soak-")
ui = os.path.join(home, "extensions", "soak", "ui")
os.makedirs(ui)
with open(os.path.join(home, "extensions", "soak", "config.json"), "w") as file:
    file.write('{"name": "soak", "version": "1"}')
with open(os.path.join(ui, "start.sh"), "w") as file:
    upstream = os.path.join(ROOT, "scripts", "bench", "soak_upstream.py")
    file.write(f'#!/bin/sh\nexec python3 {upstream} "$1"\n')
os.chmod(os.path.join(ui, "start.sh"), 0o755)

luna = Luna(home, binary=args.luna)
luna.start()
deadline = time.time() + 60
while luna.get("/api/supervisor/services")["services"].get("soak_ui", {}).get("status") != "running":
    if time.time() > deadline:
        raise SystemExit(f"the soak upstream did not start; see {home}/.luna/logs")
    time.sleep(0.2)
token = next(line.split("=", 1)[1].strip() for line in open(os.path.join(home, ".env")) if line.startswith("MCP_AUTH_TOKEN="))


class Counts:
    def __init__(self):
        self.statuses = {}
        self.luna_5xx = 0
        self.client_eofs = 0
        self.reconnects = 0
        self.mcp_failures = 0


counts = Counts()


async def read_response(reader):
    """(status, headers, body) of one HTTP/1.1 response with a Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip().lower()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def client(index, stop_at):
    interval = args.clients / args.rate
    next_at = time.perf_counter() + index * interval / args.clients
    reader = writer = None
    request = f"GET /item HTTP/1.1\r\nHost: soak.localhost:{luna.port}\r\n\r\n".encode()
    while time.perf_counter() < stop_at:
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        next_at += interval
        if writer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", luna.port)
            counts.reconnects += 1
        try:
            writer.write(request)
            await writer.drain()
            status, headers, body = await read_response(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            # The previous answer promised to keep the connection, and it was closed.
            counts.client_eofs += 1
            writer.close()
            writer = None
            continue
        counts.statuses[status] = counts.statuses.get(status, 0) + 1
        if status >= 500 and body.startswith(b'{"error"'):
            counts.luna_5xx += 1
        if headers.get("connection") == "close":
            writer.close()
            writer = None


async def follow_log(stop_at):
    reader, writer = await asyncio.open_unix_connection(os.path.join(home, ".luna", "run", "api.sock"))
    writer.write(b"GET /api/supervisor/services/soak_ui/logs?follow=true HTTP/1.1\r\nHost: luna\r\n"
                 b"Accept: text/event-stream\r\n\r\n")
    await writer.drain()
    while time.perf_counter() < stop_at:
        try:
            await asyncio.wait_for(reader.read(65536), timeout=1)
        except asyncio.TimeoutError:
            pass
    writer.close()


def list_tools():
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "soak", "version": "1"}}})
    request = urllib.request.Request(f"http://127.0.0.1:{luna.port}/api/mcp", data=body.encode(), headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream"})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
        session = response.headers["Mcp-Session-Id"]
    request = urllib.request.Request(f"http://127.0.0.1:{luna.port}/api/mcp", method="DELETE", headers={
        "Authorization": f"Bearer {token}", "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"})
    urllib.request.urlopen(request, timeout=10).read()


async def mcp_every_10s(stop_at):
    while time.perf_counter() < stop_at:
        try:
            await asyncio.to_thread(list_tools)
        except OSError:
            counts.mcp_failures += 1
        await asyncio.sleep(10)


def open_fds():
    return len(os.listdir(f"/proc/{luna.process.pid}/fd"))


async def sample(stop_at, samples):
    started = time.perf_counter()
    while time.perf_counter() < stop_at:
        samples.append((time.perf_counter() - started, luna.rss_kib() / 1024, open_fds()))
        elapsed = samples[-1][0]
        if len(samples) % 12 == 1:
            print(f"  {elapsed:6.0f} s  RSS {samples[-1][1]:6.1f} MiB  fds {samples[-1][2]}", flush=True)
        await asyncio.sleep(5)


def slope_per_minute(points):
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
    variance = sum((x - mean_x) ** 2 for x in xs)
    return 60 * covariance / variance


async def main():
    stop_at = time.perf_counter() + args.minutes * 60
    samples = []
    await asyncio.gather(
        sample(stop_at, samples), follow_log(stop_at), mcp_every_10s(stop_at),
        *(client(index, stop_at) for index in range(args.clients)),
    )
    return samples


print(f"soak: {args.minutes} min at {args.rate:.0f} requests/s over {args.clients} connections, "
      f"luna {args.luna}")
samples = asyncio.run(main())
dropped = sum(1 for line in open(os.path.join(home, ".luna", "logs", "soak_ui.log")) if "dropped" in line)
luna.stop()

first_half = [(t, rss) for t, rss, _ in samples if t < samples[-1][0] / 2]
second_half = [(t, rss) for t, rss, _ in samples if t >= samples[-1][0] / 2]
total = sum(counts.statuses.values())
print(f"requests answered: {total} ({total / (args.minutes * 60):.0f}/s); by status: {dict(sorted(counts.statuses.items()))}")
print(f"5xx made by Luna: {counts.luna_5xx}; connections the upstream dropped: {dropped}")
print(f"client EOFs (closed without saying so): {counts.client_eofs}; connections opened: {counts.reconnects}")
print(f"MCP listings failed: {counts.mcp_failures}")
print(f"RSS: {samples[0][1]:.1f} MiB at start, {max(s[1] for s in samples):.1f} MiB max, {samples[-1][1]:.1f} MiB at end; "
      f"slope over the first half {slope_per_minute(first_half):+.2f} MiB/min, "
      f"over the second half {slope_per_minute(second_half):+.2f} MiB/min")
print(f"open fds: {samples[0][2]} at start, {max(s[2] for s in samples)} max, {samples[-1][2]} at end")
