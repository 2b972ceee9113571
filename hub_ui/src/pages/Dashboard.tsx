import { Link } from 'react-router';
import { ApiProblem, message } from '../api/client';
import { useClients, useDoctor, useExtensions, useInstalled, useStatus, useTools } from '../api/queries';
import { Loading, StatusDot, useIsAdmin } from '../components/ui';
import { checkTitle, headline, ordered, VERDICT } from './checks';

// Where each component is looked after.
const HOME: Record<string, string> = {
  extensions: '/extensions',
  external_services: '/infrastructure',
  mcp: '/mcp',
  https: '/settings',
};

const TITLE: Record<string, string> = {
  gateway: 'Gateway',
  core_api: 'API',
  mcp: 'MCP endpoint',
  extensions: 'Extensions',
  external_services: 'External services',
  https: 'HTTPS',
};

export function Dashboard() {
  const status = useStatus();
  const extensions = useExtensions();
  const tools = useTools();
  const installed = useInstalled();
  const clients = useClients();
  // Asked at once, shown when it answers (seconds): the rest of the page does not wait.
  const admin = useIsAdmin();
  const doctor = useDoctor(admin);
  if (!status.data) return <Loading error={status.error} what="the status" />;
  const report = status.data;
  const attention = report.components.filter((component) => component.status !== 'running');
  const services = Object.values(installed.data ?? {});
  const counts = [
    {
      label: 'Extensions running',
      value: `${(extensions.data ?? []).filter((extension) => extension.running).length} / ${extensions.data?.length ?? '–'}`,
      to: '/extensions',
    },
    { label: 'Tools in MCP', value: `${(tools.data?.tools ?? []).filter((tool) => tool.in_mcp).length}`, to: '/mcp' },
    {
      label: 'Services running',
      value: `${services.filter((service) => service.status === 'running').length} / ${services.length}`,
      to: '/infrastructure',
    },
    { label: 'Connected clients', value: `${clients.data?.length ?? '–'}`, to: '/mcp' },
  ];
  return (
    <section aria-labelledby="dashboard-title">
      <h1 id="dashboard-title">Dashboard</h1>
      <p className="muted">
        Luna {report.version} · {report.deployment_mode} mode · <span>{report.public_url}</span>
      </p>
      <ul className="counts">
        {counts.map((count) => (
          <li key={count.label}>
            <Link to={count.to} className="count">
              <span className="count-value">{count.value}</span>
              <span className="count-label">{count.label}</span>
            </Link>
          </li>
        ))}
      </ul>
      {attention.length > 0 && (
        <div className="attention" role="status">
          <h2>Needs attention</h2>
          <ul>
            {attention.map((component) => (
              <li key={component.name}>
                <StatusDot status={component.status} label={TITLE[component.name] ?? component.name} />{' '}
                {component.detail}{' '}
                {HOME[component.name] && <Link to={HOME[component.name]}>Look at it</Link>}
              </li>
            ))}
          </ul>
        </div>
      )}
      <h2>Components</h2>
      <table className="table" id="components">
        <thead>
          <tr>
            <th scope="col">Component</th>
            <th scope="col">Status</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          {report.components.map((component) => (
            <tr key={component.name} data-component={component.name}>
              <td>{HOME[component.name] ? <Link to={HOME[component.name]}>{TITLE[component.name] ?? component.name}</Link> : (TITLE[component.name] ?? component.name)}</td>
              <td>
                <StatusDot status={component.status} />
              </td>
              <td>{component.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {report.https && (
        <p>
          HTTPS certificate for {report.https.certificate.names.join(', ')} from {report.https.certificate.issuer}, valid
          until {new Date(report.https.certificate.not_after).toLocaleDateString()}.{' '}
          <Link to="/settings">Details</Link>
        </p>
      )}
      {admin && <Checks doctor={doctor} />}
    </section>
  );
}

/** `luna doctor` on the page: each check with its verdict, the advice under what is wrong. */
function Checks({ doctor }: { doctor: ReturnType<typeof useDoctor> }) {
  // Not an admin after all (the role changed since `/auth/me`): nothing to show.
  if (doctor.error instanceof ApiProblem && doctor.error.status === 403) return null;
  const checks = doctor.data ? ordered(doctor.data.checks) : [];
  const summary = doctor.data && headline(doctor.data.checks);
  return (
    <section aria-labelledby="checks-title" id="checks">
      <div className="row between checks-head">
        <h2 id="checks-title">Checks</h2>
        <button
          type="button"
          className="button secondary"
          disabled={doctor.isFetching}
          aria-busy={doctor.isFetching}
          onClick={() => doctor.refetch()}
        >
          {doctor.isFetching ? 'Checking…' : 'Check again'}
        </button>
      </div>
      <div role="status" id="checks-state">
        {doctor.isFetching ? (
          <p className="muted">
            <span className="spinner" aria-hidden="true" /> Running the checks (GitHub, DNS, Docker)…
          </p>
        ) : doctor.error ? (
          <p className="error">Could not run the checks: {message(doctor.error)}</p>
        ) : (
          summary && (
            <p className={`checks-headline verdict-${summary.verdict}`} id="checks-headline">
              {summary.text}
            </p>
          )
        )}
      </div>
      {checks.length > 0 && (
        <ul className="checks" aria-labelledby="checks-title">
          {checks.map((check) => (
            <li key={check.name} data-check={check.name} data-verdict={check.status}>
              <span className={`verdict verdict-${check.status}`} aria-hidden="true">
                {VERDICT[check.status].symbol}
              </span>
              <div>
                <span className="visually-hidden">{VERDICT[check.status].label}: </span>
                <strong>{checkTitle(check.name)}</strong> <span className="muted">{withCode(check.summary)}</span>
                {check.advice && <p className="check-advice">{withCode(check.advice)}</p>}
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** The doctor's words, with its `commands` set as code. */
function withCode(text: string) {
  return text.split('`').map((part, index) => (index % 2 ? <code key={index}>{part}</code> : part));
}
