import { useState } from 'react';
import { api, postBody, unwrap } from '../api/client';
import { useKeys, useRefresh } from '../api/queries';
import { ActionButton, Confirm, Loading } from '../components/ui';
import type { Schemas } from '../api/client';

// The Key Manager: keys in .env, masked; what each extension requires; set, edit, delete
// (with confirmation), and a .env upload merged in. A change reaches every process started
// afterwards; the page offers to restart the running ones that need it.
export function Keys() {
  const keys = useKeys();
  const refresh = useRefresh();
  const [restart, setRestart] = useState<string[]>([]);
  const [deleting, setDeleting] = useState<string | null>(null);
  if (!keys.data) return <Loading error={keys.error} what="the keys" />;
  const byName = new Map(keys.data.keys.map((key) => [key.name, key]));
  const extensions = [...new Set(keys.data.required.map((requirement) => requirement.extension))];
  const custom = keys.data.keys.filter((key) => key.required_by.length === 0);
  const changed = async (change: Schemas['KeyChange']) => {
    setRestart(change.restart_needed);
    await refresh('keys', 'extensions');
  };

  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">Keys</h1>
      <p className="muted">
        Secrets in Luna's .env for extensions. Luna's own secrets are not shown or changed here.
      </p>
      {restart.length > 0 && (
        <div className="banner" role="status" id="restart-needed">
          <p className="row">
            <span>Running processes see the old value until restarted: {restart.join(', ')}.</span>
            <ActionButton
              kind="primary"
              busyLabel="Restarting…"
              action={async () => {
                for (const key of restart) {
                  await unwrap(api.POST('/api/supervisor/services/{key}/restart', { params: { path: { key } } }));
                }
                setRestart([]);
                await refresh('process', 'extensions');
              }}
            >
              Restart them
            </ActionButton>
          </p>
        </div>
      )}

      <h2>Required by extensions</h2>
      {extensions.length === 0 && <p className="muted">No extension requires a key.</p>}
      {extensions.map((extension) => (
        <div key={extension} className="card" data-keys-of={extension}>
          <h3 className="card-title">{extension}</h3>
          <ul className="list">
            {keys.data!.required
              .filter((requirement) => requirement.extension === extension)
              .map((requirement) => (
                <li key={requirement.key} data-key={requirement.key} data-set={requirement.set}>
                  <KeyRow
                    name={requirement.key}
                    masked={requirement.set ? byName.get(requirement.key)?.masked : undefined}
                    onChanged={changed}
                  />
                </li>
              ))}
          </ul>
        </div>
      ))}

      <h2>Custom keys</h2>
      {custom.length === 0 && <p className="muted">No custom keys.</p>}
      <ul className="list">
        {custom.map((key) => (
          <li key={key.name} data-key={key.name} data-set="true">
            <KeyRow name={key.name} masked={key.masked} onChanged={changed} onDelete={() => setDeleting(key.name)} />
          </li>
        ))}
      </ul>
      <NewKey onChanged={changed} />
      <ImportEnv onChanged={changed} />
      <Confirm
        open={deleting !== null}
        title={`Delete ${deleting ?? ''}?`}
        confirmLabel="Delete"
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          if (!deleting) return;
          await changed(await unwrap(api.DELETE('/api/supervisor/keys/{key}', { params: { path: { key: deleting } } })));
          setDeleting(null);
        }}
      >
        <p>Processes started from now on will not have it.</p>
      </Confirm>
    </section>
  );
}

function KeyRow({
  name,
  masked,
  onChanged,
  onDelete,
}: {
  name: string;
  masked?: string;
  onChanged: (change: Schemas['KeyChange']) => Promise<void>;
  onDelete?: () => void;
}) {
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState('');
  const id = `key-${name}`;
  return (
    <div className="secret">
      <span className="secret-label">
        {masked ? '✓' : '✗'} <strong>{name}</strong>
      </span>
      {masked ? <code className="secret-value">{masked}</code> : <span className="muted">not set</span>}
      {editing ? (
        <form
          className="row"
          onSubmit={async (event) => {
            event.preventDefault();
            const path = { key: name };
            await onChanged(await unwrap(api.PUT('/api/supervisor/keys/{key}', { params: { path }, body: { value } })));
            setValue('');
            setEditing(false);
          }}
        >
          <label htmlFor={id} className="visually-hidden">
            New value of {name}
          </label>
          <input id={id} type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} />
          <button type="submit" className="button primary" disabled={value === ''}>
            Save
          </button>
          <button type="button" className="button secondary" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <button type="button" className="button secondary" onClick={() => setEditing(true)}>
          {masked ? `Edit ${name}` : `Add ${name}`}
        </button>
      )}
      {onDelete && !editing && (
        <button type="button" className="button danger" onClick={onDelete}>
          Delete {name}
        </button>
      )}
    </div>
  );
}

function NewKey({ onChanged }: { onChanged: (change: Schemas['KeyChange']) => Promise<void> }) {
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <form
      className="install"
      aria-labelledby="new-key-title"
      noValidate
      onSubmit={async (event) => {
        event.preventDefault();
        try {
          const path = { key: name.trim() };
          await onChanged(await unwrap(api.PUT('/api/supervisor/keys/{key}', { params: { path }, body: { value } })));
          setName('');
          setValue('');
          setProblem(null);
        } catch (failure) {
          setProblem(failure instanceof Error ? failure.message : String(failure));
        }
      }}
    >
      <h2 id="new-key-title">Add a custom key</h2>
      <div className="field">
        <label htmlFor="new-key-name">Name</label>
        <input id="new-key-name" type="text" value={name} onChange={(event) => setName(event.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="new-key-value">Value</label>
        <input
          id="new-key-value"
          type="password"
          autoComplete="off"
          value={value}
          onChange={(event) => setValue(event.target.value)}
        />
      </div>
      {problem && (
        <p className="error" role="alert">
          {problem}
        </p>
      )}
      <button type="submit" className="button primary" disabled={!name.trim() || value === ''}>
        Add key
      </button>
    </form>
  );
}

function ImportEnv({ onChanged }: { onChanged: (change: Schemas['KeyChange']) => Promise<void> }) {
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <div className="install">
      <div className="field">
        <label htmlFor="env-file">Upload a .env file to merge (its values win)</label>
        <input
          id="env-file"
          type="file"
          onChange={async (event) => {
            const file = event.target.files?.[0];
            if (!file) return;
            try {
              const url = '/api/supervisor/keys/import';
              const answer = await postBody<Schemas['KeyChange']>(url, await file.text(), 'text/plain');
              setProblem(null);
              await onChanged(answer);
            } catch (failure) {
              setProblem(failure instanceof Error ? failure.message : String(failure));
            } finally {
              event.target.value = '';
            }
          }}
        />
        {problem && (
          <small className="error" role="alert">
            {problem}
          </small>
        )}
      </div>
    </div>
  );
}
