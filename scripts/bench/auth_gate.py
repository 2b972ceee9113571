#!/usr/bin/env python3
"""Requests per second through the gateway on a protected route, with the auth gate checking a
GitHub session, against the same route in open (no login) mode. Uses wrk (Debian: wrk).

    scripts/bench/auth_gate.py [--seconds 10] [--connections 32] [--rounds 3]

The route is /api/supervisor/health (gateway -> core API over its Unix socket), so the figure
is the gateway's own cost plus the gate, not an upstream's.
"""

import argparse
import os
import statistics
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from common import Luna, build_release, ensure_wrk, start_fake_github, wrk

parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=int, default=10)
parser.add_argument("--connections", type=int, default=32)
parser.add_argument("--rounds", type=int, default=3)
args = parser.parse_args()

ensure_wrk()
build_release()

github_port = start_fake_github().server_address[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def fetch(url, cookie=None):
    request = urllib.request.Request(url, headers={"Accept": "text/html", **({"Cookie": cookie} if cookie else {})})
    try:
        return urllib.request.build_opener(NoRedirect).open(request)
    except urllib.error.HTTPError as response:
        return response


def login(luna):
    start = fetch(f"http://127.0.0.1:{luna.port}/auth/login?rd=/")
    login_cookie = start.headers["Set-Cookie"].split(";")[0]
    back = fetch(start.headers["Location"]).headers["Location"]
    done = fetch(back, login_cookie)
    cookies = [value.split(";")[0] for value in done.headers.get_all("Set-Cookie")]
    return next(cookie for cookie in cookies if cookie.startswith("luna_session="))


def start_luna(with_login):
    home = tempfile.mkdtemp(prefix="luna-bench-")
    os.makedirs(os.path.join(home, "config"))
    if with_login:
        with open(os.path.join(home, ".env"), "w") as file:
            file.write("GITHUB_CLIENT_ID=bench\nGITHUB_CLIENT_SECRET=bench\n")
        with open(os.path.join(home, "config", "luna.toml"), "w") as file:
            base = f"http://127.0.0.1:{github_port}"
            file.write(f'[auth]\nallowed_users = ["bench"]\n[auth.github]\nauthorize_url = "{base}/login/oauth/authorize"\n'
                       f'token_url = "{base}/login/oauth/access_token"\napi_url = "{base}/api"\n')
    luna = Luna(home)
    luna.start()
    return luna


def measure(luna, cookie):
    headers = ["Accept: application/json"] + ([f"Cookie: {cookie}"] if cookie else [])
    return wrk(f"http://127.0.0.1:{luna.port}/api/supervisor/health", args.connections, args.seconds, headers)


protected = start_luna(with_login=True)
cookie = login(protected)
open_luna = start_luna(with_login=False)
results = {"with login": [], "open": []}
for _ in range(args.rounds):
    results["with login"].append(measure(protected, cookie))
    results["open"].append(measure(open_luna, None))
protected.stop()
open_luna.stop()

gated, plain = statistics.median(results["with login"]), statistics.median(results["open"])
print(f"/api/supervisor/health, {args.connections} connections, {args.rounds} x {args.seconds} s each (median):")
print(f"  with a GitHub session checked: {gated:,.0f} req/s  {[round(r) for r in results['with login']]}")
print(f"  open (no login):               {plain:,.0f} req/s  {[round(r) for r in results['open']]}")
print(f"  auth gate cost: {100 * (plain - gated) / plain:.1f}%")
