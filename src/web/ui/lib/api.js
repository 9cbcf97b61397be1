// Talking to the server's HTTP API: `makeApi(prefix)` returns the
// `api(path, query)` function pages get as `ctx.api`.

/** A failed API call: the HTTP status and Prometheus's error envelope. */
export class ApiError extends Error {
  constructor(status, errorType, error, warnings = []) {
    super(error || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.errorType = errorType || '';
    this.error = error || `HTTP ${status}`;
    this.warnings = warnings;
  }
}

/** Turns an object or URLSearchParams into URLSearchParams; array values
 * become repeated keys, null/undefined values are left out. */
export function toSearchParams(query) {
  if (query instanceof URLSearchParams) return query;
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) v.forEach((x) => p.append(k, String(x)));
    else p.append(k, String(v));
  }
  return p;
}

/** `api(path, query)` for a server under `prefix`: fetches, parses the
 * JSON envelope and returns it, or throws an ApiError. */
export function makeApi(prefix) {
  return async function api(path, query) {
    const qs = toSearchParams(query).toString();
    const url = prefix + path + (qs ? `?${qs}` : '');
    let resp;
    try {
      resp = await fetch(url, { headers: { Accept: 'application/json' } });
    } catch (e) {
      throw new ApiError(0, 'network', `cannot reach the server: ${e.message}`);
    }
    const text = await resp.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ApiError(resp.status, 'bad_response', text.trim() || `HTTP ${resp.status}`);
    }
    if (!resp.ok || body.status !== 'success') {
      throw new ApiError(resp.status, body.errorType, body.error, body.warnings || []);
    }
    return body;
  };
}
