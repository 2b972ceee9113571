import { api, unwrap } from '../api/client';
import { useMe, useRefresh, useSessions } from '../api/queries';
import { ActionButton, Loading, timeAgo, useIsAdmin } from '../components/ui';

export function Sessions() {
  const sessions = useSessions();
  const me = useMe();
  const refresh = useRefresh();
  // An admin sees and ends everyone's sessions, a member their own.
  const everyone = useIsAdmin();
  return (
    <section aria-labelledby="sessions-title">
      <h1 id="sessions-title">Sessions</h1>
      {me.data?.open_access && (
        <p className="warn">No GitHub login is configured: there are no sessions, every local request is allowed.</p>
      )}
      {!sessions.data ? (
        <Loading error={sessions.error} what="your sessions" />
      ) : sessions.data.length === 0 ? (
        <p className="muted">No sessions.</p>
      ) : (
        <table className="table" id="sessions">
          <thead>
            <tr>
              {everyone && <th scope="col">Who</th>}
              <th scope="col">Device</th>
              <th scope="col">Signed in</th>
              <th scope="col">Last seen</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {sessions.data.map((session) => (
              <tr key={session.id} data-current={session.current || undefined}>
                {everyone && <td>@{session.login}</td>}
                <td>
                  {session.user_agent ?? 'unknown browser'}
                  {session.ip ? ` · ${session.ip}` : ''}
                  {session.current && <strong className="chip">this device</strong>}
                </td>
                <td>{timeAgo(session.created_at)}</td>
                <td>{timeAgo(session.last_seen_at)}</td>
                <td>
                  <ActionButton
                    kind="danger"
                    busyLabel="Revoking…"
                    action={async () => {
                      await unwrap(api.POST('/api/supervisor/sessions/{id}/revoke', { params: { path: { id: session.id } } }));
                      if (session.current) window.location.assign('/auth/logged-out');
                      else await refresh('sessions');
                    }}
                  >
                    {session.current ? 'Log out here' : 'Revoke'}
                  </ActionButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
