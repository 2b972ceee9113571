import { NavLink, Outlet } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { useChangeFeed } from './api/live';
import { useMe } from './api/queries';
import { DownBanner } from './pages/Infrastructure';
import { AdminContext } from './components/ui';

const PAGES = [
  { to: '/', label: 'Dashboard', end: true },
  { to: '/extensions', label: 'Extensions' },
  { to: '/store', label: 'Store' },
  { to: '/keys', label: 'Keys', adminOnly: true },
  { to: '/infrastructure', label: 'Infrastructure' },
  { to: '/mcp', label: 'MCP' },
  { to: '/chat', label: 'Chat' },
  { to: '/sessions', label: 'Sessions' },
  { to: '/activity', label: 'Activity', adminOnly: true },
  { to: '/settings', label: 'Settings' },
];

export function Layout() {
  const feed = useChangeFeed(useQueryClient());
  const me = useMe();
  const admin = me.data?.role === 'admin';
  return (
    <AdminContext value={admin}>
      <a href="#main" className="skip">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Luna</span>
        <nav aria-label="Hub">
          <ul>
            {PAGES.filter((page) => admin || !page.adminOnly).map((page) => (
              <li key={page.to}>
                <NavLink to={page.to} end={page.end}>
                  {page.label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <span className="who" id="who">
          <span className={`feed feed-${feed}`} id="feed" data-state={feed} title={`Live updates: ${feed}`}>
            {feed === 'live' ? 'live' : feed === 'offline' ? 'reconnecting…' : 'connecting…'}
          </span>{' '}
          {me.data?.open_access ? 'open access' : me.data?.login ? `@${me.data.login}` : ''}
          {me.data && !me.data.open_access && <span className="chip" id="role">{me.data.role}</span>}
          {me.data && !me.data.open_access && (
            <form method="post" action="/auth/logout" className="inline">
              <button type="submit" className="link">
                Log out
              </button>
            </form>
          )}
        </span>
      </header>
      <DownBanner />
      {me.data?.role === 'member' && (
        <div className="banner" role="note" id="member-note">
          <p>
            You are a member: you can use extensions, apps and tools, and manage your own sessions and MCP clients.
            Changing Luna (extensions, keys, services, settings) needs an admin (<code>auth.admins</code>).
          </p>
        </div>
      )}
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </AdminContext>
  );
}

export function NotFound() {
  return (
    <section>
      <h1>Nothing here</h1>
      <p>
        This page does not exist. <NavLink to="/">Back to the dashboard</NavLink>
      </p>
    </section>
  );
}
