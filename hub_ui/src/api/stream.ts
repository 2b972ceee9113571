// Long operations that report progress: a POST asking for server-sent events (EventSource
// cannot POST, so the stream is read with fetch and parsed with eventsource-parser). Every
// event's data is JSON; `error` carries the API's error body.
import { createParser } from 'eventsource-parser';
import { logIn } from './client';

export type StreamEnd = { ok: true; event: string; data: unknown } | { ok: false; detail: string; problems: string[] };

export async function postWithProgress(
  url: string,
  body: BodyInit | null,
  onEvent: (event: string, data: Record<string, unknown>) => void,
  contentType = 'application/json',
): Promise<StreamEnd> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': contentType, Accept: 'text/event-stream', 'X-Requested-With': 'XMLHttpRequest' },
    body,
  });
  if (response.status === 401) logIn();
  if (!response.ok || !response.body) {
    const answer = await response.json().catch(() => ({}));
    return { ok: false, detail: answer.detail ?? `HTTP ${response.status}`, problems: answer.problems ?? [] };
  }
  let end: StreamEnd = { ok: false, detail: 'The stream ended without an answer.', problems: [] };
  const parser = createParser({
    onEvent(event) {
      const data = JSON.parse(event.data);
      const name = event.event ?? 'message';
      if (name === 'error') end = { ok: false, detail: data.detail, problems: data.problems ?? [] };
      else {
        end = { ok: true, event: name, data };
        onEvent(name, data);
      }
    },
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.feed(value);
  }
  return end;
}
