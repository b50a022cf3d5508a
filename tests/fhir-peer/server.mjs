// FHIR R4 test peer: Medplum's FhirRouter over an in-memory repository, behind node:http.
// Usage: node server.mjs PORT [PROFILE]   (PROFILE, or env FHIR_PEER_PROFILE: default | oracle | epic)
import { createServer } from 'node:http';
import { OperationOutcomeError, badRequest, getStatus, globalSchema, isResourceType, validateResource } from '@medplum/core';
import { FhirRouter } from '@medplum/fhir-router';
import { PeerRepository, loadDefinitions } from './repo.mjs';
import { loadSeed, seedStartDate } from './seed.mjs';
import { loadProfile } from './profiles/index.mjs';

const BASE = '/fhir/R4';
const MAX_BODY = 128 * 1024 * 1024;
const port = Number(process.argv[2] ?? process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.mjs PORT');
  process.exit(2);
}
let profile;
try {
  profile = await loadProfile(process.argv[3] || process.env.FHIR_PEER_PROFILE || 'default');
} catch (err) {
  console.error(err.message);
  process.exit(2);
}

loadDefinitions();
const router = new FhirRouter();
let repo;
let log = [];
let faults = [];
let delays = [];

// Every FHIR request (and reset) runs alone: Medplum's conditional create searches and then
// creates with an await in between, so concurrent requests could otherwise interleave.
let queue = Promise.resolve();
const exclusive = (fn) => {
  const run = queue.then(fn);
  queue = run.catch(() => {});
  return run;
};

async function reset() {
  repo = new PeerRepository();
  log = [];
  faults = [];
  delays = [];
  profile.reset?.();
  return loadSeed(repo, seedStartDate(), profile.seed);
}

const outcome = (code, text) => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code, details: { text } }],
});

function send(res, status, body, headers = {}) {
  const json = body === undefined ? '' : Buffer.isBuffer(body) ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/fhir+json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    ...headers,
  });
  res.end(json);
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) throw Object.assign(new Error('Request body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(req, text, path) {
  if (!text) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded' && path.endsWith('/_search')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  if (type && !['application/fhir+json', 'application/json', 'application/json-patch+json'].includes(type)) {
    throw Object.assign(new Error(`Unsupported Content-Type: ${type}`), { status: 415 });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw Object.assign(new Error('Body is not valid JSON'), { status: 400 });
  }
}

function capabilityStatement() {
  const types = ['Organization', 'Location', 'Practitioner', 'PractitionerRole', 'HealthcareService', 'Schedule',
    'Slot', 'Patient', 'Appointment', 'DocumentReference', 'Binary'];
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'vardbro-fhir-peer (Medplum fhir-router 4.5.2, in memory)' },
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [{
      mode: 'server',
      resource: types.map((type) => ({
        type,
        versioning: 'versioned',
        conditionalCreate: true,
        interaction: ['read', 'vread', 'update', 'delete', 'create', 'search-type', 'history-instance'].map((code) => ({ code })),
        searchParam: Object.values(globalSchema.types[type]?.searchParams ?? {}).map((p) => ({ name: p.code, type: p.type })),
      })),
    }],
  };
}

// Medplum's validator rejects strings over 1 MB (its server keeps Binary content apart), so
// large base64 `data` is checked here and replaced by a stand-in before validation.
function shrinkLargeData(key, value) {
  if (key !== 'data' || typeof value !== 'string' || value.length < 1_000_000) return value;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new OperationOutcomeError(badRequest('Invalid base64Binary', key));
  return 'AAAA';
}

/** The validator's OperationOutcome for an invalid resource, or null when it is valid. */
function validationOutcome(resource) {
  try {
    validateResource(JSON.parse(JSON.stringify(resource, shrinkLargeData)));
    return null;
  } catch (err) {
    if (err instanceof OperationOutcomeError) return err.outcome;
    throw err;
  }
}

/** Runs one FHIR request against the router; returns [status, body, headers]. */
async function handleFhir(req, url, body) {
  const path = url.pathname.slice(BASE.length).replace(/\/+$/, '') || '/';
  const [, type, id, op] = path.split('/');
  const origin = `http://${req.headers.host ?? '127.0.0.1'}${BASE}`;
  if (req.method === 'GET' && path === '/metadata') {
    return [200, profile.capabilityStatement?.({ origin, base: capabilityStatement() }) ?? capabilityStatement()];
  }
  if (type && !type.startsWith('$') && !isResourceType(type)) {
    return [404, outcome('not-supported', `Unknown resource type: ${type}`)];
  }
  if (profile.handle) {
    // A profile answers first (alone, like every FHIR request); undefined leaves it to the default handling.
    const ctx = { req, url, path, type, id, op, body, repo, origin, validate: validationOutcome };
    const answer = await exclusive(() => profile.handle(ctx));
    if (answer) return answer;
  }

  const headers = { ...req.headers };
  if (headers['if-match'] && !headers['if-match'].includes('"')) headers['if-match'] = `W/"${headers['if-match']}"`;
  const isCreate = req.method === 'POST' && type && !id;
  const isUpdate = req.method === 'PUT' && type && id && !op;
  if (isCreate || isUpdate) {
    if (!body || typeof body !== 'object') return [400, outcome('invalid', 'A resource body is required')];
    if (isCreate) {
      // A create ignores a client id and version (MemoryRepository would otherwise keep them).
      delete body.id;
      delete body.meta?.versionId;
      delete body.meta?.lastUpdated;
    }
    const invalid = validationOutcome(body);
    if (invalid) return [400, invalid];
  }

  return exclusive(async () => {
    const existed = isUpdate ? await repo.readResource(type, id).then(() => true, () => false) : true;
    const [result, resource] = await router.handleRequest(
      { method: req.method, url: path + url.search, pathname: '', params: {}, query: {}, body, headers },
      repo
    );
    let status = getStatus(result);
    if (!resource) return [status, result];
    if (isUpdate && !existed && status === 200) status = 201;

    const out = {};
    if (resource.resourceType === 'Bundle' && resource.type === 'searchset') {
      decorateSearchset(resource, origin, url);
    } else if (resource.meta?.versionId) {
      out.ETag = `W/"${resource.meta.versionId}"`;
      out['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
      if (status === 201) out.Location = `${origin}/${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`;
    }
    return [status, resource, out];
  });
}

function decorateSearchset(bundle, origin, url) {
  for (const entry of bundle.entry ?? []) {
    entry.fullUrl = `${origin}/${entry.resource.resourceType}/${entry.resource.id}`;
    entry.search = { mode: 'match' };
  }
  const page = (offset) => {
    const q = new URLSearchParams(url.search);
    q.set('_offset', String(offset));
    return `${origin}${url.pathname.slice(BASE.length)}?${q}`;
  };
  const offset = Number(url.searchParams.get('_offset') ?? 0);
  const shown = bundle.entry?.length ?? 0;
  bundle.link = [{ relation: 'self', url: `${origin}${url.pathname.slice(BASE.length)}${url.search}` }];
  if (shown > 0 && offset + shown < bundle.total) bundle.link.push({ relation: 'next', url: page(offset + shown) });
  if (offset > 0) {
    const count = Number(url.searchParams.get('_count') ?? shown) || shown || 1;
    bundle.link.push({ relation: 'previous', url: page(Math.max(0, offset - count)) });
  }
}

const takeOne = (list, method) => {
  const i = list.findIndex((f) => !f.method || f.method === method);
  if (i < 0) return undefined;
  const rule = list[i];
  if (--rule.count <= 0) list.splice(i, 1);
  return rule;
};

function control(req, url) {
  const q = url.searchParams;
  const int = (name, fallback) => {
    const v = q.get(name) ?? fallback;
    if (!/^\d+$/.test(String(v))) throw Object.assign(new Error(`${name} must be a non-negative integer`), { status: 400 });
    return Number(v);
  };
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'GET /__control/requests':
      return [200, log];
    case 'POST /__control/requests/clear':
      log = [];
      return [200, { cleared: true }];
    case 'POST /__control/fail': {
      const rule = { method: q.get('method')?.toUpperCase(), status: int('status', 500), count: int('count', 1) };
      if (q.has('retryAfter')) rule.retryAfter = int('retryAfter');
      faults.push(rule);
      return [200, { faults }];
    }
    case 'POST /__control/delay':
      delays.push({ method: q.get('method')?.toUpperCase(), ms: int('ms'), count: int('count', 1) });
      return [200, { delays }];
    case 'POST /__control/clear-faults':
      faults = [];
      delays = [];
      return [200, { cleared: true }];
    case 'POST /__control/reset':
      return exclusive(reset).then((resources) => [200, { reset: true, resources }]);
    default:
      return profile.control?.(req, url, { repo: () => repo, exclusive }) ??
        [404, outcome('not-found', `Unknown control endpoint: ${route}`)];
  }
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://peer');
  try {
    if (url.pathname.startsWith('/__control/')) {
      await readBody(req);
      const [status, body] = await control(req, url);
      return send(res, status, body, { 'Content-Type': 'application/json; charset=utf-8' });
    }
    if (url.pathname !== BASE && !url.pathname.startsWith(BASE + '/')) {
      return send(res, 404, outcome('not-found', `Not a FHIR path; the base is ${BASE}`));
    }

    const entry = { method: req.method, url: req.url, status: null };
    log.push(entry);
    const fault = takeOne(faults, req.method);
    const delay = takeOne(delays, req.method);
    let status, body, headers;
    try {
      const text = await readBody(req);
      if (fault) {
        [status, body] = [fault.status, outcome(fault.status >= 500 ? 'transient' : 'processing', `Injected fault ${fault.status}`)];
        headers = fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {};
      } else {
        [status, body, headers] = await handleFhir(req, url, parseBody(req, text, url.pathname));
      }
    } catch (err) {
      status = err.status ?? (err instanceof OperationOutcomeError ? getStatus(err.outcome) : 500);
      body = err instanceof OperationOutcomeError ? err.outcome : outcome(status === 500 ? 'exception' : 'invalid', err.message);
      if (status === 500) console.error(err);
    }
    if (delay) await new Promise((r) => setTimeout(r, delay.ms));
    entry.status = status;
    send(res, status, body, headers);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) send(res, 500, outcome('exception', String(err)));
  }
});

const count = await reset();
server.requestTimeout = 0;
server.listen(port, '127.0.0.1', () => {
  console.error(`fhir-peer: profile ${profile.name}, ${count} seed resources from ${seedStartDate()}`);
  console.log(`fhir-peer listening on http://127.0.0.1:${port}${BASE}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
