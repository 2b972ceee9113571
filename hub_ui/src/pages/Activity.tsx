import { useState } from 'react';
import { useAudit } from '../api/queries';
import { Loading, timeAgo } from '../components/ui';

/** The audit log: who did what, newest first, live. */
export function Activity() {
  const [action, setAction] = useState('');
  const entries = useAudit(action.trim());
  return (
    <section aria-labelledby="activity-title">
      <h1 id="activity-title">Activity</h1>
      <div className="field">
        <label htmlFor="activity-action">Only the action</label>
        <input
          id="activity-action"
          type="search"
          value={action}
          placeholder="login, enable_extension, tool_call, …"
          onChange={(event) => setAction(event.target.value)}
        />
      </div>
      {!entries.data ? (
        <Loading error={entries.error} what="the activity" />
      ) : entries.data.length === 0 ? (
        <p className="muted">Nothing recorded{action ? ` for ${action}` : ''}.</p>
      ) : (
        <table className="table" id="activity">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Outcome</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {entries.data.map((entry) => (
              <tr key={entry.id} data-action={entry.action} data-outcome={entry.outcome}>
                <td>
                  <time dateTime={new Date(entry.at * 1000).toISOString()}>{timeAgo(entry.at)}</time>
                </td>
                <td>
                  {entry.principal}
                  {entry.client ? ` · ${entry.client}` : ''}
                </td>
                <td>
                  <code>{entry.action}</code>
                </td>
                <td className="wrap-anywhere">{entry.target ?? ''}</td>
                <td>{entry.outcome}</td>
                <td className="wrap-anywhere">
                  {entry.detail ?? ''}
                  {entry.duration_ms != null ? ` (${entry.duration_ms} ms)` : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
