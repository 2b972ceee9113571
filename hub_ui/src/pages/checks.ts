// The dashboard's Checks: `luna doctor`'s report (`GET /api/supervisor/doctor`) as people read it.
import type { Schemas } from '../api/client';

export type Check = Schemas['Check'];
export type Verdict = Schemas['CheckStatus'];

const TITLE: Record<string, string> = {
  luna: 'Luna',
  settings: 'Settings',
  port_http: 'HTTP port',
  port_https: 'HTTPS port',
  dns: 'DNS',
  github: 'GitHub app',
  allow_list: 'Who may log in',
  certificate: 'HTTPS certificate',
  docker: 'Docker',
  disk: 'Disk space',
  clock: 'Clock',
  files: 'File permissions',
  extensions: 'Extensions',
};

/** A check's short title; an id this Hub does not know yet, as it is. */
export const checkTitle = (id: string): string => TITLE[id] ?? id;

/** The symbol `luna doctor` prints, and the words that stand for it. */
export const VERDICT: Record<Verdict, { symbol: string; label: string }> = {
  ok: { symbol: '✓', label: 'Passes' },
  warn: { symbol: '⚠', label: 'Warning' },
  fail: { symbol: '✗', label: 'Fails' },
};

const RANK: Record<Verdict, number> = { fail: 0, warn: 1, ok: 2 };

/** Failures first, then warnings, then what passes; Luna's order within each. */
export const ordered = (checks: Check[]): Check[] => [...checks].sort((a, b) => RANK[a.status] - RANK[b.status]);

/** The one line above the list, and how it looks: the worst verdict. */
export function headline(checks: Check[]): { text: string; verdict: Verdict } {
  const problems = checks.filter((check) => check.status !== 'ok').length;
  const verdict = checks.some((check) => check.status === 'fail') ? 'fail' : problems ? 'warn' : 'ok';
  if (!problems) return { text: 'All checks pass', verdict };
  return { text: problems === 1 ? '1 problem needs attention' : `${problems} problems need attention`, verdict };
}
