import { describe, expect, it } from 'vitest';
import { checkTitle, headline, ordered, type Check } from './checks';

const check = (name: string, status: Check['status']): Check => ({ name, status, summary: name, advice: status === 'ok' ? null : 'fix it' });

describe("the dashboard's checks", () => {
  it('lists failures first, then warnings, then what passes, keeping Luna’s order within each', () => {
    const checks = [check('luna', 'ok'), check('disk', 'warn'), check('github', 'fail'), check('clock', 'warn'), check('files', 'fail')];
    expect(ordered(checks).map((one) => one.name)).toEqual(['github', 'files', 'disk', 'clock', 'luna']);
    expect(checks[0].name).toBe('luna');
  });

  it('counts warnings and failures as problems', () => {
    expect(headline([check('luna', 'ok')])).toEqual({ text: 'All checks pass', verdict: 'ok' });
    expect(headline([check('luna', 'ok'), check('disk', 'warn')])).toEqual({ text: '1 problem needs attention', verdict: 'warn' });
    expect(headline([check('disk', 'warn'), check('github', 'fail')])).toEqual({ text: '2 problems need attention', verdict: 'fail' });
  });

  it('titles a check for people, and an unknown one by its id', () => {
    expect(checkTitle('port_https')).toBe('HTTPS port');
    expect(checkTitle('allow_list')).toBe('Who may log in');
    expect(checkTitle('something_new')).toBe('something_new');
  });
});
