import { useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, unwrap, type Schemas } from '../api/client';
import { useLogFollow } from '../api/live';
import { useAvailable, useInstalled, useRefresh, useServiceDetails } from '../api/queries';
import { ActionButton, AdminOnly, Confirm, Loading, LogView, SecretValue, StatusDot, Toggle, useIsAdmin } from '../components/ui';
import { check, initialValues, placeProblems, submission, type Field, type Problems, type Values } from '../form';
import { installWithProgress, pullSummary, type InstallProgress } from './install';

export function Infrastructure() {
  const available = useAvailable();
  const installed = useInstalled();
  const [search, setSearch] = useSearchParams();
  const installing = search.get('install');
  const admin = useIsAdmin();
  if (!available.data || !installed.data) {
    return <Loading error={available.error ?? installed.error} what="the external services" />;
  }
  const services = Object.values(installed.data);
  const catalog = available.data.filter((entry) => !entry.installed);
  return (
    <section aria-labelledby="infra-title">
      <h1 id="infra-title">Infrastructure</h1>
      <h2>Installed</h2>
      {services.length === 0 && <p className="muted">Nothing installed yet: pick a service below.</p>}
      <ul className="cards">
        {services.map((service) => (
          <InstalledCard key={service.name} service={service} />
        ))}
      </ul>
      <h2>Catalog</h2>
      <ul className="cards">
        {catalog.map((entry) => (
          <li key={entry.name} className="card" data-available={entry.name}>
            <h3 className="card-title">{entry.display_name}</h3>
            <p className="muted">
              {entry.category} · {entry.kind}
              {entry.has_ui ? ' · has a web UI' : ''}
            </p>
            <p>{entry.description}</p>
            {entry.problem ? (
              <p className="error">{entry.problem}</p>
            ) : (
              <AdminOnly>
                <button type="button" className="button primary" onClick={() => setSearch({ install: entry.name })}>
                  Install {entry.display_name}
                </button>
              </AdminOnly>
            )}
          </li>
        ))}
      </ul>
      {installing && admin && <InstallForm name={installing} onDone={() => setSearch({})} />}
    </section>
  );
}

function InstalledCard({ service }: { service: Schemas['InstalledView'] }) {
  const refresh = useRefresh();
  const details = useServiceDetails(service.name);
  const [showLogs, setShowLogs] = useState(false);
  const [uninstalling, setUninstalling] = useState(false);
  const [removeData, setRemoveData] = useState(false);
  const path = { name: service.name };
  const act = (action: 'start' | 'stop' | 'restart') => async () => {
    const call =
      action === 'start'
        ? api.POST('/api/external-services/{name}/start', { params: { path } })
        : action === 'stop'
          ? api.POST('/api/external-services/{name}/stop', { params: { path } })
          : api.POST('/api/external-services/{name}/restart', { params: { path } });
    await unwrap(call);
    await refresh('external', 'status');
  };
  const revealed = (key: string) => revealExport(service.name, key);
  const volumes = details.data?.data_volumes ?? service.volumes;
  const admin = useIsAdmin();
  return (
    <li className="card" data-service={service.name}>
      <div className="row between">
        <h3 className="card-title">{service.display_name}</h3>
        <StatusDot status={service.status} />
      </div>
      {service.status_detail && <p className="muted">{service.status_detail}</p>}
      <p className="muted">
        {service.image} · ports {service.ports.join(', ') || 'none'}
      </p>
      <AdminOnly>
        <label className="switch-label">
          Start with Docker
          <Toggle
            checked={service.enabled}
            label={`Start ${service.name} automatically`}
            onChange={async (enabled) => {
              await unwrap(
                enabled
                  ? api.POST('/api/external-services/{name}/enable', { params: { path } })
                  : api.POST('/api/external-services/{name}/disable', { params: { path } }),
              );
              await refresh('external');
            }}
          />
        </label>
      </AdminOnly>
      {Object.keys(service.exports).length > 0 && (
        <div className="exports" aria-label={`Connection values of ${service.name}`} role="group">
          {Object.entries(service.exports).map(([key, value]) => (
            <SecretValue
              key={key}
              label={key}
              value={value}
              reveal={admin && value.includes('****') ? () => revealed(key) : undefined}
            />
          ))}
        </div>
      )}
      <div className="row wrap">
        <AdminOnly>
          <ActionButton action={act('start')} busyLabel="Starting…">
            Start
          </ActionButton>
          <ActionButton action={act('stop')} busyLabel="Stopping…">
            Stop
          </ActionButton>
          <ActionButton action={act('restart')} busyLabel="Restarting…">
            Restart
          </ActionButton>
          <button type="button" className="button secondary" aria-pressed={showLogs} onClick={() => setShowLogs(!showLogs)}>
            {showLogs ? 'Hide logs' : 'Logs'}
          </button>
        </AdminOnly>
        {service.ui_path && (
          <a className="button secondary" href={service.ui_path} target="_blank" rel="noopener">
            Open UI ↗
          </a>
        )}
        <AdminOnly>
          <button type="button" className="button danger" onClick={() => setUninstalling(true)}>
            Uninstall
          </button>
        </AdminOnly>
      </div>
      {showLogs && <ServiceLogs name={service.name} />}
      <Confirm
        open={uninstalling}
        title={`Uninstall ${service.display_name}?`}
        confirmLabel="Uninstall"
        onClose={() => setUninstalling(false)}
        onConfirm={async () => {
          await unwrap(
            api.POST('/api/external-services/{name}/uninstall', { params: { path }, body: { remove_data: removeData } }),
          );
          await refresh('external', 'status');
        }}
      >
        <p>The container {service.container} is removed.</p>
        {volumes.length > 0 && (
          <label className="check">
            <input type="checkbox" checked={removeData} onChange={(event) => setRemoveData(event.target.checked)} />
            Also delete its data volumes: <code className="volumes">{volumes.join(', ')}</code>
          </label>
        )}
      </Confirm>
    </li>
  );
}

/** One connection value of an installed service, in clear (admins only). */
async function revealExport(name: string, key: string): Promise<string> {
  const view = await unwrap(
    api.GET('/api/external-services/{name}', { params: { path: { name }, query: { reveal: true } } }),
  );
  return view.installed?.exports[key] ?? '';
}

/** What a service gives to connect to it (`DATABASE_URL`, ...): secrets masked, each to copy. */
function ConnectionValues({ service }: { service: Schemas['InstalledView'] }) {
  const admin = useIsAdmin();
  const entries = Object.entries(service.exports);
  return (
    <div className="exports" role="group" aria-label={`Connection values of ${service.name}`}>
      <h3>Connection values</h3>
      {entries.length === 0 ? (
        <p className="muted">It gives no connection values.</p>
      ) : (
        <>
          {entries.map(([key, value]) => (
            <SecretValue
              key={key}
              label={key}
              value={value}
              reveal={admin && value.includes('****') ? () => revealExport(service.name, key) : undefined}
            />
          ))}
          <p className="muted">
            Add the ones an extension needs on the <Link to="/keys">Keys</Link> page (they go to <code>.env</code>).
          </p>
        </>
      )}
    </div>
  );
}

function ServiceLogs({ name }: { name: string }) {
  const { lines, live } = useLogFollow(`/api/external-services/${encodeURIComponent(name)}/logs?follow=true&lines=100`);
  return <LogView lines={lines} live={live} label={`Logs of ${name}`} />;
}

/**
 * A service's install: its form (from its definition), the progress while Docker works, then
 * its connection values. The Infrastructure page and the Store page both show it.
 */
export function InstallForm({ name, onDone }: { name: string; onDone: () => void }) {
  const details = useServiceDetails(name);
  if (!details.data) return <Loading error={details.error} what={`the form of ${name}`} />;
  return <InstallFormFields key={name} details={details.data} onDone={onDone} />;
}

function InstallFormFields({ details, onDone }: { details: Schemas['Details']; onDone: () => void }) {
  const fields: Field[] = details.form?.fields ?? [];
  const refresh = useRefresh();
  const [values, setValues] = useState<Values>(() => initialValues(fields));
  const [problems, setProblems] = useState<Problems>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [steps, setSteps] = useState<string[]>([]);
  const [layers, setLayers] = useState(new Map<string, { current: number; total: number; status: string }>());
  const [phase, setPhase] = useState<'form' | 'installing' | 'done'>('form');
  const [installed, setInstalled] = useState<Schemas['InstalledView'] | null>(null);

  const onProgress = (progress: InstallProgress) => {
    if (progress.kind === 'step') setSteps((previous) => [...previous, progress.message]);
    else if (progress.layer) {
      const layer = progress.layer;
      setLayers((previous) =>
        new Map(previous).set(layer, { current: progress.current ?? 0, total: progress.total ?? 0, status: progress.status }),
      );
    }
  };
  const submit = async () => {
    const found = check(fields, values);
    setProblems(found);
    setGeneral([]);
    if (Object.keys(found).length > 0) return;
    setPhase('installing');
    setSteps([]);
    setLayers(new Map());
    const outcome = await installWithProgress(details.name, submission(fields, values), onProgress);
    await refresh('external', 'status', 'store');
    if (outcome.ok) {
      setInstalled(outcome.view);
      setPhase('done');
      return;
    }
    const placed = placeProblems(fields, outcome.problems);
    setProblems(placed.fields);
    setGeneral(placed.general.length || outcome.problems.length ? placed.general : [outcome.detail]);
    setPhase('form');
  };

  return (
    <div className="install" role="region" aria-label={`Install ${details.name}`}>
      <h2>Install {details.name}</h2>
      {steps.length > 0 && (
        <div className="progress" role="status" aria-live="polite" aria-label="Install progress">
          <ol>
            {steps.map((step, index) => (
              <li key={index}>{step}</li>
            ))}
          </ol>
          {phase === 'installing' && <p>{pullSummary(layers)}</p>}
        </div>
      )}
      {phase === 'done' && installed ? (
        <div role="status">
          <p>
            <StatusDot status={installed.status} /> {installed.display_name} is installed.
          </p>
          {installed.ui_path && (
            <p>
              <a href={installed.ui_path} target="_blank" rel="noopener">
                Open its UI ↗
              </a>
            </p>
          )}
          <ConnectionValues service={installed} />
          <button type="button" className="button primary" onClick={onDone}>
            Done
          </button>
        </div>
      ) : (
        <form
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            void submit();
          }}
        >
          {fields.map((field) => (
            <FormField
              key={field.name}
              field={field}
              value={values[field.name]}
              problem={problems[field.name]}
              onChange={(value) => setValues({ ...values, [field.name]: value })}
            />
          ))}
          {general.map((line) => (
            <p key={line} className="error" role="alert">
              {line}
            </p>
          ))}
          <div className="row">
            <button type="submit" className="button primary" disabled={phase === 'installing'}>
              {phase === 'installing' ? 'Installing…' : 'Install'}
            </button>
            <button type="button" className="button secondary" onClick={onDone}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </div>
  );
}

function FormField({
  field,
  value,
  problem,
  onChange,
}: {
  field: Field;
  value: Values[string];
  problem?: string;
  onChange: (value: Values[string]) => void;
}) {
  const id = `field-${field.name}`;
  const label = field.label ?? field.name;
  const describedBy = [field.help ? `${id}-help` : '', problem ? `${id}-problem` : ''].filter(Boolean).join(' ');
  const common = {
    id,
    name: field.name,
    'aria-invalid': problem ? true : undefined,
    'aria-describedby': describedBy || undefined,
  };
  let input;
  if (field.type === 'checkbox') {
    input = <input type="checkbox" {...common} checked={value === true} onChange={(event) => onChange(event.target.checked)} />;
  } else if (field.type === 'select') {
    input = (
      <select {...common} value={String(value)} onChange={(event) => onChange(event.target.value)}>
        {(field.options ?? []).map((option) => (
          <option key={option}>{option}</option>
        ))}
      </select>
    );
  } else {
    input = (
      <input
        {...common}
        type={field.type === 'password' ? 'password' : field.type === 'number' ? 'number' : 'text'}
        value={String(value)}
        required={field.required && !field.generate}
        placeholder={field.generate ? 'generated when left empty' : undefined}
        autoComplete={field.type === 'password' ? 'new-password' : 'off'}
        onChange={(event) => onChange(event.target.value)}
      />
    );
  }
  return (
    <div className="field">
      <label htmlFor={id}>
        {label}
        {field.required && !field.generate ? ' *' : ''}
      </label>
      {input}
      {field.help && (
        <small id={`${id}-help`} className="muted">
          {field.help}
        </small>
      )}
      {problem && (
        <small id={`${id}-problem`} className="error" role="alert">
          {problem}
        </small>
      )}
    </div>
  );
}

/** Services that should run but do not, with a Start button: shown on every page. */
export function DownBanner() {
  const installed = useInstalled();
  const refresh = useRefresh();
  const down = Object.values(installed.data ?? {}).filter(
    (service) => service.enabled && service.status !== 'running',
  );
  if (down.length === 0) return null;
  return (
    <div className="banner" role="alert" id="down-banner">
      {down.map((service) => (
        <p key={service.name} className="row">
          <span>
            <strong>{service.display_name}</strong> is enabled but {service.status}.
          </span>
          <AdminOnly>
            <ActionButton
              kind="primary"
              busyLabel="Starting…"
              action={async () => {
                await unwrap(api.POST('/api/external-services/{name}/start', { params: { path: { name: service.name } } }));
                await refresh('external');
              }}
            >
              Start {service.display_name}
            </ActionButton>
          </AdminOnly>
        </p>
      ))}
    </div>
  );
}
