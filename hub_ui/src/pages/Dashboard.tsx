import { Link } from 'react-router';
import { useClients, useExtensions, useInstalled, useStatus, useTools } from '../api/queries';
import { Loading, StatusDot } from '../components/ui';

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
    </section>
  );
}
