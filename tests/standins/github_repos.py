#!/usr/bin/env python3
"""GitHub's repository API as Luna's installer uses it, for benchmarks (the integration tests
have the same stand-in in Rust, tests/integration/support/github_repos.rs): `repos/{o}/{r}`
(default branch `main`), `commits/{ref}` answering the bare sha for
`Accept: application/vnd.github.sha`, and `tarball/{sha}` as a 302 to another host
(`localhost`, standing for codeload) serving a gzipped tarball with a pax global header and
one top folder.

    github_repos.py --port P octo/weather=/path/to/folder [owner/repo=folder ...]

Each folder is one commit of its repository (its sha: a hash of the folder's files).
Prints `ready` on stdout once it listens.
"""

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("repos", nargs="+")
args = parser.parse_args()


def files_of(folder):
    for directory, _, names in sorted(os.walk(folder)):
        for name in sorted(names):
            path = os.path.join(directory, name)
            yield os.path.relpath(path, folder), path


REPOS = {}
for spec in args.repos:
    full_name, folder = spec.split("=", 1)
    digest = hashlib.sha1(full_name.encode())
    for relative, path in files_of(folder):
        digest.update(relative.encode())
        digest.update(open(path, "rb").read())
    REPOS[full_name] = (digest.hexdigest(), folder)


def tarball(full_name, sha, folder):
    buffer = io.BytesIO()
    top = f"{full_name.replace('/', '-')}-{sha[:7]}"
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT, pax_headers={"comment": sha}) as tar:
        for relative, path in files_of(folder):
            tar.add(path, arcname=f"{top}/{relative}")
    return buffer.getvalue()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *_):
        pass

    def answer(self, status, body, content_type="application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[:1] == ["codeload"] and len(parts) == 5:
            full_name = f"{parts[1]}/{parts[2]}"
            sha, folder = REPOS.get(full_name, (None, None))
            if sha != parts[4]:
                return self.answer(404, b"404: Not Found", "text/plain")
            return self.answer(200, tarball(full_name, sha, folder), "application/x-gzip")
        if parts[:2] != ["api", "repos"] or len(parts) < 4 or f"{parts[2]}/{parts[3]}" not in REPOS:
            return self.answer(404, json.dumps({"message": "Not Found"}).encode())
        full_name = f"{parts[2]}/{parts[3]}"
        sha, _ = REPOS[full_name]
        rest = parts[4:]
        if not rest:
            return self.answer(200, json.dumps({"full_name": full_name, "default_branch": "main"}).encode())
        if rest[0] == "commits" and rest[1:] in (["main"], [sha]):
            return self.answer(200, sha.encode(), "application/vnd.github.sha")
        if rest == ["tarball", sha]:
            location = f"http://localhost:{args.port}/codeload/{full_name}/legacy.tar.gz/{sha}"
            return self.answer(302, b"", headers=[("Location", location)])
        return self.answer(422, json.dumps({"message": f"No commit found for SHA: {'/'.join(rest[1:])}"}).encode())


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
print("ready", flush=True)
server.serve_forever()
