import { Link } from 'react-router';
import { api, unwrap } from '../api/client';
import { useExtensions, useRefresh } from '../api/queries';
import { Loading, StatusDot, Toggle } from '../components/ui';
import type { Schemas } from '../api/client';

export function extensionHealth(extension: Schemas['ExtensionSummary']): string {
  if (extension.problem) return 'misconfigured';
  if (!extension.enabled) return 'disabled';
  return extension.running ? 'running' : 'stopped';
}

export function Extensions() {
  const extensions = useExtensions();
  const refresh = useRefresh();
  if (!extensions.data) return <Loading error={extensions.error} what="the extensions" />;
  return (
    <section aria-labelledby="extensions-title">
      <h1 id="extensions-title">Extensions</h1>
      {extensions.data.length === 0 && (
        <p className="muted">No extensions yet. Put one in the extensions/ folder and restart Luna.</p>
      )}
      <ul className="cards">
        {extensions.data.map((extension) => (
          <li key={extension.name} className="card" data-extension={extension.name}>
            <div className="row between">
              <h2 className="card-title">
                <Link to={`/extensions/${encodeURIComponent(extension.name)}`}>{extension.name}</Link>
              </h2>
              <Toggle
                checked={extension.enabled}
                label={`Enable ${extension.name}`}
                onChange={async (enabled) => {
                  const path = { name: extension.name };
                  await unwrap(
                    enabled
                      ? api.POST('/api/supervisor/extensions/{name}/enable', { params: { path } })
                      : api.POST('/api/supervisor/extensions/{name}/disable', { params: { path } }),
                  );
                  await refresh('extensions', 'status');
                }}
              />
            </div>
            <StatusDot status={extensionHealth(extension)} />
            <p className="muted">
              {extension.version ? `v${extension.version} · ` : ''}
              {extension.tool_count} tools · {extension.processes.length} processes
            </p>
            {extension.problem && <p className="error">{extension.problem}</p>}
            {extension.missing_secrets.length > 0 && (
              <p className="warn">Missing in .env: {extension.missing_secrets.join(', ')}</p>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
