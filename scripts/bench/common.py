"""Helpers shared by the benchmark scripts: run a release `luna` in a temp home and talk to it."""

import base64
import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# LUNA_BENCH_BINARY runs the benchmarks against another build (e.g. the one before a change).
LUNA = os.environ.get("LUNA_BENCH_BINARY") or os.path.join(ROOT, "target", "release", "luna")


def build_release():
    if os.environ.get("LUNA_BENCH_BINARY"):
        return
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthz_answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


class Luna:
    """`luna serve` in `home` (a new temp dir by default) on a free loopback port."""

    def __init__(self, home=None, binary=LUNA):
        self.binary = binary
        self.home = home or tempfile.mkdtemp(prefix="luna-bench-")
        self.port = free_port()
        self.process = None

    def start(self):
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [self.binary, "--home", self.home, "serve", "--http-listen", f"127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.home, "luna.log"), "ab"),
        )
        while not healthz_answers(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"luna exited early; see {self.home}/luna.log")
            if time.perf_counter() - started > 30:
                raise RuntimeError("luna did not answer /healthz within 30 s")
        return time.perf_counter() - started

    def start_or_exit(self):
        """`start`, or leave the script with the end of Luna's log when it cannot start."""
        try:
            return self.start()
        except RuntimeError as error:
            log = open(os.path.join(self.home, "luna.log")).read()[-2000:]
            raise SystemExit(f"{error}:\n{log}")

    def get(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as response:
            return json.load(response)

    def cpu_seconds(self):
        fields = open(f"/proc/{self.process.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self, field="VmRSS"):
        """`VmRSS` (all resident pages), or `RssAnon` (the process's own memory: heap, stacks),
        or `RssFile` (mapped files, mostly the binary's code, shared with other processes)."""
        for line in open(f"/proc/{self.process.pid}/status"):
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=20)


def ensure_wrk():
    """wrk (Debian: wrk) drives the HTTP benchmarks."""
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)


def wrk(url, connections, seconds, headers=()):
    """Requests per second from one wrk run (2 threads); any failed request stops the benchmark."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s"]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run(command + [url], check=True, capture_output=True, text=True).stdout
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: (.*)"):
        problem = re.search(pattern, output)
        if problem:
            raise SystemExit(f"wrk saw failures ({problem.group(0)}):\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


# --- a minimal GitHub for logins: authorize (PKCE checked), token, /user -----------------
grants = {}


class FakeGithub(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/login/oauth/authorize":
            grants["code"] = query["code_challenge"]
            location = f"{query['redirect_uri']}?code=code&state={urllib.parse.quote(query['state'])}"
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path == "/api/user":
            self.reply({"id": 1, "login": "bench", "name": "Bench", "avatar_url": None})
        else:
            self.reply({"message": "Not Found"}, 404)

    def do_POST(self):
        form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
        digest = hashlib.sha256(form["code_verifier"].encode()).digest()
        assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == grants["code"]
        self.reply({"access_token": "gho_bench", "token_type": "bearer", "scope": "read:org"})

    def reply(self, document, status=200):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start_fake_github():
    """A `FakeGithub` on a free loopback port, serving in a thread."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeGithub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
