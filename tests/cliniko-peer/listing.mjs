// Filtering (q[]), ordering (sort/order) and pagination (page/per_page, links) of list endpoints.
import { message } from './common.mjs';

// cliniko-api readme.md@7bd5449 "Filtering Results": operators per field type. "?" (is not null)
// and "!?" (is null) come from docs.api.cliniko.com "Filtering Results" (the newer docs).
const OPERATORS = ['>=', '<=', '!=', '!?', '~~', '=', '>', '<', '~', '?'];
const ALLOWED = {
  // "Date Filter Operators": = >= > <= <
  date: ['=', '>=', '>', '<=', '<', '?', '!?'],
  // "DateTime Filter Operators": >= > <= < (no equality)
  datetime: ['>=', '>', '<=', '<', '?', '!?'],
  // "Integer Filter Operators": = != >= > <= <
  integer: ['=', '!=', '>=', '>', '<=', '<', '?', '!?'],
  // "String Filter Operators": = != ~ ~~
  string: ['=', '!=', '~', '~~', '?', '!?'],
  // docs.api.cliniko.com "Boolean Filter Operators": = !=
  boolean: ['=', '!='],
};

// cliniko-api readme.md@7bd5449 "Format Rules": "DateTime has to be in UTC if present – e.g. 2014-08-30T18:00:00Z".
const UTC_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
// "Date Filter Operators": "Dates must be in YYYY-MM-DD format ... accepts wildcards ... using *".
const DATE = /^[\d*]{4}-[\d*]{2}-[\d*]{2}$/;

/** The filter strings of a request. */
export function filterStrings(searchParams) {
  // readme.md@7bd5449 "Sending Filter Parameters": a single `q`, or several `q[]` (which also works for one).
  return [...searchParams.getAll('q[]'), ...searchParams.getAll('q')];
}

function parseFilter(text, spec) {
  // "Filter String Format": [FIELDNAME]:[OPERATOR][VALUE]
  const colon = text.indexOf(':');
  if (colon <= 0) throw message(400, `Invalid filter "${text}": expected FIELD:OPERATORVALUE`);
  const field = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  const type = spec[field];
  // Each resource section lists the fields it can be filtered by; the peer refuses others (the
  // docs do not say what Cliniko does with them -- a choice, so a client never silently gets all).
  if (!type) throw message(400, `Invalid filter: ${field} is not a filterable field`);
  const op = OPERATORS.find((o) => rest.startsWith(o));
  if (!op || !ALLOWED[type].includes(op)) throw message(400, `Invalid filter "${text}": operator not allowed for ${type} field ${field}`);
  const value = rest.slice(op.length);
  if (op === '?' || op === '!?') {
    if (value !== '') throw message(400, `Invalid filter "${text}"`);
    return { field, type, op, value };
  }
  if (type === 'datetime' && !UTC_DATETIME.test(value)) {
    throw message(400, `Invalid filter "${text}": DateTime has to be in UTC, e.g. 2014-08-30T18:00:00Z`);
  }
  if (type === 'date' && (!DATE.test(value) || (op !== '=' && value.includes('*')))) {
    throw message(400, `Invalid filter "${text}": dates must be YYYY-MM-DD (wildcards * only with =)`);
  }
  if (type === 'integer') {
    // "Integer Filter Operators": "= also accepts a list of integers ... practitioner_id:=1,2,3".
    const parts = op === '=' ? value.split(',') : [value];
    if (!parts.every((p) => /^-?\d+$/.test(p))) throw message(400, `Invalid filter "${text}": not an integer`);
    return { field, type, op, value: parts.map(BigInt) };
  }
  if (type === 'boolean' && value !== 'true' && value !== 'false') throw message(400, `Invalid filter "${text}": not a boolean`);
  return { field, type, op, value };
}

function wildcardRegex(pattern) {
  // "Filtering Tips": % is the wildcard of ~~; several may be used. Matching is case-insensitive
  // (a choice: the docs do not say; Cliniko's "~son" example reads like ILIKE).
  const body = pattern.split('%').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`, 'isu');
}

function matches(f, v) {
  if (f.op === '?') return v !== null && v !== undefined && v !== '';
  if (f.op === '!?') return v === null || v === undefined || v === '';
  if (v === null || v === undefined) return f.op === '!=';
  switch (f.type) {
    case 'datetime': {
      const x = v;
      const y = Date.parse(f.value);
      return f.op === '>=' ? x >= y : f.op === '>' ? x > y : f.op === '<=' ? x <= y : x < y;
    }
    case 'date': {
      if (f.op === '=') return [...f.value].every((c, i) => c === '*' || c === v[i]);
      return f.op === '>=' ? v >= f.value : f.op === '>' ? v > f.value : f.op === '<=' ? v <= f.value : v < f.value;
    }
    case 'integer': {
      const x = BigInt(v);
      if (f.op === '=') return f.value.includes(x);
      const y = f.value[0];
      return f.op === '!=' ? x !== y : f.op === '>=' ? x >= y : f.op === '>' ? x > y : f.op === '<=' ? x <= y : x < y;
    }
    case 'boolean':
      return f.op === '=' ? String(v) === f.value : String(v) !== f.value;
    default: {
      const s = String(v);
      if (f.op === '=') return s === f.value;
      if (f.op === '!=') return s !== f.value;
      // "Filtering Tips": "The contains operator is the same as doing %value% with the wildcard search."
      if (f.op === '~') return wildcardRegex(`%${f.value}%`).test(s);
      return wildcardRegex(f.value).test(s);
    }
  }
}

/** Apply every filter of the request (they all have to match). */
export function applyFilters(items, searchParams, spec, get = (r, k) => r[k]) {
  const filters = filterStrings(searchParams).map((t) => parseFilter(t, spec));
  return items.filter((r) => filters.every((f) => matches(f, get(r, f.field))));
}

function compareValues(a, b, type) {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (type === 'integer') {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/** Order items as the request asks. */
export function applyOrder(items, searchParams, spec, get = (r, k) => r[k]) {
  // cliniko-api readme.md@7bd5449 "Ordering": default ascending by created_at; `sort` takes one or
  // more columns (each may carry ":desc"/":asc"); `order=desc|asc` sets the default direction.
  const order = searchParams.get('order') ?? 'asc';
  if (order !== 'asc' && order !== 'desc') throw message(400, 'order must be asc or desc');
  const sort = searchParams.get('sort');
  const keys = (sort ? sort.split(',') : ['created_at']).map((s) => {
    const [field, dir = order] = s.split(':');
    if (!spec[field]) throw message(400, `Invalid sort: ${field} is not a sortable field`);
    if (dir !== 'asc' && dir !== 'desc') throw message(400, `Invalid sort direction: ${dir}`);
    return { field, type: spec[field], sign: dir === 'desc' ? -1 : 1 };
  });
  keys.push({ field: 'id', type: 'integer', sign: 1 }); // stable tie-break
  return [...items].sort((a, b) => {
    for (const k of keys) {
      const c = compareValues(get(a, k.field), get(b, k.field), k.type);
      if (c) return c * k.sign;
    }
    return 0;
  });
}

export const MAX_PER_PAGE = 100;
export const DEFAULT_PER_PAGE = 50;

function positiveInt(searchParams, name) {
  const raw = searchParams.get(name);
  if (raw === null) return null;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw message(400, `${name} must be a positive integer`);
  return Number(raw);
}

/**
 * One page of a list, in Cliniko's envelope: {<key>: [...], total_entries, links: {self, next?, previous?}}.
 * ctx: {base: "http://host/v1", path: "/patients", url: URL}
 */
export function paginate(ctx, items, key, serialize) {
  const sp = ctx.url.searchParams;
  // cliniko-api readme.md@7bd5449 "Pagination": 50 per page by default, `per_page` up to 100.
  // The docs do not say what happens above 100; the newer OpenAPI description types per_page as
  // [1 .. 100], so the peer refuses other values with 400 (a choice, see README).
  const perPage = positiveInt(sp, 'per_page') ?? DEFAULT_PER_PAGE;
  if (perPage > MAX_PER_PAGE) throw message(400, `per_page must be between 1 and ${MAX_PER_PAGE}`);
  const page = positiveInt(sp, 'page') ?? 1;
  const total = items.length;
  const lastPage = Math.max(1, Math.ceil(total / perPage));
  const link = (n) => {
    const params = new URLSearchParams();
    for (const [k, v] of sp) if (k !== 'page' && k !== 'per_page') params.append(k, v);
    params.append('page', String(n));
    if (sp.has('per_page')) params.append('per_page', String(perPage));
    return `${ctx.base}${ctx.path}?${params}`;
  };
  // "Pagination": links self/next/previous, "only included if they are relevant (eg. there will
  // be no next link if you are on the last page)".
  const links = { self: link(page) };
  if (page < lastPage) links.next = link(page + 1);
  if (page > 1) links.previous = link(Math.min(page - 1, lastPage));
  return {
    [key]: items.slice((page - 1) * perPage, page * perPage).map(serialize),
    // "All paginated requests will return the total number of entries ... as total_entries".
    total_entries: total,
    links,
  };
}
