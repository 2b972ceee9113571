#!/usr/bin/env python3
"""Luna's own overhead per Agent API turn (POST /api/agent/v1/chat/completions), release build:
p50/p99 per kind of turn, and the first-token latency Luna adds to a streamed answer.

    scripts/bench/agent.py [--turns 200] [--quick] [--chunks 20]
    LUNA_BENCH_BINARY=target/profiling/luna scripts/bench/agent.py --quick

The model is a stand-in in this process (a threaded stdlib HTTP/1.1 server on loopback,
keep-alive, answers as OpenAI's chunked SSE stream) that records, per request, the time from
its request line arriving to the last byte of its answer written. A turn's overhead is the
client's time for the whole turn minus the stand-in's time for every model call in it, so it
is everything else: the client's own per-request cost (http.client, ~0.1 ms), the gateway hop
to the core API, Luna's request handling and agent loop, its model client (request out and
reply in over loopback, SSE parsing) and the answer back out. Three kinds of turn, one client,
one keep-alive connection, `--turns` each after 20 warm-up turns:

- text: non-streaming, the model answers `--chunks` text pieces;
- text, streamed: the same with `stream: true`; also the first-token latency added by Luna:
  the client receiving the first content chunk minus the stand-in writing it (one clock);
- tool: non-streaming, the model calls the bundled `hello` extension's HELLO_GET_greeting,
  then answers with its result. Its figure is Luna + the tool host: the Python tool host's
  own time for the call (stdio round trip, the function) is not taken out.

The home holds the hello extension's tools only (config.json and tools/; its UI, API and
worker are left out: they play no part in a turn and would only add noise).
"""

import argparse
import http.client
import http.server
import json
import os
import queue
import shutil
import sys
import threading
import time

from common import ROOT, Luna, build_release, percentile

parser = argparse.ArgumentParser()
parser.add_argument("--turns", type=int, default=200)
parser.add_argument("--quick", action="store_true", help="20 turns each: a smoke check")
parser.add_argument("--chunks", type=int, default=20, help="text pieces in a model answer")
args = parser.parse_args()
turns = 20 if args.quick else args.turns
WARMUP = 20
build_release()

# --- the stand-in model -------------------------------------------------------------------
MODEL_KEY = "sk-bench"
TOOL = "HELLO_GET_greeting"
TOOL_PROMPT = "say hello to Ada"
PIECES = [f"token{i} " for i in range(args.chunks)]
TEXT = "".join(PIECES)
# (received, first content chunk written or None, last byte written), one per model call.
calls = queue.Queue()


def tool_answer(result):
    return f"The tool answered {result}"


def pieces_of(text):
    """`text` as one piece per word, spaces kept."""
    words = text.split(" ")
    return [word + " " for word in words[:-1]] + words[-1:]


class StandIn(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Every SSE event goes out as its own write: without this, Nagle's algorithm holds each
    # back until the previous one is acknowledged (40 ms of delayed ACK).
    disable_nagle_algorithm = True

    def parse_request(self):
        # A kept-alive connection waits in readline(): the request line has just arrived.
        self.received = time.perf_counter()
        return super().parse_request()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        problem = None
        if self.path != "/v1/chat/completions":
            problem = f"POST {self.path}"
        elif self.headers.get("Authorization") != f"Bearer {MODEL_KEY}":
            problem = f"Authorization: {self.headers.get('Authorization')}"
        elif body.get("stream") is not True or body.get("stream_options") != {"include_usage": True}:
            problem = f"stream {body.get('stream')!r}, stream_options {body.get('stream_options')!r}"
        if problem:
            return self.refuse(problem)
        messages = body["messages"]
        users = [message for message in messages if message["role"] == "user"]
        results = [message["content"] for message in messages if message["role"] == "tool"]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.first_content = None
        if users and users[-1]["content"] == TOOL_PROMPT and not results:
            self.tool_call()
        elif results:
            self.text(*pieces_of(tool_answer(results[-1])))
        else:
            self.text(*PIECES)
        self.wfile.write(b"0\r\n\r\n")
        calls.put((self.received, self.first_content, time.perf_counter()))

    def text(self, *pieces):
        self.event({"role": "assistant", "content": ""})
        for piece in pieces:
            self.event({"content": piece})
            if self.first_content is None:
                self.first_content = time.perf_counter()
        self.finish_with("stop")

    def tool_call(self):
        start = {"index": 0, "id": "call_bench", "type": "function", "function": {"name": TOOL, "arguments": ""}}
        self.event({"role": "assistant", "content": None, "tool_calls": [start]})
        for fragment in ('{"na', 'me": "A', 'da"}'):
            self.event({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]})
        self.finish_with("tool_calls")

    def finish_with(self, reason):
        self.event({}, reason)
        self.send_data({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "bench",
                        "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}})
        self.send_data("[DONE]")

    def event(self, delta, finish_reason=None):
        self.send_data({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "bench",
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})

    def send_data(self, data):
        event = f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))

    def refuse(self, problem):
        print(f"stand-in model: unexpected request: {problem}", file=sys.stderr)
        body = json.dumps({"error": {"message": problem, "type": "invalid_request_error", "param": None,
                                     "code": None}}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        calls.put((self.received, None, time.perf_counter()))

    def log_message(self, *args):
        pass


model = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
model.daemon_threads = True
threading.Thread(target=model.serve_forever, daemon=True).start()

# --- Luna with the hello extension's tools, its agents talking to the stand-in ------------
luna = Luna()
os.makedirs(os.path.join(luna.home, "config"))
with open(os.path.join(luna.home, ".env"), "w") as file:
    file.write(f"OPENAI_API_KEY={MODEL_KEY}\n")
with open(os.path.join(luna.home, "config", "luna.toml"), "w") as file:
    file.write(f'[agent]\nllm_base_url = "http://127.0.0.1:{model.server_address[1]}/v1"\n')
hello = os.path.join(ROOT, "extensions", "hello")
shutil.copytree(os.path.join(hello, "tools"), os.path.join(luna.home, "extensions", "hello", "tools"))
shutil.copy(os.path.join(hello, "config.json"), os.path.join(luna.home, "extensions", "hello"))
# OPENAI_BASE_URL in the environment would win over luna.toml.
os.environ.pop("OPENAI_BASE_URL", None)


def agent_key():
    deadline = time.time() + 10
    while time.time() < deadline:
        for line in open(os.path.join(luna.home, ".env")):
            if line.startswith("AGENT_API_KEY="):
                return line.split("=", 1)[1].strip()
        time.sleep(0.05)
    raise SystemExit(f"luna wrote no AGENT_API_KEY to {luna.home}/.env")


def model_calls(count):
    """The stand-in's records of the `count` model calls of the turn that just ended."""
    try:
        records = [calls.get(timeout=10) for _ in range(count)]
    except queue.Empty:
        raise SystemExit(f"the stand-in model saw fewer than {count} call(s) in a turn; see {luna.home}/luna.log")
    if not calls.empty():
        raise SystemExit(f"the stand-in model saw more than {count} call(s) in a turn (retries?); see {luna.home}/luna.log")
    return records


def ask(text, stream=False):
    """One turn: (answer, client seconds, first content chunk's perf_counter or None)."""
    body = {"model": "simple_agent", "messages": [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    started = time.perf_counter()
    connection.request("POST", "/api/agent/v1/chat/completions", json.dumps(body).encode(), headers)
    response = connection.getresponse()
    if response.status != 200:
        raise SystemExit(f"the Agent API answered {response.status}: {response.read()[:500]!r}")
    if not stream:
        answer = json.loads(response.read())["choices"][0]["message"]["content"]
        return answer, time.perf_counter() - started, None
    pieces, first = [], None
    while line := response.readline():
        data = line.decode().removeprefix("data:").strip() if line.startswith(b"data:") else ""
        if not data or data == "[DONE]":
            continue
        chunk = json.loads(data)
        if "error" in chunk:
            raise SystemExit(f"the Agent API's stream carried an error: {data[:500]}")
        for choice in chunk.get("choices", []):
            if content := choice.get("delta", {}).get("content"):
                if first is None:
                    first = time.perf_counter()
                pieces.append(content)
    return "".join(pieces), time.perf_counter() - started, first


def measure(label, text, stream, count, expected):
    """Overheads (ms) of `turns` turns, the stand-in's own time (ms) in each, and first-token
    latencies (ms) when streamed."""
    answer, _, _ = ask(text, stream)
    model_calls(count)
    if answer != expected:
        raise SystemExit(f"{label}: the answer is not what the stand-in model sent:\n"
                         f"  got      {answer!r}\n  expected {expected!r}")
    overheads, model_times, first_tokens = [], [], []
    for turn in range(WARMUP + turns):
        _, seconds, first = ask(text, stream)
        records = model_calls(count)
        if turn < WARMUP:
            continue
        model_seconds = sum(end - received for received, _, end in records)
        overheads.append((seconds - model_seconds) * 1000)
        model_times.append(model_seconds * 1000)
        if stream:
            first_tokens.append((first - records[-1][1]) * 1000)
    return overheads, model_times, first_tokens


try:
    luna.start_or_exit()
    key = agent_key()
    headers = {"Host": f"127.0.0.1:{luna.port}", "Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    connection = http.client.HTTPConnection("127.0.0.1", luna.port, timeout=30)
    connection.request("GET", "/api/agent/v1/models", headers=headers)
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"GET /api/agent/v1/models answered {response.status}: {luna.binary} has no Agent API")
    deadline = time.time() + 60
    while luna.get("/api/supervisor/services")["services"].get("hello_tools", {}).get("status") != "running":
        if time.time() > deadline:
            raise SystemExit(f"the hello tool host did not start; see {luna.home}/luna.log")
        time.sleep(0.05)

    results = {
        "text": measure("text", "hi", False, 1, TEXT),
        "text, streamed": measure("text, streamed", "hi", True, 1, TEXT),
        "tool (Luna + tool host)": measure("tool", TOOL_PROMPT, False, 2, tool_answer('{"greeting": "Hello, Ada!"}')),
    }
    rss = luna.rss_kib() / 1024
finally:
    if luna.process:
        luna.stop()
    model.shutdown()
    model.server_close()

print(f"Agent API turns, Luna's overhead (client time minus the stand-in model's), {turns} turns each "
      f"after {WARMUP} warm-up, one keep-alive connection, {args.chunks} text pieces per answer:\n")
print("| turn | p50 ms | p99 ms | n | stand-in model p50 ms (taken out) |")
print("|---|---:|---:|---:|---:|")
for label, (overheads, model_times, _) in results.items():
    print(f"| {label} | {percentile(overheads, 0.5):.2f} | {percentile(overheads, 0.99):.2f} | {len(overheads)} "
          f"| {percentile(model_times, 0.5):.2f} |")
first_tokens = results["text, streamed"][2]
print(f"\nfirst token added by Luna (streamed): p50 {percentile(first_tokens, 0.5):.2f} ms, "
      f"p99 {percentile(first_tokens, 0.99):.2f} ms (n={len(first_tokens)})")
print(f"luna RSS after the run: {rss:.1f} MiB")
binary = f"LUNA_BENCH_BINARY={os.environ['LUNA_BENCH_BINARY']} " if os.environ.get("LUNA_BENCH_BINARY") else ""
print(f"command: {binary}scripts/bench/agent.py {' '.join(sys.argv[1:])}".rstrip())
