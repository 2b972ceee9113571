import { describe, expect, it } from 'vitest';
import type { Schemas } from '../api/client';
import {
  NO_FILTERS,
  addonNames,
  clearFilters,
  finished,
  isFiltered,
  keepRunning,
  progressLine,
  readFilters,
  registryNotice,
  sourceLabel,
  storeQuery,
  usedCategories,
  withLine,
  writeFilters,
  type InstallState,
} from './store';

describe('the store filters', () => {
  it('read from the URL what they understand, and default the rest', () => {
    const filters = readFilters(new URLSearchParams('q=sky&type=external_service&has_ui=true&installed=yes&sort=recent'));
    expect(filters).toEqual({ ...NO_FILTERS, q: 'sky', type: 'external_service', has_ui: true, sort: 'recent' });
    expect(readFilters(new URLSearchParams('type=plugin&sort=random&no_secrets=1'))).toEqual(NO_FILTERS);
  });

  it('write one canonical query, defaults left out, the search trimmed', () => {
    expect(writeFilters(NO_FILTERS).toString()).toBe('');
    const filters = { ...NO_FILTERS, no_secrets: true, type: 'external_service' as const, q: '  sky  ' };
    expect(writeFilters(filters).toString()).toBe('q=sky&type=external_service&no_secrets=true');
    const all = {
      q: 'data base',
      type: 'extension' as const,
      category: 'database',
      has_ui: true,
      no_dependencies: true,
      installed: true,
      no_secrets: true,
      sort: 'name_desc' as const,
    };
    const written = writeFilters(all);
    expect(written.toString()).toBe(
      'q=data+base&type=extension&category=database&has_ui=true&no_dependencies=true&installed=true&no_secrets=true&sort=name_desc',
    );
    expect(readFilters(written)).toEqual({ ...all, q: 'data base' });
  });

  it('ask the API only for what is set', () => {
    expect(storeQuery(NO_FILTERS)).toEqual({});
    expect(storeQuery({ ...NO_FILTERS, q: ' ', sort: 'name' })).toEqual({});
    expect(storeQuery({ ...NO_FILTERS, q: 'sky', type: 'extension', no_dependencies: true, sort: 'category' })).toEqual({
      q: 'sky',
      type: 'extension',
      no_dependencies: true,
      sort: 'category',
    });
  });

  it('count the order as no filter, and clear everything but it', () => {
    expect(isFiltered({ ...NO_FILTERS, sort: 'recent' })).toBe(false);
    expect(isFiltered({ ...NO_FILTERS, installed: true })).toBe(true);
    expect(isFiltered({ ...NO_FILTERS, q: '   ' })).toBe(false);
    expect(clearFilters({ ...NO_FILTERS, q: 'sky', has_ui: true, sort: 'recent' })).toEqual({ ...NO_FILTERS, sort: 'recent' });
  });
});

describe('the store page', () => {
  const categories = [
    { id: 'productivity', name: 'Productivity' },
    { id: 'database', name: 'Databases' },
    { id: 'network', name: 'Network' },
  ];

  it('offers only the categories some addon is in', () => {
    const addons = [{ category: 'database' }, { category: 'Productivity' }, { category: 'games' }, { category: 'database' }];
    expect(usedCategories(categories, addons).map((category) => category.name)).toEqual([
      'Productivity',
      'Databases',
      'games',
    ]);
    expect(usedCategories(categories, [])).toEqual([]);
  });

  it('names dependencies as the catalog does', () => {
    const addons = [{ id: 'postgres', name: 'PostgreSQL' }];
    expect(addonNames(['postgres', 'redis'], addons)).toEqual(['PostgreSQL', 'redis']);
    expect(addonNames(undefined, addons)).toEqual([]);
  });

  it('says when a registry did not answer', () => {
    const at = (iso: string) => `at ${iso}`;
    const base = { url: 'https://example.com/registry.json', addons: 2 };
    expect(registryNotice({ ...base, state: 'ok' }, at)).toBeNull();
    expect(registryNotice({ ...base, state: 'stale', fetched_at: '2026-12-01T10:00:00Z', error: 'timed out' }, at)).toBe(
      'https://example.com/registry.json: showing the copy from at 2026-12-01T10:00:00Z: timed out',
    );
    expect(registryNotice({ ...base, state: 'unavailable', error: 'HTTP 404' }, at)).toBe(
      'https://example.com/registry.json is unavailable, none of its addons are shown: HTTP 404',
    );
  });

  it('says where the code comes from', () => {
    expect(sourceLabel({ type: 'bundled' })).toBe('ships with Luna');
    const commit = 'a'.repeat(40);
    expect(sourceLabel({ type: 'github', repo: 'octo/mono', path: 'exts/notes', commit, sha256: 'b'.repeat(64) })).toBe(
      'github:octo/mono:exts/notes @ aaaaaaaaaaaa',
    );
  });
});

describe('an install from the store', () => {
  it('keeps the lines of its steps and output, nothing else', () => {
    expect(progressLine('step', { kind: 'step', message: 'downloading' })).toEqual({ kind: 'step', text: 'downloading' });
    expect(progressLine('output', { kind: 'output', line: 'Collecting httpx' })).toEqual({
      kind: 'output',
      text: 'Collecting httpx',
    });
    expect(progressLine('installed', { kind: 'service', service: 'postgres' })).toBeNull();
    let state = withLine(undefined, { kind: 'step', text: 'a' });
    expect(state).toEqual({ phase: 'installing', lines: [{ kind: 'step', text: 'a' }] });
    for (let i = 0; i < 300; i++) state = withLine(state, { kind: 'output', text: String(i) });
    expect(state.lines).toHaveLength(200);
    expect(state.lines.at(-1)?.text).toBe('299');
  });

  it('ends installed, at a service form, or failed', () => {
    const lines = [{ kind: 'step' as const, text: 'resolving' }];
    const installed = { source: 'github:octo/weather' } as Schemas['Installed'];
    expect(finished(lines, { ok: true, result: { kind: 'extension', installed } })).toEqual({
      phase: 'installed',
      lines,
      installed,
    });
    expect(finished(lines, { ok: true, result: { kind: 'service', service: 'webcheck' } })).toEqual({
      phase: 'form',
      lines,
      service: 'webcheck',
    });
    expect(finished([], { ok: false, detail: 'the archive’s SHA-256 differs' })).toEqual({
      phase: 'failed',
      lines: [],
      detail: 'the archive’s SHA-256 differs',
    });
  });

  it('is forgotten when the view closes, unless it still runs', () => {
    const installs: Record<string, InstallState> = {
      weather: { phase: 'installing', lines: [] },
      notes: { phase: 'failed', lines: [], detail: 'no' },
      postgres: { phase: 'form', lines: [], service: 'postgres' },
    };
    expect(Object.keys(keepRunning(installs))).toEqual(['weather']);
    expect(Object.keys(keepRunning(installs, 'notes'))).toEqual(['weather', 'notes']);
  });
});
