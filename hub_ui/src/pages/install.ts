// An install with progress: `POST …/install` asking for server-sent events (`step`, `pull`,
// then `installed` or `error`). EventSource cannot POST, so the stream is read with fetch and
// parsed with eventsource-parser.
import { createParser } from 'eventsource-parser';
import { logIn, type Schemas } from '../api/client';

export type InstallProgress =
  | { kind: 'step'; message: string }
  | { kind: 'pull'; layer?: string | null; status: string; current?: number | null; total?: number | null };

export type InstallOutcome =
  | { ok: true; view: Schemas['InstalledView'] }
  | { ok: false; detail: string; problems: string[] };

export async function installWithProgress(
  name: string,
  config: Record<string, unknown>,
  onProgress: (progress: InstallProgress) => void,
): Promise<InstallOutcome> {
  const response = await fetch(`/api/external-services/${encodeURIComponent(name)}/install`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', 'X-Requested-With': 'XMLHttpRequest' },
    body: JSON.stringify({ config }),
  });
  if (response.status === 401) logIn();
  if (!response.ok || !response.body) {
    const body = await response.json().catch(() => ({}));
    return { ok: false, detail: body.detail ?? `HTTP ${response.status}`, problems: body.problems ?? [] };
  }
  let outcome: InstallOutcome = { ok: false, detail: 'The install stream ended without an answer.', problems: [] };
  const parser = createParser({
    onEvent(event) {
      const data = JSON.parse(event.data);
      if (event.event === 'step') onProgress({ kind: 'step', message: data.message });
      else if (event.event === 'pull') onProgress({ kind: 'pull', ...data });
      else if (event.event === 'installed') outcome = { ok: true, view: data };
      else if (event.event === 'error') outcome = { ok: false, detail: data.detail, problems: data.problems ?? [] };
    },
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.feed(value);
  }
  return outcome;
}

/** "Pulling 3 layers: 12.1 MB of 30.5 MB" from the pull events seen so far. */
export function pullSummary(layers: Map<string, { current: number; total: number; status: string }>): string {
  if (layers.size === 0) return '';
  let current = 0;
  let total = 0;
  for (const layer of layers.values()) {
    current += layer.current;
    total += layer.total;
  }
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  return total > 0
    ? `Pulling ${layers.size} layers: ${mb(current)} of ${mb(total)}`
    : `Pulling ${layers.size} layers`;
}
