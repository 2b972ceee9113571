// Every read of the Hub, with the query key the change feed invalidates (api/live.ts).
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from './client';
import type { StoreQuery } from '../pages/store';

export const useStatus = () =>
  useQuery({ queryKey: ['status'], queryFn: () => unwrap(api.GET('/api/supervisor/status')) });

/**
 * `luna doctor`'s checks. They take seconds and ask GitHub, DNS and Docker, so they run when
 * first shown and on "Check again" only: no focus refetch, no retry, and the change feed
 * leaves them alone (`meta.feed`, api/live.ts). Admin-only: a member's Hub does not ask.
 */
export const useDoctor = (enabled: boolean) =>
  useQuery({
    queryKey: ['doctor'],
    enabled,
    staleTime: Infinity,
    refetchOnWindowFocus: false,
    retry: false,
    meta: { feed: false },
    queryFn: () => unwrap(api.GET('/api/supervisor/doctor')),
  });

export const useExtensions = () =>
  useQuery({ queryKey: ['extensions'], queryFn: () => unwrap(api.GET('/api/supervisor/extensions')) });

export const useProcesses = () =>
  useQuery({ queryKey: ['process'], queryFn: () => unwrap(api.GET('/api/supervisor/services')) });

export const useTools = () => useQuery({ queryKey: ['tools'], queryFn: () => unwrap(api.GET('/api/supervisor/tools')) });

export const useQueue = () =>
  useQuery({ queryKey: ['queue'], queryFn: () => unwrap(api.GET('/api/supervisor/queue')) });

export const useKeys = () => useQuery({ queryKey: ['keys'], queryFn: () => unwrap(api.GET('/api/supervisor/keys')) });

export const useAvailable = () =>
  useQuery({ queryKey: ['external', 'available'], queryFn: () => unwrap(api.GET('/api/external-services/available')) });

export const useInstalled = () =>
  useQuery({ queryKey: ['external', 'installed'], queryFn: () => unwrap(api.GET('/api/external-services/installed')) });

export const useServiceDetails = (name: string | null) =>
  useQuery({
    queryKey: ['external', 'details', name],
    enabled: name !== null,
    queryFn: () =>
      unwrap(api.GET('/api/external-services/{name}', { params: { path: { name: name ?? '' }, query: {} } })),
  });

/**
 * The Addon Store's catalog as `query` asks for it (the server searches, filters and sorts).
 * While a new query loads, the last answer stays on the page (no flash while typing).
 */
export const useStore = (query: StoreQuery) =>
  useQuery({
    queryKey: ['store', 'list', query],
    placeholderData: keepPreviousData,
    queryFn: () => unwrap(api.GET('/api/addons', { params: { query } })),
  });

export const useAddon = (id: string | null) =>
  useQuery({
    queryKey: ['store', 'addon', id],
    enabled: id !== null,
    queryFn: () => unwrap(api.GET('/api/addons/{id}', { params: { path: { id: id ?? '' } } })),
  });

export const useClients = () =>
  useQuery({ queryKey: ['clients'], queryFn: () => unwrap(api.GET('/api/supervisor/oauth/clients')) });

export const useSessions = () =>
  useQuery({ queryKey: ['sessions'], queryFn: () => unwrap(api.GET('/api/supervisor/sessions')) });

export const useCerts = () => useQuery({ queryKey: ['certs'], queryFn: () => unwrap(api.GET('/api/supervisor/certs')) });

export const useMcpAccess = () =>
  useQuery({ queryKey: ['mcp'], queryFn: () => unwrap(api.GET('/api/supervisor/mcp', { params: { query: {} } })) });

export const useAudit = (action: string) =>
  useQuery({
    queryKey: ['audit', action],
    queryFn: () =>
      unwrap(api.GET('/api/supervisor/audit', { params: { query: { limit: 200, action: action || undefined } } })),
  });

export type Me = { open_access: boolean; role: 'admin' | 'member'; login?: string | null; name?: string | null };

// `/auth/me` belongs to the login, not the control API, so it is not in the document.
export const useMe = () =>
  useQuery({
    queryKey: ['me'],
    staleTime: Infinity,
    queryFn: async (): Promise<Me> => {
      const response = await fetch('/auth/me', { headers: { Accept: 'application/json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response.json();
    },
  });

export const useAgents = () =>
  useQuery({ queryKey: ['agents'], queryFn: () => unwrap(api.GET('/api/agent/v1/models')).then((list) => list.data) });

/** After a change the page made itself: fetch what it touched at once (the feed follows). */
export function useRefresh() {
  const queries = useQueryClient();
  return (...keys: string[]) => Promise.all(keys.map((key) => queries.invalidateQueries({ queryKey: [key] })));
}
