#!/usr/bin/env python3
"""Installing an extension: time from `luna ext install github:…` to its tool listed at
`/api/mcp`, for a small extension (no dependencies) and for one whose `requirements.txt`
installs one local wheel (a fresh `.venv` and pip each time). GitHub is the stand-in of
tests/standins/github_repos.py on loopback; each run installs into a fresh Luna.

    scripts/bench/install.py [--runs 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
import urllib.request

from common import LUNA, ROOT, Luna, build_release, free_port, percentile

parser = argparse.ArgumentParser()
parser.add_argument("--runs", type=int, default=5)
args = parser.parse_args()

TOOL = "def WEATHER_GET_forecast(city: str) -> str:\n    \"\"\"Today's forecast.\"\"\"\n    return city\n\n\nTOOLS = [WEATHER_GET_forecast]\n"
WHEELS = os.path.join(ROOT, "tests", "fixtures", "wheels")


def extension(folder, requirements):
    os.makedirs(os.path.join(folder, "tools"))
    with open(os.path.join(folder, "config.json"), "w") as file:
        json.dump({"name": "weather", "version": "1"}, file)
    with open(os.path.join(folder, "tools", "weather_tools.py"), "w") as file:
        file.write(("import luna_fixture_greeting\n\n" if requirements else "") + TOOL)
    with open(os.path.join(folder, "tools", "tool_config.json"), "w") as file:
        json.dump({"WEATHER_GET_forecast": {"enabled_in_mcp": True}}, file)
    if requirements:
        with open(os.path.join(folder, "requirements.txt"), "w") as file:
            file.write(f"--no-index\n--find-links {WHEELS}\nluna-fixture-greeting==1.0\n")


def tools_listed(port):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}}}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/mcp", body, {
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    if not text.startswith("{"):
        text = [line[5:] for line in text.splitlines() if line.startswith("data:")][-1]
    return [tool["name"] for tool in json.loads(text)["result"]["tools"]]


build_release()
work = tempfile.mkdtemp(prefix="luna-bench-install-")
extension(os.path.join(work, "small"), requirements=False)
extension(os.path.join(work, "wheel"), requirements=True)
github_port = free_port()
github = subprocess.Popen(
    ["python3", os.path.join(ROOT, "tests", "standins", "github_repos.py"), "--port", str(github_port),
     f"octo/small={work}/small", f"octo/wheel={work}/wheel"],
    stdout=subprocess.PIPE, text=True)
assert github.stdout.readline().strip() == "ready"
try:
    for repo in ["small", "wheel"]:
        durations = []
        for _ in range(args.runs):
            luna = Luna()
            os.makedirs(os.path.join(luna.home, "config"))
            with open(os.path.join(luna.home, "config", "luna.toml"), "w") as file:
                file.write(f"[auth.github]\napi_url = \"http://127.0.0.1:{github_port}/api\"\n")
            luna.start()
            try:
                started = time.perf_counter()
                subprocess.run([LUNA, "--home", luna.home, "ext", "install", f"github:octo/{repo}", "--name", "weather"],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                while "WEATHER_GET_forecast" not in tools_listed(luna.port):
                    assert time.perf_counter() - started < 120, "the tool never appeared"
                durations.append((time.perf_counter() - started) * 1000)
            finally:
                luna.stop()
        print(f"{repo:5}: install → tool listed at /api/mcp, median {statistics.median(durations):.0f} ms, "
              f"p90 {percentile(durations, 0.9):.0f} ms, min {min(durations):.0f} ms ({args.runs} runs)")
finally:
    github.terminate()
