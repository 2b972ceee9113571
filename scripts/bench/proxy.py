#!/usr/bin/env python3
"""Luna's gateway side by side with nginx (and Caddy, where Debian's `caddy` installs) as reverse
proxies in front of the same upstream: requests/s, CPU per request, p99 latency at a fixed rate,
and RSS. Uses nginx, wrk and caddy from Debian (installed with apt-get when missing).

    scripts/bench/proxy.py [--seconds 10] [--rounds 3] [--connections 50] [--rate 2000]
                           [--proxies luna,nginx,caddy] [--quick]

`--quick` is a smoke check (2 s runs, 1 round). `--proxies nginx,caddy` leaves Luna out (no
release build needed). `LUNA_BENCH_BINARY=/path/to/luna` measures another build.

Setup, on a 2-core machine:
- core 0 (`taskset -c 0`): the proxy under test, one at a time under load. Luna's release
  binary (its access log off: `LUNA_LOG_LEVEL=info,luna::access=off`, as Luna has no setting
  for it), nginx (`worker_processes 1`, `access_log off`, upstream keep-alive), Caddy (which
  logs no requests unless told to; Go sizes GOMAXPROCS from the affinity: 1).
- core 1 (`taskset -c 1`): wrk (2 threads, HTTP/1.1 keep-alive, `--connections`) and the
  upstream, an nginx serving two static files (1 KiB and 64 KiB of random bytes). Luna runs it
  as the UI of an extension `bench` (`ui/start.sh` execs nginx on the port Luna gives it), so
  Luna reaches it as an app: on its own origin, `Host: bench.localhost:<luna port>`. nginx and
  Caddy proxy to the same upstream process.
- every body is fetched once through every proxy and compared byte for byte before any load;
- rounds are interleaved (round 1: every row, Luna then nginx then Caddy; round 2: again ...),
  and the table has the median of the rounds;
- requests/s and CPU/request come from a run at full speed: CPU is utime+stime of the proxy's
  processes (/proc/<pid>/stat; for nginx master and worker) before and after the run, divided by
  the requests wrk counted;
- p99 comes from a second run at a fixed rate (`--rate`): with wrk2 where it is installed, else
  (Debian has no wrk2) with wrk, each connection pausing `connections / rate` between an answer
  and its next request (closed loop: a stall delays the requests behind it instead of counting
  against them, so it reads lower than wrk2's coordinated-omission-corrected figure);
- RSS (VmRSS, and VmHWM, the peak) of every proxy after the last round.

Rows:
- open route, 1 KiB / 64 KiB: GET /1k.bin, /64k.bin through each proxy. Luna in local mode
  without a GitHub login (open: an app origin needs no session), on the app's origin.
- session-gated route, 1 KiB: the same request to a Luna with a GitHub login configured (a fake
  GitHub on loopback, one login made through /auth/login and the app origin's login hop), with
  the app session cookie: the gateway checks the session on every request. Luna only; compared
  with the open Luna of the same rounds.
- HTTPS, 1 KiB: Luna in lan mode (its self-signed certificate; lan mode always has a GitHub
  login, so this request also carries an app session that the gateway checks) against nginx and
  Caddy with a self-signed P-256 certificate from `openssl req -x509`, no login.

Every process the script starts is stopped by its pid when it ends (also on Ctrl-C); the
upstreams Luna started are stopped by Luna, and checked by the pid in their pid files after.
Loopback only. Run it as root (apt-get, and the nginx workers drop to `nobody`).
"""

import argparse
import http.client
import http.server
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import typing
import urllib.parse

from common import LUNA, Luna, build_release, ensure_wrk, free_port, start_fake_github

PROXIES = ("luna", "nginx", "caddy")
# The rows of the table and the file each one fetches.
ROWS = {"open 1 KiB": "/1k.bin", "open 64 KiB": "/64k.bin", "session-gated 1 KiB": "/1k.bin", "HTTPS 1 KiB": "/1k.bin"}
LABELS = {"luna": "Luna", "nginx": "nginx", "caddy": "Caddy"}
APP = "bench"  # the extension whose UI is the upstream
BODIES = {"/1k.bin": os.urandom(1024), "/64k.bin": os.urandom(64 * 1024)}
# The access log is one `info` line of target `luna::access` per request; this filter drops
# only that target (there is no setting that turns the access log off).
LOG_LEVEL = os.environ.setdefault("LUNA_LOG_LEVEL", "info,luna::access=off")

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (the table shows medians)")
parser.add_argument("--connections", type=int, default=50)
parser.add_argument("--rate", type=int, default=2000, help="requests/s of the latency run")
parser.add_argument("--proxies", default=",".join(PROXIES), help="which of luna,nginx,caddy to run")
parser.add_argument("--quick", action="store_true", help="a smoke check: 2 s runs, 1 round")
args = parser.parse_args()
if args.quick:
    args.seconds, args.rounds = 2, 1
wanted = [name.strip() for name in args.proxies.split(",") if name.strip()]
if not wanted or set(wanted) - set(PROXIES):
    parser.error(f"--proxies takes names from {','.join(PROXIES)}")

WORK = tempfile.mkdtemp(prefix="luna-bench-proxy-")
os.chmod(WORK, 0o755)  # the nginx workers (user nobody) read the static files in here
DOCROOT = os.path.join(WORK, "www")
CERT, KEY = os.path.join(WORK, "cert.pem"), os.path.join(WORK, "key.pem")


# --- packages ------------------------------------------------------------------------------
def apt_install(*packages):
    """True if apt-get installed one of `packages` (the first that works); lists refreshed once."""
    if os.geteuid() != 0:
        return False
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for attempt in range(2):
        for package in packages:
            done = subprocess.run(["apt-get", "install", "-y", "-qq", package], env=environment,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
            if done:
                return True
        if attempt == 0:
            subprocess.run(["apt-get", "update", "-qq"], env=environment, stdout=subprocess.DEVNULL)
    return False


def ensure_tools():
    global NGINX
    if not shutil.which("nginx") and not apt_install("nginx-light", "nginx"):
        raise SystemExit("nginx is missing: apt-get install nginx-light (or nginx)")
    NGINX = shutil.which("nginx")
    try:
        ensure_wrk()
    except (subprocess.CalledProcessError, FileNotFoundError):
        if not apt_install("wrk"):
            raise SystemExit("wrk is missing: apt-get install wrk")
    if "caddy" in wanted and not shutil.which("caddy") and not apt_install("caddy"):
        print("note: Caddy is left out: Debian's `caddy` package did not install")
        wanted.remove("caddy")


def version(command):
    output = subprocess.run(command, capture_output=True, text=True)
    return (output.stdout + output.stderr).strip().splitlines()[0]


# --- processes -----------------------------------------------------------------------------
def children_of(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def is_alive(pid):
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill_pid(pid, timeout=10):
    """SIGTERM to `pid`, then SIGKILL to it and the children it had, if it lingers."""
    kids = children_of(pid)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    for victim in [pid] + kids:
        if is_alive(victim):
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass


def proc_cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status_kib(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


class Server:
    """nginx or Caddy, started by this script on core `core`; its CPU and RSS are those of the
    process and its children (nginx's master and worker)."""

    def __init__(self, name, command, core, environment=None):
        self.name = name
        self.log = os.path.join(WORK, f"{name}.log")
        self.process = subprocess.Popen([TASKSET, "-c", str(core)] + command, env=environment,
                                        stdout=subprocess.DEVNULL, stderr=open(self.log, "ab"))

    def pids(self):
        return [self.process.pid] + children_of(self.process.pid)

    def wait_for_port(self, port):
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{self.name} did not listen on {port}; see {self.log}")
                time.sleep(0.05)

    def total(self, read):
        values = []
        for pid in self.pids():
            try:
                values.append(read(pid))
            except OSError:  # a child gone in between
                pass
        return sum(values)

    def cpu_seconds(self):
        return self.total(proc_cpu_seconds)

    def rss_kib(self, field="VmRSS"):
        return self.total(lambda pid: proc_status_kib(pid, field))

    def stop(self):
        if self.process.poll() is None:
            kill_pid(self.process.pid)
        self.process.wait(timeout=10)


class PinnedLuna(Luna):
    """common.Luna (local mode), with `luna` started by a wrapper that execs
    `taskset -c 0 luna ...`: the pid stays the one Popen returned, and every thread and child
    of Luna inherits core 0 (the upstream's start.sh moves itself to core 1)."""

    def __init__(self, home):
        wrapper = os.path.join(WORK, "luna-on-core-0")
        with open(wrapper, "w") as file:
            file.write(f'#!/bin/sh\nexec {TASKSET} -c 0 {shlex.quote(os.path.abspath(LUNA))} "$@"\n')
        os.chmod(wrapper, 0o755)
        super().__init__(home, binary=wrapper)


class LanLuna(PinnedLuna):
    """Luna in lan mode: HTTPS with its self-signed certificate on `https_port` (its plain HTTP
    port only redirects, so readiness is /healthz over HTTPS)."""

    def start(self):
        self.https_port = free_port()
        self.process = subprocess.Popen(
            [self.binary, "--home", self.home, "serve", "--http-listen", f"127.0.0.1:{self.port}",
             "--https-listen", f"127.0.0.1:{self.https_port}"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.home, "luna.log"), "ab"),
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if get(f"https://127.0.0.1:{self.https_port}/healthz")[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"luna (lan) did not serve HTTPS; see {self.home}/luna.log")
            time.sleep(0.05)


# --- HTTP on loopback ----------------------------------------------------------------------
INSECURE = ssl.create_default_context()
INSECURE.check_hostname = False
INSECURE.verify_mode = ssl.CERT_NONE


def get(url, headers=None):
    """One GET to 127.0.0.1 at `url`'s port, with `url`'s host in `Host` unless `headers` has
    one (so `bench.localhost:8800` needs no resolver); redirects are not followed.
    Returns (status, headers, body)."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=INSECURE)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", target, headers={"Host": parts.netloc, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def cookie_named(response_headers, suffix):
    """`name=value` of the Set-Cookie whose name ends with `suffix` (any `__Host-` prefix)."""
    for header in response_headers.get_all("Set-Cookie") or []:
        pair = header.split(";")[0]
        if pair.split("=", 1)[0].endswith(suffix):
            return pair
    raise SystemExit(f"no {suffix} cookie in {response_headers.get_all('Set-Cookie')}")


def hub_login(hub):
    """A Hub session cookie from one GitHub login at `hub` (`scheme://127.0.0.1:port`)."""
    status, headers, _ = get(f"{hub}/auth/login?rd=/")
    assert status == 302, f"/auth/login answered {status}"
    login_cookie = cookie_named(headers, "luna_login")
    _, github, _ = get(headers["Location"])
    status, headers, body = get(github["Location"], {"Cookie": login_cookie})
    assert status == 302, f"/auth/callback answered {status}: {body[:200]!r}"
    return cookie_named(headers, "luna_session")


def app_target(hub, hub_cookie):
    """(origin, Cookie header or None) of the app `APP`: its origin from the Hub's redirect of
    /ext/<app>/; with a Hub session, an app session through the login hop (app origin → Hub
    /auth/app → the app origin's /__luna/callback)."""
    deadline = time.monotonic() + 30
    while True:  # the app's routes come with the extension, once Luna has read it
        status, headers, _ = get(f"{hub}/ext/{APP}/", {"Cookie": hub_cookie} if hub_cookie else {})
        if status in (301, 302, 307, 308) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status in (301, 302, 307, 308), f"/ext/{APP}/ answered {status}"
    parts = urllib.parse.urlsplit(headers["Location"])
    origin = f"{parts.scheme}://{parts.netloc}"
    if not hub_cookie:
        return origin, None
    status, headers, _ = get(f"{origin}/", {"Accept": "text/html"})
    assert status == 302, f"the app origin answered {status} without a session"
    state_cookie = cookie_named(headers, f"luna_app_state-{APP}")
    status, headers, _ = get(headers["Location"], {"Cookie": hub_cookie})
    assert status == 302, f"/auth/app answered {status}"
    status, headers, body = get(headers["Location"], {"Cookie": state_cookie})
    assert status == 302, f"the login hop's callback answered {status}: {body[:200]!r}"
    return origin, cookie_named(headers, f"luna_app-{APP}")


# --- configuration -------------------------------------------------------------------------
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"  # where Debian puts it; looked up again once installed
TASKSET = shutil.which("taskset") or "/usr/bin/taskset"


def nginx_conf(name, http_block):
    """nginx.conf for one nginx of ours: foreground, one worker, no access log, everything it
    writes in WORK/<name>/."""
    directory = os.path.join(WORK, name)
    os.makedirs(directory, exist_ok=True)
    temp_paths = "".join(f"    {kind}_temp_path {directory}/{kind};\n"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    path = os.path.join(directory, "nginx.conf")
    with open(path, "w") as file:
        file.write(f"""# generated by scripts/bench/proxy.py
daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    default_type application/octet-stream;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
{temp_paths}{http_block}
}}
""")
    return path


def upstream_conf(name, port):
    """The upstream: the static files, and /healthz for Luna's supervisor."""
    return nginx_conf(name, f"""    sendfile on;
    open_file_cache max=16;
    server {{
        listen 127.0.0.1:{port};
        root {DOCROOT};
        location = /healthz {{ return 200 "ok\\n"; }}
    }}""")


def proxy_nginx_conf(upstream, http_port, https_port):
    """The reference proxy: keep-alive to the upstream, the headers a proxy adds, and buffers
    large enough that a 64 KiB answer never goes to a temp file."""
    return nginx_conf("nginx-proxy", f"""    upstream app {{
        server 127.0.0.1:{upstream};
        keepalive 64;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
    }}
    server {{
        listen 127.0.0.1:{http_port};
        listen 127.0.0.1:{https_port} ssl;
        ssl_certificate {CERT};
        ssl_certificate_key {KEY};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffer_size 16k;
            proxy_buffers 8 16k;
        }}
    }}""")


def caddy_conf(upstream, http_port, https_port):
    """Caddy's JSON config: no admin endpoint, no automatic HTTPS, HTTP/1.1 (and h2 on TLS,
    which wrk does not ask for), keep-alive to the upstream with room for every connection."""
    proxy = {"handler": "reverse_proxy", "upstreams": [{"dial": f"127.0.0.1:{upstream}"}],
             "transport": {"protocol": "http", "keep_alive": {"max_idle_conns_per_host": 256}}}
    server = {"automatic_https": {"disable": True}, "routes": [{"handle": [proxy]}]}
    config = {
        "admin": {"disabled": True, "config": {"persist": False}},
        "logging": {"logs": {"default": {"level": "WARN"}}},
        "storage": {"module": "file_system", "root": os.path.join(WORK, "caddy", "data")},
        "apps": {
            "http": {"servers": {
                "plain": {**server, "listen": [f"127.0.0.1:{http_port}"], "protocols": ["h1"]},
                "tls": {**server, "listen": [f"127.0.0.1:{https_port}"], "protocols": ["h1", "h2"],
                        "tls_connection_policies": [{"default_sni": "localhost"}]},
            }},
            "tls": {"certificates": {"load_files": [{"certificate": CERT, "key": KEY}]}},
        },
    }
    os.makedirs(os.path.join(WORK, "caddy"), exist_ok=True)
    path = os.path.join(WORK, "caddy", "caddy.json")
    with open(path, "w") as file:
        json.dump(config, file, indent=2)
    return path


def luna_home(kind, github_port):
    """A Luna home with extension `bench` whose UI is an upstream nginx on a port fixed in
    advance (`supervisor.ui_ports` of one port). Returns (home, upstream port, its pid file)."""
    home = tempfile.mkdtemp(prefix=f"luna-{kind}-", dir=WORK)
    port = free_port()
    conf = upstream_conf(f"upstream-{kind}", port)
    ui = os.path.join(home, "extensions", APP, "ui")
    os.makedirs(ui)
    os.makedirs(os.path.join(home, "config"))
    with open(os.path.join(home, "extensions", APP, "config.json"), "w") as file:
        json.dump({"name": APP, "version": "1"}, file)
    with open(os.path.join(ui, "start.sh"), "w") as file:
        file.write(f"""#!/bin/sh
# The benchmark's upstream, on the other core than Luna's (which it would inherit).
[ "$1" = "{port}" ] || {{ echo "expected port {port}, got $1" >&2; exit 1; }}
exec {TASKSET} -c 1 {NGINX} -c {conf}
""")
    os.chmod(os.path.join(ui, "start.sh"), 0o755)
    toml = ""
    if kind == "lan":
        toml += 'deployment_mode = "lan"\npublic_domain = "bench.home.arpa"\n'
    toml += f"[supervisor]\nui_ports = [{port}, {port}]\n"
    if kind != "open":
        base = f"http://127.0.0.1:{github_port}"
        toml += (f'[auth]\nallowed_users = ["bench"]\n[auth.github]\nauthorize_url = "{base}/login/oauth/authorize"\n'
                 f'token_url = "{base}/login/oauth/access_token"\napi_url = "{base}/api"\n')
        with open(os.path.join(home, ".env"), "w") as file:
            file.write("GITHUB_CLIENT_ID=bench\nGITHUB_CLIENT_SECRET=bench\n")
    with open(os.path.join(home, "config", "luna.toml"), "w") as file:
        file.write(toml)
    return home, port, os.path.join(os.path.dirname(conf), "nginx.pid")


# --- load ----------------------------------------------------------------------------------
class Target(typing.NamedTuple):
    """Where wrk sends a row's requests for one proxy, and whose CPU and RSS count."""
    base: str  # scheme://127.0.0.1:port
    headers: list  # "Name: value", as wrk -H takes them
    server: object  # PinnedLuna, LanLuna or Server


WRK2 = shutil.which("wrk2")
PACE_MS = max(1, round(1000 * args.connections / args.rate))
PACE = os.path.join(WORK, "pace.lua")
with open(PACE, "w") as pace_file:
    pace_file.write(f"-- each connection waits {PACE_MS} ms after an answer: {args.connections} connections "
                    f"send about {args.rate} requests/s\nfunction delay() return {PACE_MS} end\n")


def wrk_command(target, path, seconds, rate=None):
    """wrk on core 1: full speed, or about `rate` requests/s (wrk2 -R, else the pause script)."""
    command = [TASKSET, "-c", "1", WRK2 if rate and WRK2 else "wrk", "-t2", f"-c{args.connections}",
               f"-d{seconds}s", "--latency"]
    if rate:
        command += [f"-R{rate}"] if WRK2 else ["-s", PACE]
    for header in target.headers:
        command += ["-H", header]
    return command + [target.base + path]


def wrk_run(target, path, rate=None):
    """Requests, req/s and p99 (ms) of one run; any failed request stops the benchmark."""
    command = wrk_command(target, path, args.seconds, rate)
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: (.*)"):
        problem = re.search(pattern, output)
        if problem:
            raise SystemExit(f"wrk saw failures ({problem.group(0)}):\n{shlex.join(command)}\n{output}")
    p99 = re.search(r"^\s*99(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\b", output, re.M)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
    return {
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p99": float(p99.group(1)) * scale[p99.group(2)],
    }


def measure(target, path):
    """Full speed (req/s, CPU/request of the proxy), then the fixed rate (p99)."""
    before = target.server.cpu_seconds()
    fast = wrk_run(target, path)
    cpu = target.server.cpu_seconds() - before
    paced = wrk_run(target, path, rate=args.rate)
    return {"rps": fast["rps"], "cpu_us": 1e6 * cpu / fast["requests"], "p99": paced["p99"],
            "paced_rps": paced["rps"]}


def check_body(target, path):
    """The body through this proxy, with the headers wrk will send, is the file, byte for byte."""
    fields = dict(header.split(": ", 1) for header in target.headers)
    deadline = time.monotonic() + 30
    while True:  # an app may still be starting behind Luna
        try:
            status, _, body = get(target.base + path, fields)
        except (OSError, http.client.HTTPException) as error:
            status, body = None, repr(error).encode()
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if status != 200 or body != BODIES[path]:
        raise SystemExit(f"{target.base}{path} {target.headers}: {status}, {len(body)} bytes, not the "
                         f"{len(BODIES[path])} bytes of {path}: {body[:200]!r}")


# --- the run -------------------------------------------------------------------------------
started = []  # everything to stop, in the order started
upstream_pid_files = []  # of the upstreams Luna starts: checked after Luna stopped


def stop_everything():
    for thing in reversed(started):
        if getattr(thing, "process", None) is None:
            continue
        try:
            thing.stop()
        except Exception as error:  # noqa: BLE001 - the rest must be stopped all the same
            print(f"note: stopping pid {thing.process.pid} failed ({error!r}); killing it", file=sys.stderr)
            kill_pid(thing.process.pid)
    started.clear()
    for pid_file in upstream_pid_files:
        try:
            pid = int(open(pid_file).read().strip())
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read() if is_alive(pid) else b""
        except (OSError, ValueError):
            continue
        if os.path.dirname(pid_file).encode() in cmdline:  # still our upstream, not a reused pid
            print(f"note: upstream nginx {pid} outlived Luna; stopping it", file=sys.stderr)
            kill_pid(pid)


def start_lunas(github_port, targets, servers):
    """Three Lunas (open local, local with a GitHub login, lan), each with its own upstream.
    Returns the open one's upstream port, which nginx and Caddy proxy to as well."""
    for kind in ("open", "gated", "lan"):
        home, port, pid_file = luna_home(kind, github_port)
        luna = (LanLuna if kind == "lan" else PinnedLuna)(home)
        started.append(luna)
        upstream_pid_files.append(pid_file)
        luna.start()
        servers[f"Luna ({kind})"] = luna
        hub = f"https://127.0.0.1:{luna.https_port}" if kind == "lan" else f"http://127.0.0.1:{luna.port}"
        origin, cookie = app_target(hub, None if kind == "open" else hub_login(hub))
        parts = urllib.parse.urlsplit(origin)
        base = f"{parts.scheme}://127.0.0.1:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        target = Target(base, [f"Host: {parts.netloc}"] + ([f"Cookie: {cookie}"] if cookie else []), luna)
        if kind == "open":
            upstream = port
            targets["open 1 KiB"]["luna"] = targets["open 64 KiB"]["luna"] = target
        elif kind == "gated":
            targets["session-gated 1 KiB"]["luna"] = target
        else:
            targets["HTTPS 1 KiB"]["luna"] = target
    return upstream


def start_references(upstream, targets, servers):
    """nginx and Caddy on core 0, each with a plain and a TLS listener."""
    for name in ("nginx", "caddy"):
        if name not in wanted:
            continue
        http_port, https_port = free_port(), free_port()
        if name == "nginx":
            server = Server("nginx", [NGINX, "-c", proxy_nginx_conf(upstream, http_port, https_port)], core=0)
        else:
            home = os.path.join(WORK, "caddy")
            environment = {**os.environ, "HOME": home, "XDG_DATA_HOME": home, "XDG_CONFIG_HOME": home}
            server = Server("caddy", ["caddy", "run", "--config", caddy_conf(upstream, http_port, https_port)],
                            core=0, environment=environment)
        started.append(server)
        server.wait_for_port(http_port)
        server.wait_for_port(https_port)
        servers[LABELS[name]] = server
        plain = Target(f"http://127.0.0.1:{http_port}", [], server)
        targets["open 1 KiB"][name] = targets["open 64 KiB"][name] = plain
        targets["HTTPS 1 KiB"][name] = Target(f"https://127.0.0.1:{https_port}", [], server)


def fmt(value, spec, suffix=""):
    return "—" if value is None else f"{value:{spec}}{suffix}"


def main():
    ensure_tools()
    if "luna" in wanted:
        build_release()
        if not os.path.exists(LUNA):
            raise SystemExit(f"no luna binary at {LUNA}")
    versions = {"nginx": version([NGINX, "-v"]).removeprefix("nginx version: ")}
    if "luna" in wanted:
        versions["luna"] = f"{version([LUNA, '--version'])}, {LUNA}"
    if "caddy" in wanted:
        versions["caddy"] = "caddy " + version(["caddy", "version"]).split()[0]

    os.makedirs(DOCROOT)
    for path, body in BODIES.items():
        with open(DOCROOT + path, "wb") as file:
            file.write(body)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", KEY, "-out", CERT, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    os.chmod(KEY, 0o644)  # nginx reads it as root, but Caddy's loader wants it readable, too

    github = start_fake_github()

    targets = {row: {} for row in ROWS}  # row -> proxy -> Target
    servers = {}  # label -> what CPU and RSS are read from
    if "luna" in wanted:
        upstream = start_lunas(github.server_address[1], targets, servers)
    else:
        upstream = free_port()
        server = Server("upstream", [NGINX, "-c", upstream_conf("upstream", upstream)], core=1)
        started.append(server)
        server.wait_for_port(upstream)
    start_references(upstream, targets, servers)
    rows = [(row, ROWS[row], by_proxy) for row, by_proxy in targets.items() if by_proxy]

    # Every body through every proxy, byte for byte; then one warm-up second each (not counted).
    for _, path, by_proxy in rows:
        for target in by_proxy.values():
            check_body(target, path)
    for _, path, by_proxy in rows:
        for target in by_proxy.values():
            subprocess.run(wrk_command(target, path, 1), check=True, capture_output=True)

    runs = sum(len(by_proxy) for _, _, by_proxy in rows)
    total = runs * 2 * args.seconds * args.rounds
    print(f"{runs} targets, 2 runs each per round: about {f'{total / 60:.0f} min' if total >= 120 else f'{total} s'}",
          file=sys.stderr, flush=True)
    results = {row: {name: [] for name in by_proxy} for row, _, by_proxy in rows}
    for number in range(args.rounds):
        for row, path, by_proxy in rows:
            for name in PROXIES:
                if name in by_proxy:
                    results[row][name].append(measure(by_proxy[name], path))
        print(f"round {number + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    memory = {label: (server.rss_kib("VmRSS"), server.rss_kib("VmHWM")) for label, server in servers.items()}
    report(rows, results, memory, versions)


def report(rows, results, memory, versions):
    def median(row, name, key):
        runs = results.get(row, {}).get(name)
        return statistics.median(run[key] for run in runs) if runs else None

    shown = [name for name in PROXIES if name in wanted]
    others = [name for name in shown if name != "luna"]
    at = f"@{args.rate / 1000:g}k"
    print(f"\nreverse proxies: {', '.join(LABELS[n] for n in shown)}; {args.rounds} interleaved round(s), "
          f"{args.seconds} s per run, {args.connections} connections, medians")
    print(f"- core 0, the proxies: {'; '.join(versions[n] for n in shown)}")
    print(f"- core 1: wrk -t2 -c{args.connections} (HTTP/1.1 keep-alive) and the upstream ({versions['nginx']}, "
          "static files)")
    if "luna" in shown:
        print(f"- Luna's access log off: LUNA_LOG_LEVEL={LOG_LEVEL} (Luna has no access-log setting); "
              "nginx: access_log off; Caddy: no access log configured")
    if WRK2:
        print(f"- p99 {at}: wrk2 -R{args.rate} (constant rate, corrected for coordinated omission)")
    else:
        print(f"- p99 {at}: wrk --latency with each connection pausing {PACE_MS} ms between requests (Debian "
              "has no wrk2): closed loop, not corrected for coordinated omission")
    print()
    header = ["row"] + [f"{LABELS[n]} rps" for n in shown]
    if "luna" in shown:
        header += [f"Luna/{LABELS[n]}" for n in others]
    header += [f"{LABELS[n]} CPU/request" for n in shown] + [f"{LABELS[n]} p99 {at}" for n in shown]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row, _, _ in rows:
        cells = [row] + [fmt(median(row, n, "rps"), ",.0f") for n in shown]
        if "luna" in shown:
            luna = median(row, "luna", "rps")
            for n in others:
                other = median(row, n, "rps")
                cells.append(fmt(luna / other if luna and other else None, ".2f"))
        cells += [fmt(median(row, n, "cpu_us"), ".1f", " µs") for n in shown]
        cells += [fmt(median(row, n, "p99"), ".2f", " ms") for n in shown]
        print("| " + " | ".join(cells) + " |")
    gated, plain = median("session-gated 1 KiB", "luna", "rps"), median("open 1 KiB", "luna", "rps")
    if gated and plain:
        cpu = median("session-gated 1 KiB", "luna", "cpu_us") / median("open 1 KiB", "luna", "cpu_us")
        print(f"\nsession-gated / open, Luna, 1 KiB, same rounds: req/s x{gated / plain:.2f}, CPU/request x{cpu:.2f}")
    print("\nper round (full-speed req/s; req/s the latency run reached):")
    for row, _, _ in rows:
        for n in shown:
            if results[row].get(n):
                runs = results[row][n]
                print(f"  {row:<20} {LABELS[n]:<6} {[round(r['rps']) for r in runs]}; "
                      f"{[round(r['paced_rps']) for r in runs]}")
    print("\nRSS after the runs (VmRSS; peak VmHWM; Luna: its own process, not the upstream it supervises; "
          "nginx: master + worker):")
    for label, (rss, peak) in memory.items():
        print(f"  {label:<13} {rss / 1024:6.1f} MiB  (peak {peak / 1024:.1f} MiB)")
    if "luna" in shown:
        print(f"\nrows: open = GET /1k.bin or /64k.bin through Luna in local mode without a login, on the "
              f"app's origin (Host: {APP}.localhost:<port>), and through the others; session-gated = the same "
              "on a Luna with a GitHub login, its app session cookie checked on every request (Luna only); "
              "HTTPS = Luna in lan mode with its self-signed certificate (lan mode always has the login, so "
              "the app session is checked too) vs the others with an `openssl req -x509` P-256 certificate "
              "and no login")
    binary = f"LUNA_BENCH_BINARY={shlex.quote(os.environ['LUNA_BENCH_BINARY'])} " if os.environ.get(
        "LUNA_BENCH_BINARY") else ""
    print(f"\ncommand: {binary}{shlex.join([sys.executable, *sys.argv])}")
    print(f"configs and logs: {WORK}")


def on_sigterm(*_):
    raise SystemExit(143)  # so that `finally` stops everything


signal.signal(signal.SIGTERM, on_sigterm)
try:
    main()
finally:
    stop_everything()
