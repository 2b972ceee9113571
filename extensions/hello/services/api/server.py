"""The hello API, reached through Luna at /api/hello/... (prefix stripped).

GET /greeting?name=X -> {"greeting": "Hello, X!", "user": <X-Luna-User or null>}
"""

import http.server
import json
import os
import sys
import urllib.parse

CONFIG = os.path.join(os.path.dirname(__file__), "..", "..", "config.json")


def greeting_word():
    try:
        with open(CONFIG, encoding="utf-8") as file:
            return json.load(file).get("greeting", "Hello")
    except (OSError, ValueError):
        return "Hello"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/healthz":
            return self.reply(200, {"status": "ok"})
        if url.path == "/greeting":
            name = urllib.parse.parse_qs(url.query).get("name", ["world"])[0]
            return self.reply(200, {
                "greeting": f"{greeting_word()}, {name}!",
                "user": self.headers.get("X-Luna-User"),
            })
        self.reply(404, {"error": "not_found", "path": url.path})

    def reply(self, status, document):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print("api: " + format % args, flush=True)


if __name__ == "__main__":
    port = int(sys.argv[1])
    print(f"hello api listening on 127.0.0.1:{port}", flush=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
