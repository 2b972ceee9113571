import { Suspense, lazy, useState } from 'react';
import { Link, useParams, useSearchParams } from 'react-router';
import { api, unwrap, type Schemas } from '../api/client';
import { useLogFollow } from '../api/live';
import { useExtensions, useProcesses, useRefresh, useTools } from '../api/queries';
import { ActionButton, AdminOnly, Loading, LogView, StatusDot, Tabs, timeAgo, Toggle } from '../components/ui';
import { extensionHealth } from './Extensions';
import { offerGroups, type Offer } from './offers';

// The Markdown renderer loads with the About tab only, not with the first page.
const ReadmeView = lazy(() => import('./Readme'));

type Tab = 'tools' | 'services' | 'about';

export function ExtensionDetail() {
  const { name = '' } = useParams();
  const [search, setSearch] = useSearchParams();
  const extensions = useExtensions();
  const tools = useTools();
  const extension = extensions.data?.find((candidate) => candidate.name === name);
  if (!extensions.data) return <Loading error={extensions.error} what={name} />;
  if (!extension) {
    return (
      <section>
        <h1>No extension named {name}</h1>
        <Link to="/extensions">All extensions</Link>
      </section>
    );
  }
  const tabs: { id: Tab; label: string }[] = [
    { id: 'tools', label: `Tools (${extension.tool_count})${offersLabel(tools.data?.offers ?? [], extension.name)}` },
    { id: 'services', label: `Services (${extension.processes.length})` },
    { id: 'about', label: 'About' },
  ];
  const requested = search.get('tab') as Tab | null;
  const tab: Tab = tabs.some((candidate) => candidate.id === requested) ? (requested as Tab) : 'tools';
  return (
    <section aria-labelledby="extension-title">
      <p>
        <Link to="/extensions">← Extensions</Link>
      </p>
      <div className="row between">
        <h1 id="extension-title">{extension.name}</h1>
        <StatusDot status={extensionHealth(extension)} />
      </div>
      {extension.ui_port && (
        <p>
          <a href={`/ext/${encodeURIComponent(extension.name)}/`} target="_blank" rel="noopener">
            Open its UI in a new tab ↗
          </a>
        </p>
      )}
      <Tabs tabs={tabs} current={tab} onSelect={(id) => setSearch({ tab: id })} label="Extension sections" />
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="panel">
        {tab === 'tools' && <ToolsTab extension={extension.name} />}
        {tab === 'services' && <ServicesTab keys={extension.processes} />}
        {tab === 'about' && <AboutTab extension={extension} />}
      </div>
    </section>
  );
}

/** " · Prompts & resources (2)" when the extension offers any. */
function offersLabel(offers: Offer[], extension: string): string {
  const count = offers.filter((offer) => offer.extension === extension).length;
  return count ? ` · Prompts & resources (${count})` : '';
}

function ToolsTab({ extension }: { extension: string }) {
  const tools = useTools();
  const refresh = useRefresh();
  if (!tools.data) return <Loading error={tools.error} what="the tools" />;
  const mine = tools.data.tools.filter((tool) => tool.extension === extension);
  const groups = offerGroups(tools.data.offers, extension);
  const setFlag = async (name: string, flags: Schemas['ToolFlagsUpdate']) => {
    await unwrap(api.POST('/api/supervisor/tools/{name}', { params: { path: { name } }, body: flags }));
    await refresh('tools');
  };
  const switchOffer = async (offer: Offer, enabled_in_mcp: boolean) => {
    await unwrap(api.POST('/api/supervisor/offers', { body: { kind: offer.kind, key: offer.key, enabled_in_mcp } }));
    await refresh('tools');
  };
  return (
    <>
      <p className="muted">
        What is offered over MCP by default, and who keeps a shared name: <Link to="/mcp">see the MCP page</Link>.
      </p>
      {groups.length > 0 && <h2>Tools</h2>}
      {mine.length === 0 ? (
        <p className="muted">This extension offers no tools.</p>
      ) : (
        <ul className="list">
          {mine.map((tool) => (
            <li key={tool.name} className="tool" data-tool={tool.name}>
              <div className="row between">
                <code className="tool-name">{tool.name}</code>
                <AdminOnly>
                  <span className="row">
                    <label className="switch-label">
                      Enabled in MCP
                      <Toggle
                        checked={tool.enabled_in_mcp}
                        label={`Enabled in MCP: ${tool.name}`}
                        onChange={(enabled_in_mcp) => setFlag(tool.name, { enabled_in_mcp })}
                      />
                    </label>
                    <label className="switch-label">
                      Passthrough
                      <Toggle
                        checked={tool.passthrough}
                        label={`Passthrough: ${tool.name}`}
                        onChange={(passthrough) => setFlag(tool.name, { passthrough })}
                      />
                    </label>
                  </span>
                </AdminOnly>
              </div>
              {tool.description && <p>{tool.description}</p>}
              <p className="muted">{schemaSummary(tool.input_schema)}</p>
              {tool.problem && <p className="error">{tool.problem}</p>}
            </li>
          ))}
        </ul>
      )}
      {groups.map((group) => (
        <section key={group.id} aria-labelledby={`offers-${group.id}`}>
          <h2 id={`offers-${group.id}`}>{group.title}</h2>
          <ul className="list">
            {group.offers.map((offer) => (
              <li key={offer.key} className="tool" data-offer={offer.key}>
                <div className="row between">
                  <code className="tool-name">{offer.name}</code>
                  <AdminOnly>
                    <label className="switch-label">
                      Offered over MCP
                      <Toggle
                        checked={offer.enabled_in_mcp}
                        label={`Offered over MCP: ${offer.key}`}
                        onChange={(enabled_in_mcp) => switchOffer(offer, enabled_in_mcp)}
                      />
                    </label>
                  </AdminOnly>
                </div>
                {offer.kind === 'resource' && (
                  <p className="muted wrap-anywhere">
                    {offer.template ? 'URI template' : 'URI'} <code>{offer.key}</code>
                  </p>
                )}
                {offer.description && <p>{offer.description}</p>}
                {offer.problem && <p className="error">{offer.problem}</p>}
              </li>
            ))}
          </ul>
        </section>
      ))}
    </>
  );
}

/** "city (string, required), days (integer)" from a tool's JSON Schema. */
export function schemaSummary(schema: unknown): string {
  if (!schema || typeof schema !== 'object') return 'No parameters.';
  const { properties, required } = schema as { properties?: Record<string, { type?: unknown }>; required?: string[] };
  const names = Object.keys(properties ?? {});
  if (names.length === 0) return 'No parameters.';
  return `Parameters: ${names
    .map((name) => {
      const type = properties?.[name]?.type;
      const parts = [typeof type === 'string' ? type : 'any', ...(required?.includes(name) ? ['required'] : [])];
      return `${name} (${parts.join(', ')})`;
    })
    .join(', ')}`;
}

function ServicesTab({ keys }: { keys: string[] }) {
  const processes = useProcesses();
  const [following, setFollowing] = useState<string | null>(null);
  if (keys.length === 0) return <p className="muted">This extension runs no processes.</p>;
  if (!processes.data) return <Loading error={processes.error} what="the processes" />;
  return (
    <>
      <ul className="list">
        {keys.map((key) => (
          <ProcessRow
            key={key}
            processKey={key}
            record={processes.data.services[key]}
            following={following === key}
            onFollow={() => setFollowing(following === key ? null : key)}
          />
        ))}
      </ul>
      {following && <FollowLogs processKey={following} />}
    </>
  );
}

function ProcessRow({
  processKey,
  record,
  following,
  onFollow,
}: {
  processKey: string;
  record: Schemas['ProcessRecord'] | undefined;
  following: boolean;
  onFollow: () => void;
}) {
  const refresh = useRefresh();
  const [trouble, setTrouble] = useState<Schemas['Troubleshooting'] | null>(null);
  const path = { key: processKey };
  const control = (action: 'start' | 'stop' | 'restart') => async () => {
    const call =
      action === 'start'
        ? api.POST('/api/supervisor/services/{key}/start', { params: { path } })
        : action === 'stop'
          ? api.POST('/api/supervisor/services/{key}/stop', { params: { path } })
          : api.POST('/api/supervisor/services/{key}/restart', { params: { path } });
    await unwrap(call);
    await refresh('process', 'extensions');
  };
  return (
    <li className="process" data-process={processKey}>
      <div className="row between">
        <code>{processKey}</code>
        <StatusDot status={record?.status ?? 'stopped'} />
      </div>
      <p className="muted">
        {record?.port ? `port ${record.port} · ` : ''}
        restarts {record?.restarts ?? 0} · last health check{' '}
        {record?.last_health_check
          ? `${timeAgo(record.last_health_check.at_unix)} (${record.last_health_check.ok ? 'ok' : record.last_health_check.error})`
          : 'never'}
      </p>
      {record?.error && <p className="error">{record.error}</p>}
      <div className="row wrap">
        <AdminOnly>
          <ActionButton action={control('start')} busyLabel="Starting…">
            Start
          </ActionButton>
          <ActionButton action={control('stop')} busyLabel="Stopping…">
            Stop
          </ActionButton>
          <ActionButton action={control('restart')} busyLabel="Restarting…">
            Restart
          </ActionButton>
          <button type="button" className="button secondary" aria-pressed={following} onClick={onFollow}>
            {following ? 'Stop following logs' : 'Follow logs'}
          </button>
          <ActionButton
            action={async () =>
              setTrouble(await unwrap(api.GET('/api/supervisor/services/{key}/troubleshoot', { params: { path } })))
            }
          >
            Troubleshoot
          </ActionButton>
        </AdminOnly>
      </div>
      {trouble && (
        <div className="trouble" role="region" aria-label={`Troubleshooting ${processKey}`}>
          <p>
            Status <strong>{trouble.record.status}</strong>
            {trouble.record.last_exit &&
              `; last exit ${trouble.record.last_exit.code ?? `signal ${trouble.record.last_exit.signal}`} ${timeAgo(trouble.record.last_exit.at_unix)}`}
            {trouble.record.last_health_check?.error && `; last health check: ${trouble.record.last_health_check.error}`}
          </p>
          {trouble.port_owner && (
            <p className="warn">
              Its port is held by pid {trouble.port_owner.pid} ({trouble.port_owner.command}).
            </p>
          )}
          <pre className="log-lines">{trouble.log_tail.join('\n') || 'The log is empty.'}</pre>
        </div>
      )}
    </li>
  );
}

function FollowLogs({ processKey }: { processKey: string }) {
  const { lines, live } = useLogFollow(`/api/supervisor/services/${encodeURIComponent(processKey)}/logs?follow=true&tail=100`);
  return <LogView lines={lines} live={live} label={`Logs of ${processKey}`} />;
}

function AboutTab({ extension }: { extension: Schemas['ExtensionSummary'] }) {
  return (
    <>
    <dl className="facts">
      <dt>Version</dt>
      <dd>{extension.version ?? 'not given'}</dd>
      <dt>Source</dt>
      <dd className="wrap-anywhere">
        {extension.source}
        {extension.commit ? ` @ ${extension.commit.slice(0, 12)}` : ''}
      </dd>
      <dt>Folder</dt>
      <dd>
        <code>extensions/{extension.name}/</code>
      </dd>
      <dt>Required secrets</dt>
      <dd>
        {extension.required_secrets.length === 0
          ? 'none'
          : extension.required_secrets.map((secret) => (
              <span key={secret} className={extension.missing_secrets.includes(secret) ? 'chip warn' : 'chip'}>
                {secret}
                {extension.missing_secrets.includes(secret) ? ' (missing)' : ''}
              </span>
            ))}
      </dd>
      {extension.tools_problem && (
        <>
          <dt>Tool host</dt>
          <dd className="error">{extension.tools_problem}</dd>
        </>
      )}
      {extension.problem && (
        <>
          <dt>Problem</dt>
          <dd className="error">{extension.problem}</dd>
        </>
      )}
    </dl>
    <Suspense fallback={<p className="muted">Loading the readme…</p>}>
      <ReadmeView extension={extension.name} />
    </Suspense>
    </>
  );
}
