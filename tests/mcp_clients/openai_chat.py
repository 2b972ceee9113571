"""The official OpenAI Python SDK as a client of Luna's Agent API, for the integration tests.

    openai_chat.py --base-url URL --key KEY models
    openai_chat.py --base-url URL --key KEY chat MODEL MESSAGES_JSON
        [--stream] [--events] [--memory JSON] [--stop-at-tool]

Prints one JSON object on its last line: what the SDK made of the answer, or the error it
raised ({"ok": false, "error": <class>, "status": <HTTP status>, "message": ...}).
`--events` asks for Luna's tool events (`X-Luna-Events: tools`), read from the chunks' extra
`luna` field; `--stop-at-tool` closes the stream as soon as a tool call starts (a client that
goes away mid-turn).
"""

import argparse
import json
import sys

import openai


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("command", choices=["models", "chat"])
    parser.add_argument("model", nargs="?")
    parser.add_argument("messages", nargs="?")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--events", action="store_true")
    parser.add_argument("--memory")
    parser.add_argument("--stop-at-tool", action="store_true")
    args = parser.parse_args()
    client = openai.OpenAI(base_url=args.base_url, api_key=args.key, max_retries=0, timeout=60)
    try:
        if args.command == "models":
            result = {"ok": True, "models": [model.id for model in client.models.list()]}
        else:
            result = chat(client, args)
    except openai.APIStatusError as error:
        result = {"ok": False, "error": type(error).__name__, "status": error.status_code, "message": error.message}
    except openai.APIError as error:
        result = {"ok": False, "error": type(error).__name__, "status": None, "message": error.message}
    print(json.dumps(result))


def chat(client, args):
    headers = {}
    if args.events:
        headers["X-Luna-Events"] = "tools"
    if args.memory:
        headers["X-Luna-Memory"] = args.memory
    messages = json.loads(args.messages)
    if not args.stream:
        answer = client.chat.completions.create(model=args.model, messages=messages, extra_headers=headers)
        choice = answer.choices[0]
        return {
            "ok": True,
            "content": choice.message.content,
            "finish_reason": choice.finish_reason,
            "model": answer.model,
            "usage": answer.usage.model_dump() if answer.usage else None,
        }
    stream = client.chat.completions.create(
        model=args.model,
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=headers,
    )
    content, finish_reason, usage, tools, chunks = "", None, None, [], 0
    for chunk in stream:
        chunks += 1
        luna = (chunk.model_extra or {}).get("luna")
        if luna and "tool" in luna:
            tools.append(luna["tool"])
            if args.stop_at_tool and luna["tool"]["status"] == "started":
                stream.close()
                return {"ok": True, "stopped": True, "tools": tools}
        if chunk.usage:
            usage = chunk.usage.model_dump()
        for choice in chunk.choices:
            content += choice.delta.content or ""
            finish_reason = choice.finish_reason or finish_reason
    return {"ok": True, "content": content, "finish_reason": finish_reason, "usage": usage, "tools": tools, "chunks": chunks}


if __name__ == "__main__":
    sys.exit(main())
