// The Store page's logic without React: its filters as the URL (and the API) spell them, the
// categories worth offering, the notices of registries, and an install's progress lines.
// Search, filters and sort themselves are the server's (`GET /api/addons`): one code path
// for the CLI and the Hub.
import type { Schemas } from '../api/client';
import type { operations } from '../api/schema';

export type Listed = Schemas['Listed'];
export type Category = Schemas['Category'];
export type StoreQuery = NonNullable<operations['search_store']['parameters']['query']>;
export type AddonKind = Schemas['AddonType'];
export type Sort = NonNullable<StoreQuery['sort']>;

export type Filters = {
  q: string;
  type: AddonKind | '';
  category: string;
  has_ui: boolean;
  no_dependencies: boolean;
  installed: boolean;
  no_secrets: boolean;
  sort: Sort;
};

export const NO_FILTERS: Filters = {
  q: '',
  type: '',
  category: '',
  has_ui: false,
  no_dependencies: false,
  installed: false,
  no_secrets: false,
  sort: 'name',
};

export const SORTS: { id: Sort; label: string }[] = [
  { id: 'name', label: 'Name A–Z' },
  { id: 'name_desc', label: 'Name Z–A' },
  { id: 'recent', label: 'Recently added' },
  { id: 'category', label: 'Category' },
];

export const TYPES: { id: AddonKind | ''; label: string }[] = [
  { id: '', label: 'All' },
  { id: 'extension', label: 'Extensions' },
  { id: 'external_service', label: 'Services' },
];

const FLAGS = ['has_ui', 'no_dependencies', 'installed', 'no_secrets'] as const;
export type Flag = (typeof FLAGS)[number];

export const FLAG_LABELS: Record<Flag, string> = {
  has_ui: 'Has UI',
  no_dependencies: 'No dependencies',
  installed: 'Installed',
  no_secrets: 'No keys needed',
};

/** The filters a URL holds; anything it does not understand is left at its default. */
export function readFilters(params: URLSearchParams): Filters {
  const type = params.get('type');
  const sort = params.get('sort');
  const filters: Filters = {
    ...NO_FILTERS,
    q: params.get('q') ?? '',
    type: type === 'extension' || type === 'external_service' ? type : '',
    category: params.get('category') ?? '',
    sort: SORTS.some((known) => known.id === sort) ? (sort as Sort) : 'name',
  };
  for (const flag of FLAGS) filters[flag] = params.get(flag) === 'true';
  return filters;
}

/** The filters as a URL's query, in one order and without defaults (`type=extension&has_ui=true`). */
export function writeFilters(filters: Filters): URLSearchParams {
  const params = new URLSearchParams();
  const q = filters.q.trim();
  if (q) params.set('q', q);
  if (filters.type) params.set('type', filters.type);
  if (filters.category) params.set('category', filters.category);
  for (const flag of FLAGS) if (filters[flag]) params.set(flag, 'true');
  if (filters.sort !== 'name') params.set('sort', filters.sort);
  return params;
}

/** What `GET /api/addons` is asked: only what is set (the page's URL spells it the same way). */
export function storeQuery(filters: Filters): StoreQuery {
  const query: StoreQuery = {};
  const q = filters.q.trim();
  if (q) query.q = q;
  if (filters.type) query.type = filters.type;
  if (filters.category) query.category = filters.category;
  for (const flag of FLAGS) if (filters[flag]) query[flag] = true;
  if (filters.sort !== 'name') query.sort = filters.sort;
  return query;
}

/** Whether anything narrows the list (the order does not). */
export function isFiltered(filters: Filters): boolean {
  return writeFilters({ ...filters, sort: 'name' }).size > 0;
}

/** Every filter cleared, the order kept. */
export function clearFilters(filters: Filters): Filters {
  return { ...NO_FILTERS, sort: filters.sort };
}

/**
 * The categories to offer: those some addon of the catalog is in, in the catalog's order,
 * then any an addon names that the catalog does not describe (named by their id).
 */
export function usedCategories(categories: Category[], addons: Pick<Listed, 'category'>[]): Category[] {
  const used = new Set(addons.map((addon) => addon.category.toLowerCase()));
  const known = categories.filter((category) => used.has(category.id.toLowerCase()));
  const described = new Set(categories.map((category) => category.id.toLowerCase()));
  const unknown = [...used].filter((id) => !described.has(id)).sort();
  return [...known, ...unknown.map((id) => ({ id, name: id }))];
}

export function categoryName(categories: Category[], id: string): string {
  return categories.find((category) => category.id.toLowerCase() === id.toLowerCase())?.name ?? id;
}

/** The names of addons `ids`, as the catalog knows them (the id when it does not). */
export function addonNames(ids: string[] | undefined, addons: Pick<Listed, 'id' | 'name'>[]): string[] {
  return (ids ?? []).map((id) => addons.find((addon) => addon.id === id)?.name ?? id);
}

/** What to say of a registry that did not answer this time; nothing when it did. */
export function registryNotice(
  status: Schemas['RegistryStatus'],
  formatTime: (iso: string) => string = (iso) => new Date(iso).toLocaleString(),
): string | null {
  const why = status.error ? `: ${status.error}` : '';
  if (status.state === 'stale') {
    const when = status.fetched_at ? formatTime(status.fetched_at) : 'an earlier fetch';
    return `${status.url}: showing the copy from ${when}${why}`;
  }
  if (status.state === 'unavailable') return `${status.url} is unavailable, none of its addons are shown${why}`;
  return null;
}

export function registryLabel(registry: string): string {
  return registry === 'bundled' ? 'Ships with Luna' : registry;
}

/** Where an addon's code comes from, in words. */
export function sourceLabel(source: Schemas['AddonSource']): string {
  if (source.type === 'bundled') return 'ships with Luna';
  const path = source.path ? `:${source.path}` : '';
  return `github:${source.repo}${path} @ ${source.commit.slice(0, 12)}`;
}

export type ProgressLine = { kind: 'step' | 'output'; text: string };

/** The line an install's event adds to its progress, if it adds one. */
export function progressLine(event: string, data: Record<string, unknown>): ProgressLine | null {
  if (event === 'step' && typeof data.message === 'string') return { kind: 'step', text: data.message };
  if (event === 'output' && typeof data.line === 'string') return { kind: 'output', text: data.line };
  return null;
}

/** An install from the store, as the page follows it. */
export type InstallState =
  | { phase: 'installing'; lines: ProgressLine[] }
  | { phase: 'installed'; lines: ProgressLine[]; installed: Schemas['Installed'] }
  | { phase: 'failed'; lines: ProgressLine[]; detail: string }
  /** A service's definition is there: its form comes next. */
  | { phase: 'form'; lines: ProgressLine[]; service: string };

/** Progress lines kept of one install. */
export const PROGRESS_LINES = 200;

export function withLine(state: InstallState | undefined, line: ProgressLine): InstallState {
  const lines = [...(state?.lines ?? []), line].slice(-PROGRESS_LINES);
  return state ? { ...state, lines } : { phase: 'installing', lines };
}

/** Where an install ended: what the stream's last event said. */
export function finished(
  lines: ProgressLine[],
  end: { ok: true; result: Schemas['StoreInstalled'] } | { ok: false; detail: string },
): InstallState {
  if (!end.ok) return { phase: 'failed', lines, detail: end.detail };
  if (end.result.kind === 'service') return { phase: 'form', lines, service: end.result.service };
  return { phase: 'installed', lines, installed: end.result.installed };
}

/** The installs to keep when the detail view closes or moves: only those still running. */
export function keepRunning(installs: Record<string, InstallState>, except?: string): Record<string, InstallState> {
  return Object.fromEntries(
    Object.entries(installs).filter(([id, state]) => state.phase === 'installing' || id === except),
  );
}
