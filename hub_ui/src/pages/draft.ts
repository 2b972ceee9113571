// The Extensions page's draft: what the user changed, as the update queue holds it —
// operations (delete, install, update) and the whole master_config wanted afterwards.
import type { Schemas } from '../api/client';

export type Operation = Schemas['Operation'];
export type Draft = { operations: Operation[]; master_config: Schemas['MasterConfig'] };

/** The draft to start from: the saved queue, else master_config as it is. */
export function startingDraft(state: Schemas['QueueState']): Draft {
  if (state.queue) return { operations: state.queue.operations, master_config: state.queue.master_config };
  return { operations: [], master_config: state.current };
}

export function sameDraft(a: Draft, b: Draft): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function isEnabled(draft: Draft, name: string, fallback: boolean): boolean {
  return draft.master_config.extensions?.[name]?.enabled ?? fallback;
}

export function setEnabled(draft: Draft, name: string, enabled: boolean): Draft {
  const extensions = { ...(draft.master_config.extensions ?? {}) };
  extensions[name] = { ...(extensions[name] ?? {}), enabled };
  return { ...draft, master_config: { ...draft.master_config, extensions } };
}

export function operationOn(draft: Draft, target: string): Operation | undefined {
  return draft.operations.find((operation) => operation.target === target);
}

/** Adds `operation`, replacing another one on the same extension; `null` drops it. */
export function withOperation(draft: Draft, target: string, operation: Operation | null): Draft {
  const others = draft.operations.filter((existing) => existing.target !== target);
  return { ...draft, operations: operation ? [...others, operation] : others };
}

/** The folder name a source installs under unless one is chosen (as Luna derives it). */
export function defaultName(source: string): string {
  const text = source.trim().replace(/^github:/, '').replace(/@.*$/, '');
  const [repository, path] = text.split(':');
  const last = (path ?? repository ?? '').split('/').filter(Boolean).pop() ?? '';
  return last.replace(/\.zip$/i, '');
}

/** Every pending change in words, against the extensions as they run now. */
export function describeChanges(draft: Draft, extensions: Schemas['ExtensionSummary'][]): string[] {
  const lines: string[] = draft.operations.map((operation) => {
    switch (operation.type) {
      case 'delete':
        return `Remove ${operation.target}`;
      case 'install':
        return `Install ${operation.target} from ${operation.source}`;
      case 'update':
        return `Update ${operation.target}${operation.source ? ` from ${operation.source}` : ''}`;
    }
  });
  for (const extension of extensions) {
    const wanted = isEnabled(draft, extension.name, extension.enabled);
    if (wanted !== extension.enabled) lines.push(`${wanted ? 'Enable' : 'Disable'} ${extension.name}`);
  }
  return lines;
}
