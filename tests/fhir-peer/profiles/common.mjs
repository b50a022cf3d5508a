// Helpers shared by the vendor profiles (oracle, epic). Nothing here changes the default profile.
import { randomUUID } from 'node:crypto';
import { parseSearchRequest } from '@medplum/core';

export const outcome = (code, text, severity = 'error') => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity, code, details: { text } }],
});

/** A finished answer thrown from deep inside a profile: [status, body, headers]. */
export class Reply extends Error {
  constructor(status, body, headers = {}) {
    super(`HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

export const fail = (status, code, text) => {
  throw new Reply(status, outcome(code, text));
};

/** Runs fn and turns a thrown Reply into the [status, body, headers] the server expects. */
export async function replying(fn) {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Reply) return [err.status, err.body, err.headers];
    throw err;
  }
}

/** Every resource of `type` matching a FHIR query object ({name: value | [values]}), in store order. */
export async function findAll(repo, type, query = {}) {
  const request = parseSearchRequest(type, query);
  const out = [];
  for (let offset = 0; ; offset += 1000) {
    const bundle = await repo.search({ ...request, offset, count: 1000 });
    out.push(...(bundle.entry ?? []).map((e) => e.resource));
    if (!bundle.entry?.length || out.length >= bundle.total) return out;
  }
}

export async function readOrNull(repo, type, id) {
  if (!id) return null;
  return repo.readResource(type, id).catch(() => null);
}

/** "Slot/x", "x", or an absolute URL ending in Slot/x -> "x" (or null when the type differs). */
export function refId(reference, type) {
  if (typeof reference !== 'string') return null;
  const parts = reference.split('/').filter(Boolean);
  if (parts.length === 1) return parts[0];
  const i = parts.lastIndexOf(type);
  return i >= 0 && parts[i + 1] ? parts[i + 1] : null;
}

/** The version in an If-Match header: W/"3", "3" or 3 -> 3; undefined when absent. */
export function ifMatchVersion(req) {
  const raw = req.headers['if-match'];
  if (raw === undefined) return undefined;
  return raw.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

/** A FHIR date search value split into its prefix and instant range [lo, hi). */
export function parseDateValue(raw) {
  const m = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?)$/.exec(raw);
  if (!m) return null;
  const [, prefix = 'eq', value] = m;
  const hasTime = value.includes('T');
  let lo;
  let hi;
  if (hasTime) {
    const zoned = /(Z|[+-]\d{2}:\d{2})$/.test(value) ? value : `${value}Z`;
    lo = Date.parse(zoned);
    hi = lo + (value.length <= 16 ? 60_000 : 1000);
  } else {
    const [y, mo = '01', d = '01'] = value.split('-');
    lo = Date.UTC(Number(y), Number(mo) - 1, Number(d));
    hi = value.length === 4 ? Date.UTC(Number(y) + 1, 0, 1)
      : value.length === 7 ? Date.UTC(Number(y), Number(mo), 1)
      : lo + 86400_000;
  }
  if (Number.isNaN(lo)) return null;
  return { prefix, value, hasTime, lo, hi };
}

/** Whether instant t (ms) satisfies a parsed date value (FHIR search prefixes, on one instant). */
export function instantMatches(d, t) {
  switch (d.prefix) {
    case 'eq': case 'ap': return t >= d.lo && t < d.hi;
    case 'ne': return !(t >= d.lo && t < d.hi);
    case 'gt': case 'sa': return t >= d.hi;
    case 'ge': return t >= d.lo;
    case 'lt': case 'eb': return t < d.lo;
    default: return t < d.hi; // le
  }
}

/** Server-side paging cursors: the next/previous links carry only an opaque token. */
export class Cursors {
  constructor(limit = 500) {
    this.limit = limit;
    this.map = new Map();
  }

  put(state) {
    const token = randomUUID();
    this.map.set(token, state);
    while (this.map.size > this.limit) this.map.delete(this.map.keys().next().value);
    return token;
  }

  get(token) {
    return this.map.get(token);
  }

  clear() {
    this.map.clear();
  }
}
