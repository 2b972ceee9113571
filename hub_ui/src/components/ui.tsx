// The Hub's small component set: every control is a real button, input or link with a
// label, reachable by keyboard, with a visible focus ring (styles.css).
import { createContext, useContext, useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { message } from '../api/client';

export type Tone = 'good' | 'warn' | 'bad' | 'idle';

/** How a status word looks: running is good, starting is on its way, stopped is idle. */
export function toneOf(status: string | null | undefined): Tone {
  switch (status) {
    case 'running':
    case 'valid':
    case 'healthy':
      return 'good';
    case 'starting':
    case 'issuing':
    case 'degraded':
      return 'warn';
    case 'stopped':
    case 'disabled':
    case undefined:
    case null:
      return 'idle';
    default:
      return 'bad';
  }
}

export function StatusDot({ status, label }: { status: string | null | undefined; label?: string }) {
  const tone = toneOf(status);
  return (
    <span className={`status status-${tone}`} data-status={status ?? 'unknown'}>
      <span className="dot" aria-hidden="true" />
      {label ?? status ?? 'unknown'}
    </span>
  );
}

/** An on/off switch; `onChange` may be slow: the switch waits, then shows the answer. */
export function Toggle({
  checked,
  label,
  onChange,
  disabled,
}: {
  checked: boolean;
  label: string;
  onChange: (next: boolean) => Promise<unknown>;
  disabled?: boolean;
}) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <span className="toggle-wrap">
      <button
        type="button"
        role="switch"
        aria-checked={checked}
        aria-label={label}
        className="toggle"
        disabled={disabled || pending}
        aria-busy={pending}
        onClick={async () => {
          setPending(true);
          setError(null);
          try {
            await onChange(!checked);
          } catch (failure) {
            setError(message(failure));
          } finally {
            setPending(false);
          }
        }}
      >
        <span className="knob" aria-hidden="true" />
      </button>
      {error && (
        <span className="error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

/** Whether the person using the Hub is an admin (`/auth/me`); Layout provides it. */
export const AdminContext = createContext(false);

export const useIsAdmin = () => useContext(AdminContext);

/**
 * Controls that change Luna: usable by an admin; for a member disabled (a disabled
 * `<fieldset>` disables every control in it), saying why. The API refuses a member anyway:
 * this only spares them a button that cannot work.
 */
export function AdminOnly({ children }: { children: ReactNode }) {
  const admin = useIsAdmin();
  if (admin) return <>{children}</>;
  return (
    <fieldset disabled className="admin-only" title="Only an admin can do this (auth.admins)">
      {children}
    </fieldset>
  );
}

/** A button for an action that takes a while: it says so, and shows the error beside it. */
export function ActionButton({
  children,
  action,
  kind = 'secondary',
  busyLabel,
  disabled,
  title,
}: {
  children: ReactNode;
  action: () => Promise<unknown>;
  kind?: 'primary' | 'secondary' | 'danger';
  busyLabel?: string;
  disabled?: boolean;
  title?: string;
}) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <span className="action">
      <button
        type="button"
        className={`button ${kind}`}
        disabled={disabled || pending}
        aria-busy={pending}
        title={title}
        onClick={async () => {
          setPending(true);
          setError(null);
          try {
            await action();
          } catch (failure) {
            setError(message(failure));
          } finally {
            setPending(false);
          }
        }}
      >
        {pending ? (busyLabel ?? 'Working…') : children}
      </button>
      {error && (
        <span className="error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

/** A `<dialog>` shown as a modal while `open` (the browser's own: focus trapped, Escape closes). */
export function useModal(open: boolean) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (open && !element.open) element.showModal();
    if (!open && element.open) element.close();
  }, [open]);
  return dialog;
}

/** A modal question (the browser's own `<dialog>`: focus trapped, Escape closes). */
export function Confirm({
  open,
  title,
  children,
  confirmLabel,
  onConfirm,
  onClose,
}: {
  open: boolean;
  title: string;
  children?: ReactNode;
  confirmLabel: string;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}) {
  const dialog = useModal(open);
  const titleId = useId();
  return (
    <dialog ref={dialog} aria-labelledby={titleId} onClose={onClose} className="dialog">
      <h2 id={titleId}>{title}</h2>
      {children}
      <div className="row end">
        <button type="button" className="button secondary" onClick={onClose}>
          Cancel
        </button>
        <ActionButton
          kind="danger"
          action={async () => {
            await onConfirm();
            onClose();
          }}
        >
          {confirmLabel}
        </ActionButton>
      </div>
    </dialog>
  );
}

/** Copying to the clipboard: "Copied" for a moment, and the browser's refusal said. */
function useCopy() {
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const copy = async (text: string) => {
    setError(null);
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      setError('The browser did not allow copying; select the text instead.');
    }
  };
  return { copied, error, setError, copy };
}

/** A button that copies `text`. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const { copied, error, copy } = useCopy();
  return (
    <span className="action">
      <button type="button" className="button small secondary" aria-label={label} onClick={() => copy(text)}>
        {copied ? 'Copied' : 'Copy'}
      </button>
      {error && (
        <span className="error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

/** A value to copy; secret ones masked until revealed (`reveal` fetches the clear value). */
export function SecretValue({
  label,
  value,
  reveal,
}: {
  label: string;
  value: string;
  reveal?: () => Promise<string>;
}) {
  const [shown, setShown] = useState<string | null>(null);
  const { copied, error, setError, copy } = useCopy();
  const current = shown ?? value;
  return (
    <div className="secret">
      <span className="secret-label">{label}</span>
      <code className="secret-value" aria-label={label}>
        {current}
      </code>
      {reveal && (
        <button
          type="button"
          className="button small secondary"
          onClick={async () => {
            setError(null);
            if (shown !== null) return setShown(null);
            try {
              setShown(await reveal());
            } catch (failure) {
              setError(message(failure));
            }
          }}
        >
          {shown !== null ? 'Hide' : 'Reveal'}
        </button>
      )}
      <button
        type="button"
        className="button small secondary"
        aria-label={`Copy ${label}`}
        onClick={async () => copy(reveal && shown === null ? await reveal().catch(() => value) : current)}
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
      {error && (
        <span className="error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

export function Tabs<T extends string>({
  tabs,
  current,
  onSelect,
  label,
}: {
  tabs: { id: T; label: string }[];
  current: T;
  onSelect: (id: T) => void;
  label: string;
}) {
  return (
    <div role="tablist" aria-label={label} className="tabs">
      {tabs.map((tab, index) => (
        <button
          key={tab.id}
          type="button"
          role="tab"
          id={`tab-${tab.id}`}
          aria-selected={tab.id === current}
          aria-controls={`panel-${tab.id}`}
          tabIndex={tab.id === current ? 0 : -1}
          className="tab"
          onClick={() => onSelect(tab.id)}
          onKeyDown={(event) => {
            const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
            if (!step) return;
            const next = tabs[(index + step + tabs.length) % tabs.length];
            onSelect(next.id);
            document.getElementById(`tab-${next.id}`)?.focus();
          }}
        >
          {tab.label}
        </button>
      ))}
    </div>
  );
}

/** What a query shows while it loads or after it failed. */
export function Loading({ error, what }: { error?: unknown; what: string }) {
  if (error) {
    return (
      <p className="error" role="alert">
        Could not load {what}: {message(error)}
      </p>
    );
  }
  return (
    <p className="muted" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function LogView({ lines, live, label }: { lines: string[]; live: boolean; label: string }) {
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const element = box.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, [lines]);
  return (
    <div className="logs">
      <div className="row">
        <strong>{label}</strong>
        <StatusDot status={live ? 'running' : 'stopped'} label={live ? 'following' : 'not connected'} />
      </div>
      <pre ref={box} className="log-lines" tabIndex={0} aria-label={label} aria-live="off">
        {lines.length ? lines.join('\n') : 'No lines yet.'}
      </pre>
    </div>
  );
}

export function timeAgo(unixSeconds: number | null | undefined): string {
  if (!unixSeconds) return 'never';
  const seconds = Math.max(0, Math.round(Date.now() / 1000 - unixSeconds));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(unixSeconds * 1000).toLocaleString();
}
