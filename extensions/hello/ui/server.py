"""The hello UI: one page that asks the hello API for a greeting.

Luna serves it at the root of its own origin (http://hello.localhost:8800 locally), where
the hello API is at /api/hello/: the page calls it same-origin. Links stay relative, so the
page also works under /ext/hello/ where the site is a bare IP address.
"""

import http.server
import sys

PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hello extension</title></head>
<body style="font-family: system-ui, sans-serif; margin: 3rem">
  <h1>Hello extension</h1>
  <form id="form"><input id="name" value="world"> <button>Greet</button></form>
  <p id="greeting"></p>
  <script>
    document.getElementById('form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const name = encodeURIComponent(document.getElementById('name').value);
      const response = await fetch('/api/hello/greeting?name=' + name);
      document.getElementById('greeting').textContent = (await response.json()).greeting;
    });
  </script>
</body></html>
"""


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            self.reply(200, "text/plain", b"ok\n")
        elif self.path in ("/", "/index.html"):
            self.reply(200, "text/html; charset=utf-8", PAGE)
        else:
            self.reply(404, "text/plain", b"not found\n")

    def reply(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print("ui: " + format % args, flush=True)


if __name__ == "__main__":
    port = int(sys.argv[1])
    print(f"hello ui listening on 127.0.0.1:{port}", flush=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
