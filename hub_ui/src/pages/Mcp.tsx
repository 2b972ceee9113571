import { useState } from 'react';
import { api, unwrap } from '../api/client';
import { useClients, useMcpAccess, useRefresh, useTools } from '../api/queries';
import { ActionButton, AdminOnly, Confirm, Loading, SecretValue, Tabs, timeAgo, useIsAdmin } from '../components/ui';
import { offeredSummary } from './offers';

type Client = 'claude-code' | 'vscode' | 'curl';

/** Copy-paste configuration for common clients; `token` is the clear token or a placeholder. */
export function snippet(client: Client, endpoint: string, token: string): string {
  switch (client) {
    case 'claude-code':
      return `claude mcp add --transport http luna ${endpoint} --header "Authorization: Bearer ${token}"`;
    case 'vscode':
      return JSON.stringify(
        { servers: { luna: { type: 'http', url: endpoint, headers: { Authorization: `Bearer ${token}` } } } },
        null,
        2,
      );
    case 'curl':
      return (
        `curl -s ${endpoint} -H "Authorization: Bearer ${token}" -H "Content-Type: application/json" ` +
        `-H "Accept: application/json, text/event-stream" -H "MCP-Protocol-Version: 2026-07-28" ` +
        `-d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'`
      );
  }
}

export function Mcp() {
  const access = useMcpAccess();
  const tools = useTools();
  const [client, setClient] = useState<Client>('claude-code');
  const [regenerating, setRegenerating] = useState(false);
  const [fresh, setFresh] = useState<string | null>(null);
  const refresh = useRefresh();
  const admin = useIsAdmin();
  const reveal = async () =>
    (await unwrap(api.GET('/api/supervisor/mcp', { params: { query: { reveal: true } } }))).token;
  return (
    <section aria-labelledby="mcp-title">
      <h1 id="mcp-title">MCP</h1>
      {access.data ? (
        <>
          <SecretValue label="Endpoint" value={access.data.endpoint} />
          {fresh ? (
            <SecretValue label="New bearer token (MCP_AUTH_TOKEN)" value={fresh} />
          ) : (
            <SecretValue label="Bearer token (MCP_AUTH_TOKEN)" value={access.data.token} reveal={admin ? reveal : undefined} />
          )}
          <p>
            <AdminOnly>
              <button type="button" className="button danger" onClick={() => setRegenerating(true)}>
                Regenerate token
              </button>
            </AdminOnly>
          </p>
          <Confirm
            open={regenerating}
            title="Regenerate the bearer token?"
            confirmLabel="Regenerate"
            onClose={() => setRegenerating(false)}
            onConfirm={async () => {
              const renewed = await unwrap(api.POST('/api/supervisor/mcp/token'));
              setFresh(renewed.token);
              setRegenerating(false);
              await refresh('mcp');
            }}
          >
            <p>The current token stops working at once: every local client using it needs the new one.</p>
          </Confirm>
          <h2>Connect a client</h2>
          <p className="muted">
            Remote clients (Claude, ChatGPT) connect over OAuth with just the endpoint: they send you through the
            GitHub login and ask for your approval. Local clients can use the bearer token instead.
          </p>
          <Tabs
            label="Client"
            current={client}
            onSelect={setClient}
            tabs={[
              { id: 'claude-code', label: 'Claude Code' },
              { id: 'vscode', label: 'VS Code' },
              { id: 'curl', label: 'curl' },
            ]}
          />
          <div role="tabpanel" id={`panel-${client}`} aria-labelledby={`tab-${client}`}>
            <pre className="snippet">{snippet(client, access.data.endpoint, '<token>')}</pre>
            <p className="muted">Replace &lt;token&gt; with the bearer token above.</p>
          </div>
        </>
      ) : (
        <Loading error={access.error} what="the endpoint" />
      )}
      <h2>Offered over MCP</h2>
      {tools.data ? (
        <>
          <p id="offered-summary">{offeredSummary(tools.data)}</p>
          <ul className="chips" id="offered-tools" aria-label="Tools offered">
            {tools.data.tools.filter((tool) => tool.in_mcp).map((tool) => (
              <li key={tool.name} className="chip">
                {tool.name}
              </li>
            ))}
          </ul>
        </>
      ) : (
        <Loading error={tools.error} what="the tools" />
      )}
      <ul className="muted" id="offer-rules">
        <li>Tools are off until switched on: the model acts through them.</li>
        <li>
          Prompts and resources of an enabled extension are on until switched off: the user chooses a prompt, the
          application a resource.
        </li>
        <li>
          Prompt names, resource URIs and URI templates are unique: the extension first in alphabetical order keeps
          one, another extension's is listed with its problem and not served.
        </li>
        <li>A URI that is not a listed resource is read from the first template it matches.</li>
        <li>Switch each one on an extension's Tools tab.</li>
      </ul>
      <ConnectedClients />
    </section>
  );
}

function ConnectedClients() {
  const clients = useClients();
  const refresh = useRefresh();
  return (
    <>
      <h2>Connected clients</h2>
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Client</th>
            <th scope="col">Approved by</th>
            <th scope="col">Last used</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody id="clients">
          {!clients.data ? (
            <tr>
              <td colSpan={4} className="muted">
                {clients.error ? `Could not load the clients: ${String(clients.error)}` : 'Loading…'}
              </td>
            </tr>
          ) : clients.data.length === 0 ? (
            <tr>
              <td colSpan={4} className="muted">
                None yet.
              </td>
            </tr>
          ) : (
            clients.data.map((grant) => (
              <tr key={grant.id}>
                <td>
                  {grant.client_name ?? '(unnamed client)'}
                  <br />
                  <small className="muted">{grant.redirect_uri}</small>
                </td>
                <td>@{grant.login}</td>
                <td>{timeAgo(grant.last_used_at)}</td>
                <td>
                  <ActionButton
                    kind="danger"
                    busyLabel="Disconnecting…"
                    action={async () => {
                      await unwrap(
                        api.POST('/api/supervisor/oauth/clients/{id}/revoke', { params: { path: { id: grant.id } } }),
                      );
                      await refresh('clients');
                    }}
                  >
                    Disconnect
                  </ActionButton>
                </td>
              </tr>
            ))
          )}
        </tbody>
      </table>
    </>
  );
}
