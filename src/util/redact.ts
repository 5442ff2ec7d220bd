/**
 * Keeps credentials out of everything we store or print. Server text (an error body that
 * quotes the Authorization header, an answer that echoes a key) goes through `redactSecrets`;
 * every URL that is written to a manifest or record goes through `sanitizeUrl`.
 */

export const REDACTED = '[redacted]';

/** Query parameters whose values are credentials (compared case-insensitively, `-`/`_` ignored). */
const SECRET_PARAM = /^(api_?key|key|token|access_?token|auth|authorization|secret|client_?secret|password|passwd|pwd|sig|signature|x_?api_?key|code)$/i;

const PATTERNS: Array<[RegExp, string]> = [
  // An Authorization header's value, whatever its scheme.
  [/\b(Authorization["']?\s*[:=]\s*["']?)(Bearer\s+|Basic\s+|Token\s+)?(?!(?:Bearer|Basic|Token)\b)(?!\[redacted\])[^\s"',;]{4,}/gi, `$1$2${REDACTED}`],
  // Authorization: Bearer <token> / Basic <b64> (quoted in JSON or not). A credential has a
  // digit or symbol in it, which keeps "Bearer authentication" and "Basic information" as text.
  [/\b(Bearer|Basic)\s+(?=[A-Za-z._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{6,}/gi, `$1 ${REDACTED}`],
  // OpenAI-style keys: sk-..., sk-proj-..., and the like.
  [/\bsk-[A-Za-z0-9_-]{6,}/g, `sk-${REDACTED}`],
  // api_key=..., "api-key": "...", x-api-key: ...
  [/\b((?:x-)?api[-_]?key|access[-_]?token|password|secret)(["']?\s*[:=]\s*["']?)[^\s"'&,;}]{4,}/gi, `$1$2${REDACTED}`],
  // userinfo in any URL inside the text.
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+(?::[^\s/@]*)?@/gi, `$1${REDACTED}@`],
];

/**
 * `text` with the given secrets (the configured API key, ...) and anything that looks like a
 * credential replaced by [redacted]. Secrets shorter than 4 characters are ignored (they would
 * match ordinary text).
 */
export function redactSecrets(text: string, secrets: ReadonlyArray<string | undefined | null> = []): string {
  if (!text) return text;
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4 && out.includes(s)) out = out.split(s).join(REDACTED);
  }
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  return out;
}

/**
 * A URL fit to store: userinfo (user:pass@) removed and the values of secret-looking query
 * parameters replaced by [redacted]. Text that does not parse as a URL is redacted as text.
 */
export function sanitizeUrl(url: string): string;
export function sanitizeUrl(url: string | undefined): string | undefined;
export function sanitizeUrl(url: string | undefined): string | undefined {
  if (url === undefined || url === null || url === '') return url;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return redactSecrets(url);
  }
  u.username = '';
  u.password = '';
  for (const k of [...u.searchParams.keys()]) {
    if (SECRET_PARAM.test(k.replace(/-/g, '_'))) u.searchParams.set(k, REDACTED);
  }
  let s = u.toString();
  // URL serialisation percent-encodes the brackets; keep the marker readable.
  s = s.replace(/%5Bredacted%5D/g, REDACTED);
  // Keep the user's spelling when nothing changed but a trailing slash was added.
  if (s === url + '/' ) return url;
  return s;
}

const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * A deep copy of `value` with every string that is a URL passed through `sanitizeUrl`, for
 * configs and records that are written to disk (manifests, run state).
 */
export function sanitizeUrlsDeep<T>(value: T): T {
  if (typeof value === 'string') return (URL_LIKE.test(value) ? sanitizeUrl(value) : value) as T;
  if (Array.isArray(value)) return value.map((v) => sanitizeUrlsDeep(v)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = sanitizeUrlsDeep(v);
    return out as T;
  }
  return value;
}
