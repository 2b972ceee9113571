// An external service's install with progress: `POST …/install` asking for server-sent
// events (`step`, `pull`, then `installed` or `error`).
import type { Schemas } from '../api/client';
import { postWithProgress } from '../api/stream';

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
  const url = `/api/external-services/${encodeURIComponent(name)}/install`;
  const end = await postWithProgress(url, JSON.stringify({ config }), (event, data) => {
    if (event === 'step') onProgress({ kind: 'step', message: String(data.message) });
    else if (event === 'pull') onProgress({ kind: 'pull', ...(data as Omit<InstallProgress & { kind: 'pull' }, 'kind'>) });
  });
  if (!end.ok) return end;
  if (end.event !== 'installed') return { ok: false, detail: 'The install stream ended without an answer.', problems: [] };
  return { ok: true, view: end.data as Schemas['InstalledView'] };
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
