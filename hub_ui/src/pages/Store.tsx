// The Addon Store: extensions and external services in one grid, searched, filtered and
// sorted by the server (`GET /api/addons`, the CLI's code path too); the filters live in the
// URL. An addon's detail view is a dialog, where its install runs: an extension installs to
// the end; a service's definition arrives, then its form (the Infrastructure page's) installs
// it and shows its connection values.
import { useEffect, useId, useRef, useState, type MouseEvent, type ReactNode } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, unwrap, type Schemas } from '../api/client';
import { useAddon, useRefresh, useStore } from '../api/queries';
import { ActionButton, Loading, useIsAdmin, useModal } from '../components/ui';
import { InstallForm } from './Infrastructure';
import { installAddon } from './install';
import {
  FLAG_LABELS,
  SORTS,
  TYPES,
  addonNames,
  categoryName,
  clearFilters,
  finished,
  isFiltered,
  keepRunning,
  progressLine,
  readFilters,
  registryLabel,
  registryNotice,
  sourceLabel,
  storeQuery,
  usedCategories,
  withLine,
  writeFilters,
  type Category,
  type Filters,
  type Flag,
  type InstallState,
  type Listed,
  type ProgressLine,
  type Sort,
} from './store';

/** How long the search waits after the last keystroke before it asks. */
const DEBOUNCE_MS = 300;

type Installs = {
  installs: Record<string, InstallState>;
  start: (addon: { id: string; type: Listed['type'] }) => void;
};

/**
 * The filters: the page's own state (a click shows at once), written to the URL (a reload
 * keeps them) and read back from it when it changes otherwise (a link, back). The search box
 * has its text at once and its search after a pause.
 */
function useFilters() {
  const [params, setParams] = useSearchParams();
  const url = params.toString();
  const [filters, setState] = useState(() => readFilters(params));
  const latest = useRef(filters);
  // Our writes the URL has not caught up with yet (each write is one navigation).
  const writing = useRef(new Set<string>());
  const [text, setText] = useState(filters.q);

  const setFilters = (change: (current: Filters) => Filters) => {
    const next = change(latest.current);
    latest.current = next;
    setState(next);
    const written = writeFilters(next).toString();
    writing.current.add(written);
    setParams(new URLSearchParams(written), { replace: true });
  };

  useEffect(() => {
    if (url === writeFilters(latest.current).toString()) {
      writing.current.clear();
      return;
    }
    if (writing.current.has(url)) return;
    const next = readFilters(new URLSearchParams(url));
    latest.current = next;
    setState(next);
    setText(next.q);
  }, [url]);

  // A pause in typing: the search. (setFilters reads the latest filters itself.)
  useEffect(() => {
    if (text.trim() === filters.q.trim()) return;
    const timer = setTimeout(() => setFilters((current) => ({ ...current, q: text })), DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [text, filters.q]);

  return { filters, setFilters, text, setText };
}

export function Store() {
  const { filters, setFilters, text, setText } = useFilters();
  const listing = useStore(storeQuery(filters));
  // The whole catalog: which categories are used, and the names of dependencies.
  const catalog = useStore({});
  const admin = useIsAdmin();
  const refresh = useRefresh();
  const [selected, setSelected] = useState<string | null>(null);
  const [installs, setInstalls] = useState<Record<string, InstallState>>({});
  const clearAll = () => {
    setText('');
    setFilters(clearFilters);
  };

  const start: Installs['start'] = ({ id, type }) => {
    if (installs[id]?.phase === 'installing') return;
    setInstalls((current) => ({ ...keepRunning(current, id), [id]: { phase: 'installing', lines: [] } }));
    const lines: ProgressLine[] = [];
    void installAddon(id, (event, data) => {
      const line = progressLine(event, data);
      if (!line) return;
      lines.push(line);
      setInstalls((current) => ({ ...current, [id]: withLine(current[id], line) }));
    }).then(async (end) => {
      if (end.ok) {
        await refresh(...(type === 'extension' ? ['store', 'extensions', 'status', 'tools', 'process'] : ['store', 'external']));
      }
      setInstalls((current) => ({ ...current, [id]: finished(current[id]?.lines ?? lines, end) }));
    });
  };
  const open = (id: string) => {
    setInstalls((current) => keepRunning(current, id));
    setSelected(id);
  };
  const install = (addon: Listed) => {
    setSelected(addon.id);
    start(addon);
  };
  const close = () => {
    setSelected(null);
    setInstalls((current) => keepRunning(current));
  };

  const data = listing.data;
  const everything = catalog.data?.addons ?? data?.addons ?? [];
  const categories = data ? usedCategories(data.categories, everything) : [];
  const key = writeFilters(filters).toString();
  const busy = listing.isFetching || listing.isPlaceholderData || text.trim() !== filters.q.trim();
  const selectedListed = data?.addons.find((addon) => addon.id === selected) ?? everything.find((addon) => addon.id === selected);

  return (
    <section aria-labelledby="store-title">
      <h1 id="store-title">Addon Store</h1>
      <form
        role="search"
        aria-label="Search and filter the store"
        className="store-filters"
        onSubmit={(event) => {
          event.preventDefault();
          setFilters((current) => ({ ...current, q: text }));
        }}
      >
        <div className="field store-search">
          <label htmlFor="store-q">Search the store</label>
          <input
            id="store-q"
            type="search"
            value={text}
            placeholder="Name, description, tag, DATABASE_URL…"
            autoComplete="off"
            onChange={(event) => setText(event.target.value)}
          />
        </div>
        <fieldset className="segmented">
          <legend>Type</legend>
          {TYPES.map((type) => (
            <label key={type.id || 'all'}>
              <input
                type="radio"
                name="store-type"
                value={type.id}
                checked={filters.type === type.id}
                onChange={() => setFilters((current) => ({ ...current, type: type.id }))}
              />
              <span>{type.label}</span>
            </label>
          ))}
        </fieldset>
        <div className="field">
          <label htmlFor="store-category">Category</label>
          <select
            id="store-category"
            value={filters.category}
            onChange={(event) => setFilters((current) => ({ ...current, category: event.target.value }))}
          >
            <option value="">All</option>
            {categories.map((category) => (
              <option key={category.id} value={category.id}>
                {category.icon ? `${category.icon} ` : ''}
                {category.name}
              </option>
            ))}
            {filters.category && !categories.some((category) => category.id === filters.category) && (
              <option value={filters.category}>{filters.category}</option>
            )}
          </select>
        </div>
        <fieldset className="store-flags">
          <legend>Only</legend>
          {(Object.keys(FLAG_LABELS) as Flag[]).map((flag) => (
            <label key={flag} className="check">
              <input
                type="checkbox"
                checked={filters[flag]}
                onChange={(event) => {
                  const checked = event.target.checked;
                  setFilters((current) => ({ ...current, [flag]: checked }));
                }}
              />
              {FLAG_LABELS[flag]}
            </label>
          ))}
        </fieldset>
        <div className="field">
          <label htmlFor="store-sort">Sort</label>
          <select
            id="store-sort"
            value={filters.sort}
            onChange={(event) => setFilters((current) => ({ ...current, sort: event.target.value as Sort }))}
          >
            {SORTS.map((sort) => (
              <option key={sort.id} value={sort.id}>
                {sort.label}
              </option>
            ))}
          </select>
        </div>
        {isFiltered(filters) && (
          <button
            type="button"
            className="button secondary"
            onClick={clearAll}
          >
            Clear filters
          </button>
        )}
      </form>

      {data && <Registries listing={data} admin={admin} />}

      {!data ? (
        <Loading error={listing.error} what="the store" />
      ) : (
        <div
          id="store-results"
          aria-busy={busy}
          data-state={busy ? 'loading' : 'ready'}
          data-query={listing.isPlaceholderData ? undefined : key}
        >
          {listing.error && (
            <p className="error" role="alert">
              Could not search the store: {listing.error.message}
            </p>
          )}
          <p className="muted" aria-live="polite">
            {data.addons.length === data.total
              ? `${data.total} addons`
              : `Showing ${data.addons.length} of ${data.total} addons`}
          </p>
          {data.addons.length === 0 ? (
            <div className="empty">
              <p>
                <strong>Nothing matches.</strong>
              </p>
              {isFiltered(filters) ? (
                <button
                  type="button"
                  className="button primary"
                  onClick={clearAll}
                >
                  Clear filters
                </button>
              ) : (
                <p className="muted">The store lists nothing yet.</p>
              )}
            </div>
          ) : (
            <ul className="cards" aria-label="Addons">
              {data.addons.map((addon) => (
                <AddonCard
                  key={addon.id}
                  addon={addon}
                  categories={data.categories}
                  everything={everything}
                  install={installs[addon.id]}
                  admin={admin}
                  onOpen={() => open(addon.id)}
                  onInstall={() => install(addon)}
                />
              ))}
            </ul>
          )}
        </div>
      )}

      <DetailDialog
        id={selected}
        listed={selectedListed}
        categories={data?.categories ?? []}
        installs={{ installs, start }}
        admin={admin}
        onOpen={open}
        onInstall={(id) => {
          const other = everything.find((addon) => addon.id === id);
          if (other) install(other);
          else open(id);
        }}
        onClose={close}
      />
    </section>
  );
}

/** Registries that did not answer (stale or unavailable); for admins, the entries left out. */
function Registries({ listing, admin }: { listing: Schemas['StoreListing']; admin: boolean }) {
  const refresh = useRefresh();
  const notices = listing.registries
    .map((registry) => ({ url: registry.url, text: registryNotice(registry), state: registry.state }))
    .filter((notice) => notice.text !== null);
  const remote = listing.registries.some((registry) => registry.url !== 'bundled');
  return (
    <>
      {notices.map((notice) => (
        <p key={notice.url} className="notice" role="note" data-registry-state={notice.state}>
          {notice.text}
        </p>
      ))}
      {admin && listing.problems.length > 0 && (
        <details className="store-problems">
          <summary>
            {listing.problems.length} {listing.problems.length === 1 ? 'entry' : 'entries'} of the registries left out
          </summary>
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Registry</th>
                <th scope="col">Entry</th>
                <th scope="col">Field</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {listing.problems.map((problem, index) => (
                <tr key={index}>
                  <td>{registryLabel(problem.registry)}</td>
                  <td>{problem.entry}</td>
                  <td>{problem.field ? <code>{problem.field}</code> : '—'}</td>
                  <td>{problem.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
      {remote && (
        <p>
          <ActionButton
            busyLabel="Fetching…"
            action={async () => {
              await unwrap(api.GET('/api/addons', { params: { query: { refresh: true } } }));
              await refresh('store');
            }}
          >
            Fetch the registries again
          </ActionButton>
        </p>
      )}
    </>
  );
}

function TypeBadge({ type }: { type: Listed['type'] }) {
  return type === 'extension' ? (
    <span className="badge badge-extension">Extension</span>
  ) : (
    <span className="badge badge-service">Service</span>
  );
}

function manageLink(addon: Pick<Listed, 'id' | 'type'>): string {
  return addon.type === 'extension' ? `/extensions/${encodeURIComponent(addon.id)}` : '/infrastructure';
}

function plural(count: number, one: string): string {
  return `${count} ${one}${count === 1 ? '' : 's'}`;
}

function AddonCard({
  addon,
  categories,
  everything,
  install,
  admin,
  onOpen,
  onInstall,
}: {
  addon: Listed;
  categories: Category[];
  everything: Listed[];
  install?: InstallState;
  admin: boolean;
  onOpen: () => void;
  onInstall: () => void;
}) {
  const extension = addon.type === 'extension';
  const dependencies = addonNames(addon.dependencies, everything);
  const secrets = addon.required_secrets ?? [];
  const provides = addon.provides_vars ?? [];
  // A click anywhere on the card opens it, except on its own controls.
  const clicked = (event: MouseEvent) => {
    if ((event.target as HTMLElement).closest('button, a, input, select, summary')) return;
    onOpen();
  };
  return (
    <li className="card store-card" data-addon={addon.id} data-type={addon.type} data-installed={addon.installed} onClick={clicked}>
      <div className="row between">
        <TypeBadge type={addon.type} />
        <span className="muted">{categoryName(categories, addon.category)}</span>
      </div>
      <h2 className="card-title">
        <button type="button" className="link card-open" aria-haspopup="dialog" onClick={onOpen}>
          {addon.name}
        </button>
      </h2>
      <p className="store-description">{addon.description}</p>
      <ul className="store-facts">
        {extension && <li>{plural(addon.tool_count ?? 0, 'tool')}</li>}
        {(addon.service_count ?? 0) > 0 && <li>{plural(addon.service_count ?? 0, 'service')}</li>}
        {addon.has_ui && <li>{extension ? 'Has UI' : 'Has web UI'}</li>}
        {secrets.length > 0 && (
          <li>
            Needs keys: <KeyList keys={secrets} />
          </li>
        )}
        {!extension && provides.length > 0 && (
          <li>
            Provides: <KeyList keys={provides} />
          </li>
        )}
        {dependencies.length > 0 && <li>Works with: {dependencies.join(', ')}</li>}
      </ul>
      <div className="row wrap store-card-actions">
        {install?.phase === 'installing' ? (
          <button type="button" className="button primary" disabled aria-busy="true">
            Installing…
          </button>
        ) : addon.installed ? (
          <>
            <span className="installed-mark">✓ Installed</span>
            <Link to={manageLink(addon)} aria-label={`Manage ${addon.name}`}>
              Manage
            </Link>
          </>
        ) : (
          admin && (
            <button type="button" className="button primary" aria-label={`Install ${addon.name}`} onClick={onInstall}>
              Install
            </button>
          )
        )}
      </div>
    </li>
  );
}

function KeyList({ keys }: { keys: string[] }) {
  return (
    <>
      {keys.map((key, index) => (
        <span key={key}>
          {index > 0 && ', '}
          <code>{key}</code>
        </span>
      ))}
    </>
  );
}

/** The detail view: the browser's own modal `<dialog>` (focus kept inside, Escape closes). */
function DetailDialog({
  id,
  listed,
  categories,
  installs,
  admin,
  onOpen,
  onInstall,
  onClose,
}: {
  id: string | null;
  listed?: Listed;
  categories: Category[];
  installs: Installs;
  admin: boolean;
  onOpen: (id: string) => void;
  onInstall: (id: string) => void;
  onClose: () => void;
}) {
  const dialog = useModal(id !== null);
  const titleId = useId();
  return (
    <dialog ref={dialog} aria-labelledby={titleId} onClose={onClose} className="dialog store-dialog">
      {id !== null && (
        <Detail
          key={id}
          id={id}
          listed={listed}
          titleId={titleId}
          categories={categories}
          installs={installs}
          admin={admin}
          onOpen={onOpen}
          onInstall={onInstall}
          onClose={onClose}
        />
      )}
    </dialog>
  );
}

function Detail({
  id,
  listed,
  titleId,
  categories,
  installs,
  admin,
  onOpen,
  onInstall,
  onClose,
}: {
  id: string;
  listed?: Listed;
  titleId: string;
  categories: Category[];
  installs: Installs;
  admin: boolean;
  onOpen: (id: string) => void;
  onInstall: (id: string) => void;
  onClose: () => void;
}) {
  const detail = useAddon(id);
  const install = installs.installs[id];
  const heading = detail.data?.name ?? listed?.name ?? id;
  const top = (
    <div className="row between dialog-head">
      <h2 id={titleId}>{heading}</h2>
      <button type="button" className="button secondary" onClick={onClose}>
        Close
      </button>
    </div>
  );
  if (!detail.data) {
    return (
      <>
        {top}
        <Loading error={detail.error} what={`the details of ${heading}`} />
      </>
    );
  }
  const addon = detail.data;
  const { dependency_status: dependencies, source_url } = addon;
  const extension = addon.type === 'extension';
  const secrets = addon.required_secrets ?? [];
  const tools = addon.tools ?? [];
  const provides = addon.provides_vars ?? [];

  if (install?.phase === 'form') {
    // A service's definition is in the catalog: its own form installs it.
    return (
      <>
        {top}
        <Progress lines={install.lines} />
        <InstallForm name={install.service} onDone={onClose} />
      </>
    );
  }
  return (
    <>
      {top}
      <p>
        <TypeBadge type={addon.type} /> <span className="muted">{categoryName(categories, addon.category)}</span>
      </p>
      <Section title="Overview">
        <p className="long-description">{addon.long_description || addon.description}</p>
        <dl className="facts">
          <dt>Author</dt>
          <dd>{addon.author}</dd>
          <dt>Version</dt>
          <dd>{addon.version}</dd>
          {(addon.tags ?? []).length > 0 && (
            <>
              <dt>Tags</dt>
              <dd>
                <ul className="chips">
                  {(addon.tags ?? []).map((tag) => (
                    <li key={tag} className="chip">
                      {tag}
                    </li>
                  ))}
                </ul>
              </dd>
            </>
          )}
          <dt>From</dt>
          <dd className="wrap-anywhere">{registryLabel(addon.registry)}</dd>
          <dt>Source</dt>
          <dd className="wrap-anywhere">{sourceLabel(addon.source)}</dd>
          {addon.added && (
            <>
              <dt>Added</dt>
              <dd>{addon.added}</dd>
            </>
          )}
          {addon.has_ui && (
            <>
              <dt>UI</dt>
              <dd>{extension ? 'Has a UI' : 'Has a web UI'}</dd>
            </>
          )}
          {extension && (addon.service_count ?? 0) > 0 && (
            <>
              <dt>Services</dt>
              <dd>{plural(addon.service_count ?? 0, 'background service')}</dd>
            </>
          )}
        </dl>
      </Section>
      <Section title="Requirements">
        {secrets.length > 0 ? (
          <p>
            Keys it needs (set them on the <Link to="/keys">Keys</Link> page): <KeyList keys={secrets} />
          </p>
        ) : (
          <p className="muted">No keys needed.</p>
        )}
        {dependencies.length > 0 ? (
          <>
            <p>Works with (offered, not required):</p>
            <ul className="list dependencies">
              {dependencies.map((dependency) => {
                const name = dependency.name ?? dependency.id;
                return (
                  <li key={dependency.id} data-dependency={dependency.id} className="row wrap">
                    {dependency.name ? (
                      <button type="button" className="link dependency-name" onClick={() => onOpen(dependency.id)}>
                        {name}
                      </button>
                    ) : (
                      <span className="dependency-name">{name}</span>
                    )}
                    {dependency.installed ? (
                      <span className="installed-mark">✓ Installed</span>
                    ) : dependency.name === null || dependency.name === undefined ? (
                      <span className="muted">not in the store</span>
                    ) : admin ? (
                      <button type="button" className="button small secondary" onClick={() => onInstall(dependency.id)}>
                        Install {name}
                      </button>
                    ) : (
                      <span className="muted">not installed</span>
                    )}
                  </li>
                );
              })}
            </ul>
          </>
        ) : (
          <p className="muted">Works on its own.</p>
        )}
      </Section>
      {extension ? (
        <Section title="Tools">
          {tools.length > 0 ? (
            <ul className="list">
              {tools.map((tool) => (
                <li key={tool.name} className="tool">
                  <span className="tool-name">{tool.name}</span>
                  {tool.description && <p className="muted">{tool.description}</p>}
                </li>
              ))}
            </ul>
          ) : (
            <p className="muted">
              {(addon.tool_count ?? 0) > 0 ? `${plural(addon.tool_count ?? 0, 'tool')}, not listed by the registry.` : 'No tools.'}
            </p>
          )}
        </Section>
      ) : (
        <Section title="Provides">
          {provides.length > 0 ? (
            <ul className="chips">
              {provides.map((name) => (
                <li key={name} className="chip">
                  <code>{name}</code>
                </li>
              ))}
            </ul>
          ) : (
            <p className="muted">It names no connection values.</p>
          )}
        </Section>
      )}
      <div className="dialog-footer">
        <Progress lines={install?.lines ?? []} />
        {install?.phase === 'installed' && (
          <p role="status" className="installed-mark" id="store-install-outcome" data-outcome="installed">
            ✓ Installed {install.installed.extension.name}.{' '}
            <Link to={`/extensions/${encodeURIComponent(install.installed.extension.name)}`}>Manage it</Link>
          </p>
        )}
        {install?.phase === 'installed' && install.installed.problem && (
          <p className="warn">It is installed but not running: {install.installed.problem}</p>
        )}
        {install?.phase === 'failed' && (
          <p role="alert" className="error" id="store-install-outcome" data-outcome="failed">
            The install failed: {install.detail}
          </p>
        )}
        <div className="row wrap">
          {install?.phase === 'installing' ? (
            <button type="button" className="button primary" disabled aria-busy="true">
              Installing…
            </button>
          ) : install?.phase === 'installed' ? null : addon.installed ? (
            <>
              <span className="installed-mark">✓ Installed</span>
              <Link to={manageLink(addon)}>Manage</Link>
            </>
          ) : (
            admin && (
              <button type="button" className="button primary" onClick={() => installs.start(addon)}>
                {install?.phase === 'failed' ? `Try installing ${addon.name} again` : `Install ${addon.name}`}
              </button>
            )
          )}
          {addon.docs_url && (
            <a href={addon.docs_url} target="_blank" rel="noopener noreferrer">
              Documentation ↗
            </a>
          )}
          {source_url && (
            <a href={source_url} target="_blank" rel="noopener noreferrer">
              View source ↗
            </a>
          )}
        </div>
      </div>
    </>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  const id = useId();
  return (
    <section aria-labelledby={id} className="store-section">
      <h3 id={id}>{title}</h3>
      {children}
    </section>
  );
}

function Progress({ lines }: { lines: ProgressLine[] }) {
  if (lines.length === 0) return null;
  return (
    <div className="progress" role="status" aria-live="polite" aria-label="Install progress">
      <ol className="progress-lines">
        {lines.map((line, index) => (
          <li key={index} className={line.kind === 'output' ? 'output' : undefined}>
            {line.text}
          </li>
        ))}
      </ol>
    </div>
  );
}
