// The typed client of Luna's control API, generated from its OpenAPI document
// (src/api/schema.d.ts, `npm run api`): a path or body the API does not have fails to compile.
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];

/** An API answer that was not a success, with the words to show for it. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** Sends the browser to the GitHub login, coming back to where it was. */
export function logIn(): never {
  window.location.assign(`/auth/login?rd=${encodeURIComponent(location.pathname + location.search)}`);
  throw new ApiProblem(401, 'Your session ended; logging in again…');
}

// The gateway answers an expired session with 401 (not a login redirect) when a script asks.
const sessionCheck: Middleware = {
  onResponse({ response }) {
    if (response.status === 401) logIn();
    return undefined;
  },
};

export const api = createClient<paths>({
  headers: { Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest' },
});
api.use(sessionCheck);

/** The data of an answer, or an `ApiProblem` with the API's own explanation. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok && data !== undefined) return data;
  throw new ApiProblem(response.status, describe(error, response));
}

function describe(error: unknown, response: Response): string {
  if (error && typeof error === 'object' && 'detail' in error && typeof error.detail === 'string') return error.detail;
  if (response.status === 502 || response.status === 503) return 'Luna is not answering right now; try again in a moment.';
  return `The request failed (HTTP ${response.status}).`;
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** POSTs a file-like body the generated client does not send (a zip, a .env); its JSON answer. */
export async function postBody<T>(url: string, body: BodyInit, contentType: string): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': contentType, Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest' },
    body,
  });
  if (response.status === 401) logIn();
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiProblem(response.status, describe(answer, response));
  return answer as T;
}
