import { describe, expect, it } from 'vitest';
import { defaultName, describeChanges, setEnabled, startingDraft, withOperation } from './draft';
import type { Schemas } from '../api/client';

const hello = { name: 'hello', enabled: true } as Schemas['ExtensionSummary'];

describe('the extensions draft', () => {
  it('starts from the saved queue, else from master_config', () => {
    const current = { extensions: { hello: { enabled: true } } };
    expect(startingDraft({ current, queue: null }).operations).toEqual([]);
    const queue = { operations: [{ type: 'delete' as const, target: 'x' }], master_config: {} };
    expect(startingDraft({ current, queue }).operations).toHaveLength(1);
  });

  it('collects one operation per extension and describes every change', () => {
    let draft = startingDraft({ current: { extensions: { hello: { enabled: true } } } });
    draft = setEnabled(draft, 'hello', false);
    draft = withOperation(draft, 'notes', { type: 'install', source: 'github:octo/notes', target: 'notes' });
    draft = withOperation(draft, 'notes', { type: 'install', source: 'github:octo/notes@v2', target: 'notes' });
    expect(describeChanges(draft, [hello])).toEqual(['Install notes from github:octo/notes@v2', 'Disable hello']);
    expect(describeChanges(withOperation(setEnabled(draft, 'hello', true), 'notes', null), [hello])).toEqual([]);
  });

  it('names an install as Luna does', () => {
    expect(defaultName('github:octo/weather@v1')).toBe('weather');
    expect(defaultName('github:octo/mono:exts/notes@main')).toBe('notes');
    expect(defaultName('todos.zip')).toBe('todos');
  });
});
