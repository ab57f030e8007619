// The one way pages talk to the server: same-origin requests to /api/v1 with JSON in
// and out. Unsafe methods carry the session's CSRF token (X-CSRF-Token); a 401 sends
// the person to the sign-in page and back here afterwards. Nothing is cached.

export const API = "/api/v1";

let csrfToken = null;
let mePromise = null;

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `request failed with HTTP ${status}`);
    this.status = status;
    this.code = body?.code || "http_error";
    this.details = body?.details || [];
  }
}

export function setCsrf(token) {
  csrfToken = token;
}

async function csrf() {
  if (!csrfToken) {
    const body = await api("/auth/csrf", { redirectOn401: false });
    csrfToken = body.csrf_token;
  }
  return csrfToken;
}

/** A same-origin path to come back to after signing in, or "/". */
export function safeNext(value) {
  return typeof value === "string" && /^\/(?![/\\])[^\s]*$/.test(value) ? value : "/";
}

export function toSignIn() {
  const here = location.pathname + location.search;
  location.assign(`/signin?next=${encodeURIComponent(here)}`);
}

/**
 * Call the API. `query` values that are null, undefined or "" are left out.
 * A 401 sends the person to the sign-in page unless `redirectOn401` is false.
 * Throws ApiError for any non-2xx answer (after redirecting on 401 unless told not to).
 */
export async function api(path, { method = "GET", body, query, redirectOn401 = true, csrf: sendCsrf = true, signal } = {}) {
  const url = new URL(API + path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // Signing in has no session yet, so no CSRF token (csrf: false).
  if (sendCsrf && !["GET", "HEAD"].includes(method)) headers["X-CSRF-Token"] = await csrf();
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
    redirect: "error",
    signal,
  });
  const isJson = (response.headers.get("content-type") || "").includes("json");
  const data = response.status === 204 ? null : isJson ? await response.json() : null;
  if (response.status === 401 && redirectOn401) toSignIn();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/**
 * GET something that may be an image: `{ status: 200, blob }` for the image,
 * `{ status: 202, body }` while the server is still getting it; throws ApiError for any
 * other answer. `url` is a same-origin path the API handed out (it starts with /api/v1).
 */
export async function apiImage(url) {
  if (!url.startsWith(API + "/")) throw new ApiError(400, { message: `not an API path: ${url}` });
  const response = await fetch(new URL(url, location.origin), {
    headers: { Accept: "image/jpeg, application/json" },
    credentials: "same-origin",
    cache: "no-store",
    redirect: "error",
  });
  if (response.status === 200 && (response.headers.get("content-type") || "").startsWith("image/")) {
    return { status: 200, blob: await response.blob(), headers: response.headers };
  }
  const isJson = (response.headers.get("content-type") || "").includes("json");
  const data = isJson ? await response.json() : null;
  if (response.status === 202) return { status: 202, body: data };
  if (response.status === 401) toSignIn();
  throw new ApiError(response.status, data);
}

/**
 * The last request wins, for what a person can ask for again before the answer came (a chart,
 * a filtered list): `const turn = lastRequestWins();` once, then for each request
 * `const current = turn(); const data = await api(...); if (!current()) return;`.
 * Answers to requests in flight together come back in any order (the server answers each
 * on a thread of its own): without this, the start-up's answer for the default chart, coming
 * late, replaced the chart the person had chosen meanwhile, and its settings form then saved
 * to the wrong characteristic.
 */
export function lastRequestWins() {
  let latest = 0;
  return () => {
    const mine = ++latest;
    return () => mine === latest;
  };
}

/** Who is signed in and what they may do (GET /auth/me), fetched once per page. */
export function me({ redirectOn401 = true } = {}) {
  if (!mePromise) {
    mePromise = api("/auth/me", { redirectOn401 }).catch((error) => {
      mePromise = null;
      throw error;
    });
  }
  return mePromise;
}

/** The lines `who` may use `action` on: null for every line, [] for none. */
export function linesFor(who, action) {
  const permission = (who?.permissions || []).find((p) => p.action === action);
  return permission ? permission.lines : [];
}

export function can(who, action) {
  return Boolean((who?.permissions || []).some((p) => p.action === action));
}
