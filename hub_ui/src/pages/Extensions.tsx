import { useState } from 'react';
import { Link } from 'react-router';
import { api, postBody, unwrap } from '../api/client';
import { useExtensions, useQueue, useRefresh } from '../api/queries';
import { postWithProgress } from '../api/stream';
import { ActionButton, AdminOnly, Loading, StatusDot, Toggle, useIsAdmin } from '../components/ui';
import type { Schemas } from '../api/client';
import {
  type Draft,
  defaultName,
  describeChanges,
  isEnabled,
  operationOn,
  sameDraft,
  setEnabled,
  startingDraft,
  withOperation,
} from './draft';

export function extensionHealth(extension: Schemas['ExtensionSummary']): string {
  if (extension.problem) return 'misconfigured';
  if (!extension.enabled) return 'disabled';
  return extension.running ? 'running' : 'stopped';
}

/** Lines of apply progress kept on the page. */
const PROGRESS_LINES = 200;

// Changes collect in a draft (Save to queue / Revert / Delete queue / Apply), as in the
// earlier Luna; Apply runs inside Luna and only the extensions it touches restart.
export function Extensions() {
  const extensions = useExtensions();
  const queue = useQueue();
  const refresh = useRefresh();
  const admin = useIsAdmin();
  const [edited, setEdited] = useState<Draft | null>(null);
  const [progress, setProgress] = useState<string[]>([]);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | null>(null);
  if (!extensions.data || !queue.data) return <Loading error={extensions.error ?? queue.error} what="the extensions" />;
  const saved = queue.data.queue ?? null;
  const base = startingDraft(queue.data);
  const draft = edited ?? base;
  const dirty = edited !== null && !sameDraft(edited, base);
  const changes = describeChanges(draft, extensions.data);
  const change = async (next: Draft) => {
    setEdited(next);
    setOutcome(null);
  };

  const save = async () => {
    await unwrap(api.PUT('/api/supervisor/queue', { body: draft }));
    setEdited(null);
    await refresh('queue');
  };
  const apply = async () => {
    if (dirty || !saved) await save();
    setProgress([]);
    setOutcome(null);
    const end = await postWithProgress('/api/supervisor/queue/apply', null, (event, data) => {
      const line = event === 'output' ? `  ${String(data.line)}` : String(data.message ?? '');
      if (event === 'step' || event === 'output') setProgress((lines) => [...lines, line].slice(-PROGRESS_LINES));
    });
    setOutcome(
      end.ok ? { ok: true, text: 'Applied: everything runs again.' } : { ok: false, text: end.detail },
    );
    setEdited(null);
    await refresh('extensions', 'queue', 'status', 'tools');
  };

  return (
    <section aria-labelledby="extensions-title">
      <h1 id="extensions-title">Extensions</h1>
      {extensions.data.length === 0 && <p className="muted">No extensions yet: install one below.</p>}
      <ul className="cards">
        {extensions.data.map((extension) => {
          const pending = operationOn(draft, extension.name);
          const removing = pending?.type === 'delete';
          const updating = pending?.type === 'update';
          return (
            <li
              key={extension.name}
              className="card"
              data-extension={extension.name}
              data-pending={pending?.type ?? ''}
            >
              <div className="row between">
                <h2 className="card-title">
                  <Link to={`/extensions/${encodeURIComponent(extension.name)}`}>{extension.name}</Link>
                </h2>
                <AdminOnly>
                  <Toggle
                    checked={isEnabled(draft, extension.name, extension.enabled)}
                    label={`Enable ${extension.name}`}
                    disabled={removing}
                    onChange={(enabled) => change(setEnabled(draft, extension.name, enabled))}
                  />
                </AdminOnly>
              </div>
              <StatusDot status={extensionHealth(extension)} />
              <p className="muted">
                {extension.version ? `v${extension.version} · ` : ''}
                {extension.tool_count} tools · {extension.processes.length} processes
              </p>
              <p className="muted wrap-anywhere">
                {extension.source}
                {extension.commit ? ` @ ${extension.commit.slice(0, 12)}` : ''}
              </p>
              {extension.problem && <p className="error">{extension.problem}</p>}
              {extension.missing_secrets.length > 0 && (
                <p className="warn">
                  Missing keys: {extension.missing_secrets.join(', ')} (<Link to="/keys">Keys</Link>)
                </p>
              )}
              {admin && (
                <div className="row">
                  {extension.source !== 'local' && !extension.source.startsWith('upload:') && (
                    <button
                      type="button"
                      className="button secondary"
                      aria-pressed={updating}
                      disabled={removing}
                      onClick={() =>
                        change(
                          withOperation(
                            draft,
                            extension.name,
                            updating ? null : { type: 'update', target: extension.name },
                          ),
                        )
                      }
                    >
                      {updating ? 'Keep this version' : 'Update'}
                    </button>
                  )}
                  <button
                    type="button"
                    className="button danger"
                    aria-pressed={removing}
                    onClick={() =>
                      change(
                        withOperation(draft, extension.name, removing ? null : { type: 'delete', target: extension.name }),
                      )
                    }
                  >
                    {removing ? 'Keep' : 'Remove'}
                  </button>
                </div>
              )}
            </li>
          );
        })}
      </ul>

      {admin && (
        <>
          <AddExtension onAdd={(target, source) => change(withOperation(draft, target, { type: 'install', source, target }))} />

          <section className="install" aria-labelledby="pending-title" id="pending">
            <h2 id="pending-title">Pending changes</h2>
            {changes.length === 0 ? (
              <p className="muted">Nothing to apply.</p>
            ) : (
              <ul id="pending-changes">
                {changes.map((line) => (
                  <li key={line}>{line}</li>
                ))}
              </ul>
            )}
            <p className="muted" id="queue-state">
              {saved ? (dirty ? 'Saved queue differs from this draft.' : 'Saved to the queue.') : 'Not saved.'}
            </p>
            {saved?.last_error && <p className="error">Last apply failed: {saved.last_error}</p>}
            {queue.data.failed && (
              <p className="error" role="alert">
                A queue failed three times and was set aside: {queue.data.failed.last_error}
              </p>
            )}
            <div className="row">
              <ActionButton kind="secondary" disabled={!dirty} action={save} busyLabel="Saving…">
                Save to queue
              </ActionButton>
              <button type="button" className="button secondary" disabled={!dirty} onClick={() => setEdited(null)}>
                Revert
              </button>
              <ActionButton
                kind="danger"
                disabled={!saved && !queue.data.failed}
                busyLabel="Deleting…"
                action={async () => {
                  await unwrap(api.DELETE('/api/supervisor/queue'));
                  setEdited(null);
                  await refresh('queue');
                }}
              >
                Delete queue
              </ActionButton>
              <ActionButton kind="primary" disabled={changes.length === 0 && !saved} action={apply} busyLabel="Applying…">
                Apply
              </ActionButton>
            </div>
            {(progress.length > 0 || outcome) && (
              <div className="progress" aria-live="polite" id="apply-progress">
                <pre className="log-lines">{progress.join('\n')}</pre>
                {outcome && (
                  <p className={outcome.ok ? 'muted' : 'error'} id="apply-outcome" role={outcome.ok ? 'status' : 'alert'}>
                    {outcome.text}
                  </p>
                )}
              </div>
            )}
          </section>
        </>
      )}
    </section>
  );
}

/** Adds an install to the draft: a GitHub source typed in, or a zip uploaded at once. */
function AddExtension({ onAdd }: { onAdd: (target: string, source: string) => Promise<unknown> }) {
  const [source, setSource] = useState('');
  const [name, setName] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <section className="install" aria-labelledby="add-title">
      <h2 id="add-title">Install an extension</h2>
      <form
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          const target = name.trim() || defaultName(source);
          if (!source.trim().startsWith('github:') || !target) {
            setProblem('Give a source like github:owner/repo, github:owner/repo:path/to/ext or …@v1.2');
            return;
          }
          setProblem(null);
          void onAdd(target, source.trim());
          setSource('');
          setName('');
        }}
      >
        <div className="field">
          <label htmlFor="ext-source">Source</label>
          <input
            id="ext-source"
            type="text"
            value={source}
            placeholder="github:owner/repo[:path][@ref]"
            aria-invalid={problem !== null}
            aria-describedby={problem ? 'ext-source-problem' : undefined}
            onChange={(event) => setSource(event.target.value)}
          />
          {problem && (
            <small id="ext-source-problem" className="error" role="alert">
              {problem}
            </small>
          )}
        </div>
        <div className="field">
          <label htmlFor="ext-name">Name (optional)</label>
          <input id="ext-name" type="text" value={name} onChange={(event) => setName(event.target.value)} />
        </div>
        <button type="submit" className="button secondary">
          Add to draft
        </button>
      </form>
      <div className="field">
        <label htmlFor="ext-zip">Or upload a zip</label>
        <input
          id="ext-zip"
          type="file"
          accept=".zip,application/zip"
          onChange={async (event) => {
            const file = event.target.files?.[0];
            if (!file) return;
            try {
              const url = '/api/supervisor/extensions/uploads';
              const answer = await postBody<Schemas['Uploaded']>(url, file, 'application/zip');
              setProblem(null);
              await onAdd(defaultName(file.name).replace(/[^A-Za-z0-9_-]/g, '_'), answer.source);
            } catch (failure) {
              setProblem(failure instanceof Error ? failure.message : String(failure));
            } finally {
              event.target.value = '';
            }
          }}
        />
      </div>
    </section>
  );
}
