import { api, unwrap } from '../api/client';
import { useCerts, useRefresh, useStatus } from '../api/queries';
import { ActionButton, AdminOnly, Loading, StatusDot } from '../components/ui';

export function Settings() {
  const status = useStatus();
  const certs = useCerts();
  const refresh = useRefresh();
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Settings</h1>
      {status.data ? (
        <dl className="facts">
          <dt>Deployment mode</dt>
          <dd>{status.data.deployment_mode}</dd>
          <dt>Site URL</dt>
          <dd>{status.data.public_url}</dd>
          <dt>Version</dt>
          <dd>{status.data.version}</dd>
        </dl>
      ) : (
        <Loading error={status.error} what="the settings" />
      )}
      <p className="muted">Settings live in config/luna.toml; secrets in .env. Luna reads them at start.</p>
      <h2>HTTPS</h2>
      {!certs.data ? (
        <Loading error={certs.error} what="the certificate" />
      ) : !certs.data.https ? (
        <p className="muted">Local mode serves plain HTTP on loopback: there is no certificate.</p>
      ) : (
        <>
          <dl className="facts">
            <dt>Served certificate</dt>
            <dd>
              {certs.data.https.source === 'acme' ? 'from the ACME CA' : 'self-signed'} for{' '}
              {certs.data.https.certificate.names.join(', ')}
            </dd>
            <dt>Issuer</dt>
            <dd>{certs.data.https.certificate.issuer}</dd>
            <dt>Valid until</dt>
            <dd>{new Date(certs.data.https.certificate.not_after).toLocaleString()}</dd>
            <dt>Fingerprint (SHA-256)</dt>
            <dd>
              <code className="wrap-anywhere">{certs.data.https.certificate.sha256_fingerprint}</code>
            </dd>
            {certs.data.https.acme && (
              <>
                <dt>ACME</dt>
                <dd>
                  <StatusDot status={certs.data.https.acme.state} />{' '}
                  {certs.data.https.acme.renew_at && `renews ${new Date(certs.data.https.acme.renew_at).toLocaleString()}`}
                  {certs.data.https.acme.last_error && <span className="error"> · {certs.data.https.acme.last_error}</span>}
                </dd>
              </>
            )}
          </dl>
          {certs.data.https.problem && <p className="warn">{certs.data.https.problem}</p>}
          {certs.data.https.acme && (
            <AdminOnly>
              <ActionButton
                kind="primary"
                busyLabel="Renewing…"
                action={async () => {
                  await unwrap(api.POST('/api/supervisor/certs/renew'));
                  await refresh('certs', 'status');
                }}
              >
                Renew now
              </ActionButton>
            </AdminOnly>
          )}
        </>
      )}
    </section>
  );
}
