// Installs with progress: an external service's (`POST …/install` asking for server-sent
// events: `step`, `pull`, then `installed` or `error`), and an addon's from the store.
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

export type AddonInstallEnd = { ok: true; result: Schemas['StoreInstalled'] } | { ok: false; detail: string };

/**
 * An install from the store (`POST /api/addons/{id}/install` as server-sent events: `step`,
 * `output`, then `installed` or `error`). An extension ends installed; a service ends with
 * its definition in the catalog, ready for its form.
 */
export async function installAddon(
  id: string,
  onEvent: (event: string, data: Record<string, unknown>) => void,
): Promise<AddonInstallEnd> {
  try {
    const end = await postWithProgress(`/api/addons/${encodeURIComponent(id)}/install`, null, onEvent);
    if (!end.ok) return { ok: false, detail: end.detail };
    if (end.event !== 'installed') return { ok: false, detail: 'The install stream ended without an answer.' };
    return { ok: true, result: end.data as Schemas['StoreInstalled'] };
  } catch (failure) {
    return { ok: false, detail: failure instanceof Error ? failure.message : String(failure) };
  }
}
