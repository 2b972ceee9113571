import { afterEach, describe, expect, it, vi } from 'vitest';
import { answerText, applyEvent, codeSnippets, endReply, problemText, startReply, streamChat, type Reply } from './agent';

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] });
const tool = (fields: Record<string, unknown>) => JSON.stringify({ object: 'chat.completion.chunk', choices: [], luna: { tool: fields } });
const fold = (events: string[], reply: Reply = startReply()) => events.reduce(applyEvent, reply);

describe('the chat stream', () => {
  it('concatenates the content deltas, ignoring role-only and empty ones', () => {
    const reply = fold([chunk({ role: 'assistant' }), chunk({ content: 'Hel' }), chunk({ content: '' }), chunk({ content: 'lo' })]);
    expect(reply.parts).toEqual([{ kind: 'text', text: 'Hello' }]);
    expect(answerText(reply)).toBe('Hello');
    expect(reply.state).toBe('streaming');
  });

  it('keeps the finish reason and ends at [DONE]', () => {
    const reply = fold([chunk({ content: 'Hi' }), chunk({}, 'length'), '[DONE]']);
    expect(reply.finish).toBe('length');
    expect(reply.state).toBe('done');
    // Nothing changes after the end.
    expect(applyEvent(reply, chunk({ content: ' more' }))).toBe(reply);
  });

  it('merges a tool call started then finished by its id, in place among the text', () => {
    const reply = fold([
      chunk({ content: 'Let me greet.' }),
      tool({ id: 'call_1', name: 'hello', arguments: '{"name":"Ada"}', status: 'started' }),
      tool({ id: 'call_2', name: 'other', arguments: '{}', status: 'started' }),
      tool({ id: 'call_1', status: 'ok', result: 'Hello, Ada!', duration_ms: 12 }),
      tool({ id: 'call_2', name: 'other', arguments: '{}', status: 'error', result: 'boom', duration_ms: 3 }),
      chunk({ content: 'Done: ' }),
      chunk({ content: 'Hello, Ada!' }),
    ]);
    expect(reply.parts).toEqual([
      { kind: 'text', text: 'Let me greet.' },
      {
        kind: 'tool',
        tool: { id: 'call_1', name: 'hello', arguments: '{"name":"Ada"}', status: 'ok', result: 'Hello, Ada!', duration_ms: 12 },
      },
      { kind: 'tool', tool: { id: 'call_2', name: 'other', arguments: '{}', status: 'error', result: 'boom', duration_ms: 3 } },
      { kind: 'text', text: 'Done: Hello, Ada!' },
    ]);
    expect(answerText(reply)).toBe('Let me greet.Done: Hello, Ada!');
  });

  it('shows a tool that ends without having been seen starting', () => {
    const reply = fold([tool({ id: 'call_9', name: 'late', arguments: '{}', status: 'ok', result: 'x' })]);
    expect(reply.parts).toEqual([{ kind: 'tool', tool: { id: 'call_9', name: 'late', arguments: '{}', status: 'ok', result: 'x' } }]);
  });

  it('reads the usage chunk', () => {
    const reply = fold([
      chunk({ content: 'Hi' }, 'stop'),
      JSON.stringify({ choices: [], usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 } }),
      '[DONE]',
    ]);
    expect(reply.usage).toEqual({ prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 });
    expect(reply.finish).toBe('stop');
    expect(answerText(reply)).toBe('Hi');
  });

  it('ends on an error event with its message, keeping what came before', () => {
    const reply = fold([
      chunk({ content: 'Partial' }),
      JSON.stringify({ error: { message: 'The model is overloaded.', type: 'upstream_error', code: 'overloaded' } }),
      chunk({ content: ' ignored' }),
    ]);
    expect(reply.state).toBe('error');
    expect(reply.error).toBe('The model is overloaded.');
    expect(answerText(reply)).toBe('Partial');
  });

  it('ignores what is not JSON', () => {
    const reply = startReply();
    expect(applyEvent(reply, 'keep-alive')).toBe(reply);
  });

  it('says how a stream ended without [DONE]', () => {
    expect(endReply(fold([chunk({ content: 'x' }, 'stop')]), { ended: true }).state).toBe('done');
    const cut = endReply(fold([chunk({ content: 'x' })]), { ended: true });
    expect(cut.state).toBe('error');
    expect(cut.error).toMatch(/before it was finished/);
    expect(endReply(startReply(), { stopped: true }).state).toBe('stopped');
    expect(endReply(fold(['[DONE]']), { stopped: true }).state).toBe('done');
  });

  it('reads error bodies', () => {
    expect(problemText({ error: { message: 'No such agent: x' } }, 'f')).toBe('No such agent: x');
    expect(problemText({ detail: 'Forbidden' }, 'f')).toBe('Forbidden');
    expect(problemText(null, 'fallback')).toBe('fallback');
  });
});

describe('streamChat', () => {
  afterEach(() => vi.unstubAllGlobals());

  const sse = (pieces: string[]) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const piece of pieces) controller.enqueue(new TextEncoder().encode(piece));
        controller.close();
      },
    });

  it('posts the request with the tool events header and folds the events, split anywhere', async () => {
    const fetch = vi.fn(async (url: string, init: RequestInit) => {
      void url;
      void init;
      return new Response(
        sse([`data: ${chunk({ content: 'Hel' })}\n`, `\ndata: ${chunk({ content: 'lo' }, 'stop')}\n\nda`, 'ta: [DONE]\n\n']),
        { status: 200, headers: { 'Content-Type': 'text/event-stream' } },
      );
    });
    vi.stubGlobal('fetch', fetch);
    const seen: Reply[] = [];
    const reply = await streamChat('simple_agent', [{ role: 'user', content: 'Hi' }], new AbortController().signal, (r) =>
      seen.push(r),
    );
    expect(answerText(reply)).toBe('Hello');
    expect(reply.state).toBe('done');
    expect(seen.length).toBeGreaterThan(1);
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe('/api/agent/v1/chat/completions');
    expect((init.headers as Record<string, string>)['X-Luna-Events']).toBe('tools');
    expect((init.headers as Record<string, string>)['X-Requested-With']).toBe('XMLHttpRequest');
    expect(JSON.parse(init.body as string)).toEqual({
      model: 'simple_agent',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("shows a refusal's message", async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(JSON.stringify({ error: { message: 'Unknown agent: nope' } }), { status: 404 })),
    );
    const reply = await streamChat('nope', [], new AbortController().signal, () => {});
    expect(reply).toMatchObject({ state: 'error', error: 'Unknown agent: nope' });
  });

  it('ends stopped when aborted', async () => {
    const stop = new AbortController();
    vi.stubGlobal(
      'fetch',
      vi.fn(async (_url: string, init: RequestInit) => {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(`data: ${chunk({ content: 'Hi' })}\n\n`));
            init.signal?.addEventListener('abort', () => controller.error(new DOMException('aborted', 'AbortError')));
          },
        });
        return new Response(body, { status: 200 });
      }),
    );
    const reply = await streamChat('simple_agent', [], stop.signal, (r) => {
      if (answerText(r) === 'Hi') stop.abort();
    });
    expect(reply.state).toBe('stopped');
    expect(answerText(reply)).toBe('Hi');
  });
});

describe('the code snippets', () => {
  const { curl, python } = codeSnippets('https://luna.example', 'simple_agent', "It's Ada");

  it('use the key placeholder, never a key', () => {
    expect(curl).toContain('Bearer $AGENT_API_KEY');
    expect(python).toContain('os.environ["AGENT_API_KEY"]');
    expect(curl + python).not.toContain('sk-luna-');
  });

  it('send the same request', () => {
    expect(curl).toContain('https://luna.example/api/agent/v1/chat/completions');
    expect(curl).toContain('X-Luna-Events: tools');
    // The JSON body is one shell word, its quote escaped.
    const quoted = curl.slice(curl.indexOf("-d '") + 3);
    const body = quoted.slice(1, -1).replaceAll(`'\\''`, "'");
    expect(JSON.parse(body)).toEqual({
      model: 'simple_agent',
      messages: [{ role: 'user', content: "It's Ada" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(python).toContain('base_url="https://luna.example/api/agent/v1"');
    expect(python).toContain('model="simple_agent"');
  });
});
