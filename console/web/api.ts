// The console's reads and actions over the API (same origin, the session cookie as credential).
// Errors arrive as problem details (RFC 9457); a 401 means the session ended, so the page reloads
// into the sign-in.

export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
    this.name = 'ApiProblem';
  }
}

async function answerOf<T>(response: Response): Promise<T> {
  if (response.status === 401) {
    window.location.assign('/');
    throw new ApiProblem(401, 'UNAUTHORIZED', 'signed out');
  }
  if (!response.ok) {
    let problem: { code?: string; detail?: string } = {};
    try {
      problem = (await response.json()) as typeof problem;
    } catch {
      // Not JSON: the status says enough.
    }
    throw new ApiProblem(response.status, problem.code ?? `HTTP_${response.status}`, problem.detail ?? response.statusText);
  }
  return (await response.json()) as T;
}

export async function getJson<T>(path: string): Promise<T> {
  return answerOf<T>(await fetch(path, { headers: { accept: 'application/json' }, credentials: 'same-origin' }));
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  return answerOf<T>(await fetch(path, { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json' }, credentials: 'same-origin', body: JSON.stringify(body) }));
}

/** Builds `path?name=value&...` from the values that are set. */
export function withQuery(path: string, query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(name, String(value));
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}
