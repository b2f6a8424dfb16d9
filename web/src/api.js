// The JSON API of `logctl serve` (docs/CONSOLE.md). Every error becomes an Error with the server's
// one-line message; a 401 also tells the app to show the token prompt.
let onUnauthorized = () => {};
let csrfToken = null;

export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function errorOf(res) {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && typeof body.error === 'string') message = body.error;
  } catch {
    // not JSON: keep the status line
  }
  if (res.status === 401) onUnauthorized(message);
  return new ApiError(res.status, message);
}

export async function getJson(path, params) {
  const res = await fetch(withQuery(path, params), { headers: { Accept: 'application/json' } });
  if (!res.ok) throw await errorOf(res);
  return res.json();
}

async function csrf() {
  if (csrfToken === null) csrfToken = (await getJson('/api/csrf')).csrf;
  return csrfToken;
}

// A mutating request: the CSRF header of GET /api/csrf (the session cookie carries the token).
export async function postJson(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Logship-CSRF': await csrf() },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw await errorOf(res);
  return res.json();
}

export async function login(token) {
  const res = await fetch('/api/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      message = (await res.json()).error ?? message;
    } catch {
      // keep the status line
    }
    throw new ApiError(res.status, message);
  }
}

// Only the parameters that are set, so the URL stays short and bookmarkable.
export function withQuery(path, params) {
  if (!params) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
