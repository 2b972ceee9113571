import { useEffect, useRef, useState } from 'react';
import { answerText, codeSnippets, startReply, streamChat, type ChatMessage, type Reply, type ToolCall } from '../api/agent';
import { useAgents } from '../api/queries';
import { CopyButton, Loading } from '../components/ui';

// A chat with one of Luna's agents over the Agent API (api/agent.ts): the answer streams in,
// each tool call shows as a card where it happened. The conversation lives in the page only;
// every turn sends the whole of it. Members may chat as admins do.

type Turn = { id: number; role: 'user'; content: string } | { id: number; role: 'assistant'; agent: string; reply: Reply };

/** A result longer than this is folded away under its size. */
const LONG_RESULT = { chars: 400, lines: 8 };

function history(turns: Turn[]): ChatMessage[] {
  return turns.flatMap((turn): ChatMessage[] => {
    if (turn.role === 'user') return [{ role: 'user', content: turn.content }];
    // A turn that failed before saying anything is not sent back.
    const text = answerText(turn.reply);
    return text ? [{ role: 'assistant', content: text }] : [];
  });
}

export function Chat() {
  const agents = useAgents();
  const [picked, setPicked] = useState<string | null>(null);
  const [turns, setTurns] = useState<Turn[]>([]);
  const [draft, setDraft] = useState('');
  const [running, setRunning] = useState(false);
  const abort = useRef<AbortController | null>(null);
  const nextId = useRef(1);
  const input = useRef<HTMLTextAreaElement>(null);
  const form = useRef<HTMLFormElement>(null);

  // Leaving the page cancels the request (Luna stops the model and the tool).
  useEffect(() => () => abort.current?.abort(), []);
  useEffect(() => {
    form.current?.scrollIntoView?.({ block: 'nearest' });
  }, [turns.length]);

  const ids = agents.data?.map((agent) => agent.id) ?? [];
  const agent = picked && ids.includes(picked) ? picked : ids.includes('simple_agent') ? 'simple_agent' : (ids[0] ?? null);

  const send = async () => {
    const text = draft.trim();
    if (!text || running || !agent) return;
    const messages = [...history(turns), { role: 'user' as const, content: text }];
    const id = nextId.current;
    nextId.current += 2;
    setTurns((previous) => [
      ...previous,
      { id, role: 'user', content: text },
      { id: id + 1, role: 'assistant', agent, reply: startReply() },
    ]);
    setDraft('');
    input.current?.focus();
    const controller = new AbortController();
    abort.current = controller;
    setRunning(true);
    await streamChat(agent, messages, controller.signal, (reply) =>
      setTurns((previous) => previous.map((turn) => (turn.id === id + 1 && turn.role === 'assistant' ? { ...turn, reply } : turn))),
    );
    // Unless New chat let this one go meanwhile.
    if (abort.current === controller) {
      abort.current = null;
      setRunning(false);
    }
  };

  const stop = () => {
    abort.current?.abort();
    input.current?.focus();
  };

  const newChat = () => {
    abort.current?.abort();
    abort.current = null;
    setRunning(false);
    setTurns([]);
    setDraft('');
    input.current?.focus();
  };

  const lastQuestion = [...turns].reverse().find((turn) => turn.role === 'user');
  const prompt = draft.trim() || (lastQuestion?.role === 'user' ? lastQuestion.content : 'Say hello to Ada');

  return (
    <section aria-labelledby="chat-title">
      <div className="row between">
        <h1 id="chat-title">Chat</h1>
        <button type="button" className="button secondary" data-testid="chat-new" onClick={newChat} disabled={turns.length === 0 && !draft}>
          New chat
        </button>
      </div>
      {!agents.data ? (
        <Loading error={agents.error} what="the agents" />
      ) : ids.length === 0 ? (
        <p className="muted">No agent is configured.</p>
      ) : (
        <>
          <div className="field">
            <label htmlFor="chat-agent">Agent</label>
            <select
              id="chat-agent"
              data-testid="chat-agent"
              value={agent ?? ''}
              disabled={running}
              onChange={(event) => setPicked(event.target.value)}
            >
              {ids.map((id) => (
                <option key={id} value={id}>
                  {id}
                </option>
              ))}
            </select>
          </div>

          {turns.length === 0 ? (
            <p className="muted">Ask {agent} something. The tools it calls show in its answer as they run.</p>
          ) : (
            <ol className="chat-log" aria-label="Conversation" data-testid="chat-log">
              {turns.map((turn) =>
                turn.role === 'user' ? (
                  <li key={turn.id} className="chat-turn chat-user" data-testid="chat-user">
                    <span className="chat-who">You</span>
                    <div className="chat-text">{turn.content}</div>
                  </li>
                ) : (
                  <AssistantTurn key={turn.id} agent={turn.agent} reply={turn.reply} />
                ),
              )}
            </ol>
          )}

          <form
            ref={form}
            className="chat-form"
            noValidate
            onSubmit={(event) => {
              event.preventDefault();
              void send();
            }}
          >
            <label htmlFor="chat-input">Message</label>
            <textarea
              id="chat-input"
              ref={input}
              data-testid="chat-input"
              rows={3}
              value={draft}
              aria-describedby="chat-input-hint"
              onChange={(event) => setDraft(event.target.value)}
              onKeyDown={(event) => {
                if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
                  event.preventDefault();
                  void send();
                }
              }}
            />
            <small id="chat-input-hint" className="muted">
              Enter sends, Shift+Enter starts a new line.
            </small>
            <div className="row wrap">
              <button type="submit" className="button primary" data-testid="chat-send" disabled={running}>
                Send
              </button>
              {running && (
                <>
                  <button type="button" className="button danger" data-testid="chat-stop" onClick={stop}>
                    Stop
                  </button>
                  <span className="muted" role="status" data-testid="chat-streaming">
                    <span className="spinner" aria-hidden="true" /> {agent} is answering…
                  </span>
                </>
              )}
            </div>
          </form>

          {agent && <FromCode agent={agent} prompt={prompt} />}
        </>
      )}
    </section>
  );
}

function AssistantTurn({ agent, reply }: { agent: string; reply: Reply }) {
  const streaming = reply.state === 'streaming';
  return (
    <li className="chat-turn chat-assistant" data-testid="chat-assistant" data-state={reply.state}>
      <span className="chat-who">{agent}</span>
      <div className="chat-body" aria-live="polite" aria-busy={streaming}>
        {reply.parts.map((part, index) =>
          part.kind === 'text' ? (
            <div key={index} className="chat-text" data-testid="chat-answer-text">
              {part.text}
            </div>
          ) : (
            <ToolCard key={part.tool.id || index} tool={part.tool} live={streaming} />
          ),
        )}
        {streaming && reply.parts.length === 0 && <p className="muted">Thinking…</p>}
      </div>
      {reply.finish === 'length' && <p className="warn">The answer was cut short: it reached its length limit.</p>}
      {reply.state === 'stopped' && <p className="muted">Stopped.</p>}
      {reply.error && (
        <p className="error" role="alert" data-testid="chat-error">
          {reply.error}
        </p>
      )}
      {reply.usage && (
        <p className="muted chat-usage" data-testid="chat-usage">
          Tokens: {reply.usage.prompt_tokens} in, {reply.usage.completion_tokens} out, {reply.usage.total_tokens} in all
        </p>
      )}
    </li>
  );
}

function pretty(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}

function ToolCard({ tool, live }: { tool: ToolCall; live: boolean }) {
  // A call still running when its answer ended (stopped, or the stream broke) will not finish.
  const status = tool.status === 'started' && !live ? 'interrupted' : tool.status;
  const result = tool.result ?? '';
  const long = result.length > LONG_RESULT.chars || result.split('\n').length > LONG_RESULT.lines;
  const resultView = (
    <pre className={status === 'error' ? 'chat-result error' : 'chat-result'} data-testid="chat-tool-result">
      {result}
    </pre>
  );
  return (
    <div
      className="chat-tool"
      role="group"
      aria-label={`Tool call ${tool.name}`}
      data-testid="chat-tool"
      data-tool-name={tool.name}
      data-status={status}
    >
      <div className="row wrap">
        <span className="tool-name">{tool.name}</span>
        {status === 'started' ? (
          <span className="status status-warn">
            <span className="spinner" aria-hidden="true" />
            running
          </span>
        ) : (
          <span className={`status status-${status === 'ok' ? 'good' : status === 'error' ? 'bad' : 'idle'}`}>
            <span className="dot" aria-hidden="true" />
            {status}
          </span>
        )}
        {tool.duration_ms !== undefined && <span className="muted">{tool.duration_ms} ms</span>}
      </div>
      {tool.arguments && tool.arguments !== '{}' && (
        <pre className="chat-args" aria-label={`Arguments of ${tool.name}`}>
          {pretty(tool.arguments)}
        </pre>
      )}
      {tool.result !== undefined &&
        (long ? (
          <details>
            <summary>
              {status === 'error' ? 'Error' : 'Result'} ({result.length} characters)
            </summary>
            {resultView}
          </details>
        ) : (
          <>
            <span className="visually-hidden">{status === 'error' ? 'Error:' : 'Result:'}</span>
            {resultView}
          </>
        ))}
    </div>
  );
}

/** The same request from code; the key is a placeholder, never the real one. */
function FromCode({ agent, prompt }: { agent: string; prompt: string }) {
  const base = `${location.origin}/api/agent/v1`;
  const { curl, python } = codeSnippets(location.origin, agent, prompt);
  return (
    <details className="chat-code" data-testid="chat-code">
      <summary>Use it from code</summary>
      <p>
        The Agent API is OpenAI-compatible at <code className="wrap-anywhere">{base}</code>. It takes the agent key:{' '}
        <code>luna token --agent</code> prints it; put it in <code>AGENT_API_KEY</code>.
      </p>
      <h3>curl</h3>
      <pre className="snippet" data-testid="chat-snippet-curl">
        {curl}
      </pre>
      <CopyButton text={curl} label="Copy the curl command" />
      <h3>Python (openai)</h3>
      <pre className="snippet" data-testid="chat-snippet-python">
        {python}
      </pre>
      <CopyButton text={python} label="Copy the Python code" />
    </details>
  );
}

