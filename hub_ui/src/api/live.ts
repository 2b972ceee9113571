// Live updates: Luna's change feed (`/api/supervisor/events`) tells which part changed, and
// the queries that show that part are fetched again. No data travels on the feed, so a
// missed event costs at most one refetch (`resync`, or the reconnect after a drop).
import type { Query, QueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';

const TOPICS: Record<string, string[]> = {
  extensions: ['extensions', 'status', 'tools', 'process', 'queue', 'keys', 'store'],
  tools: ['tools', 'status', 'extensions'],
  external_services: ['external', 'status', 'store'],
  certificates: ['certs', 'status'],
  clients: ['clients'],
  sessions: ['sessions'],
  audit: ['audit'],
};

export type FeedState = 'connecting' | 'live' | 'offline';

/** Every query the feed keeps fresh: all but those run on demand (`meta.feed: false`). */
const fedQueries = { predicate: (query: Query) => query.meta?.feed !== false };

export function useChangeFeed(queries: QueryClient): FeedState {
  const [state, setState] = useState<FeedState>('connecting');
  useEffect(() => {
    const feed = new EventSource('/api/supervisor/events');
    const refresh = (keys: string[]) => keys.forEach((key) => queries.invalidateQueries({ queryKey: [key] }));
    feed.addEventListener('ready', () => {
      setState('live');
      // Whatever changed while the feed was down.
      queries.invalidateQueries(fedQueries);
    });
    feed.addEventListener('resync', () => queries.invalidateQueries(fedQueries));
    for (const [topic, keys] of Object.entries(TOPICS)) feed.addEventListener(topic, () => refresh(keys));
    // EventSource reconnects by itself; until then the page says it is not live.
    feed.onerror = () => setState('offline');
    return () => feed.close();
  }, [queries]);
  return state;
}

/** Lines of a log stream (`…/logs?follow=true`), most recent last, at most `keep`. */
export function useLogFollow(url: string | null, keep = 500): { lines: string[]; live: boolean } {
  const [lines, setLines] = useState<string[]>([]);
  const [live, setLive] = useState(false);
  useEffect(() => {
    setLines([]);
    setLive(false);
    if (!url) return;
    const stream = new EventSource(url);
    stream.onopen = () => setLive(true);
    stream.onmessage = (event) => setLines((previous) => [...previous, event.data].slice(-keep));
    stream.onerror = () => setLive(false);
    return () => stream.close();
  }, [url, keep]);
  return { lines, live };
}
