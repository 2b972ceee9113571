// Luna's Agent API (OpenAI-compatible, `/api/agent/v1`), used by the Chat page. Its list of
// agents comes through the generated client (queries.ts); a chat answer is a stream of
// server-sent events, which the generated client does not read, so it is fetched here. Same
// origin, the Hub's session cookie; `X-Requested-With` makes an expired session a JSON 401
// rather than a login redirect.
//
// A chat answer streams as server-sent events, `data: <json>` each, ending with
// `data: [DONE]`: OpenAI `chat.completion.chunk`s (text in `choices[0].delta.content`, a
// last `usage` chunk), Luna's tool events (`X-Luna-Events: tools`: `choices: []` and a
// `luna.tool`), or `{"error": …}` before the stream ends. `applyEvent` folds them into a
// `Reply`; it is pure, so agent.test.ts checks it without a server.
import { createParser } from 'eventsource-parser';
import { ApiProblem, logIn } from './client';

export const AGENT_BASE = '/api/agent/v1';

export type ToolStatus = 'started' | 'ok' | 'error';

export type ToolCall = {
  id: string;
  name: string;
  /** JSON text, as the model wrote it. */
  arguments: string;
  status: ToolStatus;
  result?: string;
  duration_ms?: number;
};

export type Part = { kind: 'text'; text: string } | { kind: 'tool'; tool: ToolCall };

export type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };

/** streaming until the end; done ([DONE]), error (the API's or the network's), stopped (by the user). */
export type ReplyState = 'streaming' | 'done' | 'error' | 'stopped';

/** The assistant's turn: its text and tool calls in the order they came. */
export type Reply = {
  parts: Part[];
  state: ReplyState;
  /** `finish_reason`: stop, length, … */
  finish?: string;
  usage?: Usage;
  error?: string;
};

export type ChatMessage = { role: 'user' | 'assistant'; content: string };

export const startReply = (): Reply => ({ parts: [], state: 'streaming' });

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The reply after one event's data (the text after `data: `). Events after the end change nothing. */
export function applyEvent(reply: Reply, data: string): Reply {
  if (reply.state !== 'streaming') return reply;
  const text = data.trim();
  if (text === '[DONE]') return { ...reply, state: 'done' };
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    // Not one of the API's events (a keep-alive, say): nothing to show.
    return reply;
  }
  if (!isObject(event)) return reply;
  if (event.error !== undefined && event.error !== null) {
    return { ...reply, state: 'error', error: problemText(event, 'The agent failed.') };
  }
  let next = reply;
  const luna = event.luna;
  if (isObject(luna) && isObject(luna.tool)) next = withTool(next, luna.tool);
  const choice = Array.isArray(event.choices) ? event.choices[0] : undefined;
  if (isObject(choice)) {
    const delta = choice.delta;
    if (isObject(delta) && typeof delta.content === 'string' && delta.content) next = withText(next, delta.content);
    if (typeof choice.finish_reason === 'string') next = { ...next, finish: choice.finish_reason };
  }
  if (isObject(event.usage)) {
    const usage = event.usage;
    next = {
      ...next,
      usage: {
        prompt_tokens: Number(usage.prompt_tokens ?? 0),
        completion_tokens: Number(usage.completion_tokens ?? 0),
        total_tokens: Number(usage.total_tokens ?? 0),
      },
    };
  }
  return next;
}

function withText(reply: Reply, piece: string): Reply {
  const parts = [...reply.parts];
  const last = parts[parts.length - 1];
  if (last?.kind === 'text') parts[parts.length - 1] = { kind: 'text', text: last.text + piece };
  else parts.push({ kind: 'text', text: piece });
  return { ...reply, parts };
}

/** A tool event: a new card when it starts, the same card (by id) completed when it ends. */
function withTool(reply: Reply, event: Json): Reply {
  const id = typeof event.id === 'string' ? event.id : String(event.id ?? '');
  const status: ToolStatus = event.status === 'ok' || event.status === 'error' ? event.status : 'started';
  const update: Partial<ToolCall> = { id, status };
  if (typeof event.name === 'string') update.name = event.name;
  if (typeof event.arguments === 'string') update.arguments = event.arguments;
  else if (event.arguments !== undefined) update.arguments = JSON.stringify(event.arguments);
  if (typeof event.result === 'string') update.result = event.result;
  else if (event.result !== undefined && event.result !== null) update.result = JSON.stringify(event.result);
  if (typeof event.duration_ms === 'number') update.duration_ms = event.duration_ms;
  const index = reply.parts.findIndex((part) => part.kind === 'tool' && part.tool.id === id);
  const parts = [...reply.parts];
  if (index >= 0) {
    const old = (parts[index] as { kind: 'tool'; tool: ToolCall }).tool;
    parts[index] = { kind: 'tool', tool: { ...old, ...update } };
  } else {
    parts.push({ kind: 'tool', tool: { name: '', arguments: '', ...update, id, status } });
  }
  return { ...reply, parts };
}

/** The reply when its stream is over: `how` is how it ended. */
export function endReply(reply: Reply, how: { ended: true } | { stopped: true } | { failed: string }): Reply {
  if (reply.state !== 'streaming') return reply;
  if ('stopped' in how) return { ...reply, state: 'stopped' };
  if ('failed' in how) return { ...reply, state: 'error', error: how.failed };
  // The connection closed without [DONE]: complete if the model said it had finished.
  if (reply.finish) return { ...reply, state: 'done' };
  return { ...reply, state: 'error', error: 'The answer stopped before it was finished (the connection closed).' };
}

/** The assistant's text alone (tool cards left out). */
export const answerText = (reply: Reply): string =>
  reply.parts.map((part) => (part.kind === 'text' ? part.text : '')).join('');

/** The words of an error body: the Agent API's `{"error":{"message"}}`, else the control API's `detail`. */
export function problemText(body: unknown, fallback: string): string {
  if (isObject(body)) {
    const error = body.error;
    if (isObject(error) && typeof error.message === 'string' && error.message) return error.message;
    if (typeof error === 'string' && error) return error;
    if (typeof body.detail === 'string' && body.detail) return body.detail;
  }
  return fallback;
}

async function failure(response: Response): Promise<ApiProblem> {
  const body = await response.json().catch(() => null);
  const fallback =
    response.status === 502 || response.status === 503
      ? 'Luna is not answering right now; try again in a moment.'
      : `The request failed (HTTP ${response.status}).`;
  return new ApiProblem(response.status, problemText(body, fallback));
}

/**
 * Asks `model` for the next assistant turn of `messages`, streaming: `onReply` gets the reply
 * after every event, and once more at the end. Aborting `signal` cancels the request (Luna then
 * stops the model and any running tool); the reply ends `stopped`.
 */
export async function streamChat(
  model: string,
  messages: ChatMessage[],
  signal: AbortSignal,
  onReply: (reply: Reply) => void,
): Promise<Reply> {
  let reply = startReply();
  const finish = (how: Parameters<typeof endReply>[1]) => {
    reply = endReply(reply, how);
    onReply(reply);
    return reply;
  };
  try {
    const response = await fetch(`${AGENT_BASE}/chat/completions`, {
      method: 'POST',
      credentials: 'same-origin',
      signal,
      headers: {
        'Content-Type': 'application/json',
        Accept: 'text/event-stream',
        'X-Requested-With': 'XMLHttpRequest',
        'X-Luna-Events': 'tools',
      },
      body: JSON.stringify({ model, messages, stream: true, stream_options: { include_usage: true } }),
    });
    if (response.status === 401) logIn();
    if (!response.ok) return finish({ failed: (await failure(response)).detail });
    if (!response.body) return finish({ failed: 'The answer had no body.' });
    const parser = createParser({
      onEvent(event) {
        const next = applyEvent(reply, event.data);
        if (next !== reply) {
          reply = next;
          onReply(reply);
        }
      },
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      while (reply.state === 'streaming') {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } finally {
      // After [DONE] or an error event: let the connection go.
      void reader.cancel().catch(() => {});
    }
    return finish({ ended: true });
  } catch (error) {
    if (signal.aborted) return finish({ stopped: true });
    if (error instanceof ApiProblem) return finish({ failed: error.detail });
    return finish({ failed: `Could not reach Luna: ${error instanceof Error ? error.message : String(error)}` });
  }
}

/** Shell single quotes around `text`. */
const shellQuote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/**
 * The same request from code, for the "Use it from code" disclosure. The key is always a
 * placeholder (`luna token --agent` prints the real one): the page never holds it.
 */
export function codeSnippets(origin: string, model: string, prompt: string): { curl: string; python: string } {
  const base = `${origin}${AGENT_BASE}`;
  const body = {
    model,
    messages: [{ role: 'user', content: prompt }],
    stream: true,
    stream_options: { include_usage: true },
  };
  const curl = [
    `curl -N ${base}/chat/completions \\`,
    `  -H "Authorization: Bearer $AGENT_API_KEY" \\`,
    `  -H "Content-Type: application/json" \\`,
    `  -H "X-Luna-Events: tools" \\`,
    `  -d ${shellQuote(JSON.stringify(body))}`,
  ].join('\n');
  // A JSON string is a valid Python string literal.
  const python = [
    'import os',
    'from openai import OpenAI',
    '',
    `client = OpenAI(base_url=${JSON.stringify(base)}, api_key=os.environ["AGENT_API_KEY"])`,
    'stream = client.chat.completions.create(',
    `    model=${JSON.stringify(model)},`,
    `    messages=[{"role": "user", "content": ${JSON.stringify(prompt)}}],`,
    '    stream=True,',
    '    stream_options={"include_usage": True},',
    ')',
    'for chunk in stream:',
    '    if chunk.choices and chunk.choices[0].delta.content:',
    '        print(chunk.choices[0].delta.content, end="", flush=True)',
    '    if chunk.usage:',
    '        print(f"\\n({chunk.usage.total_tokens} tokens)")',
  ].join('\n');
  return { curl, python };
}
