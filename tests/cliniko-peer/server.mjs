// Cliniko API test peer: an in-memory imitation of https://api.<shard>.cliniko.com/v1 built from
// Cliniko's public documentation, plus an S3 stand-in for attachments and /__control endpoints.
// Usage: node server.mjs PORT   (PORT 0 picks a free port; the ready line names it)
import { createServer } from 'node:http';
import { ApiError, message, readBody, sendJson, sendText } from './common.mjs';
import { cancelAppointment, completeProcessing, createAppointment, dispatch, updateAppointment, updatePatient } from './api.mjs';
import { API_KEYS, IDS, SHARD, TIME_ZONE, buildSeed } from './seed.mjs';
import { S3_PREFIX, handleDownload, handleUpload } from './s3.mjs';
import { localDate } from './timezone.mjs';

const port = Number(process.argv[2] ?? process.env.PORT);
if (!Number.isInteger(port) || port < 0) {
  console.error('usage: node server.mjs PORT');
  process.exit(2);
}

const env = process.env;
const flag = (v) => v === '1' || v === 'true';
const defaults = {
  // cliniko-api readme.md@7bd5449 "Rate limits": "API requests are rate limited to 200 per minute per user."
  rpm: Number(env.CLINIKO_PEER_RPM ?? 200),
  windowMs: Number(env.CLINIKO_PEER_RATE_WINDOW_MS ?? 60_000),
  // The docs name only X-RateLimit-Reset; Retry-After is opt-in (see README).
  retryAfter: flag(env.CLINIKO_PEER_RETRY_AFTER),
  // readme.md@7bd5449 "Identifying your application": "APP_VENDOR_NAME (APP_VENDOR_EMAIL)"; requests without a
  // compliant one "may be automatically blocked" -- strict mode blocks them, otherwise only a missing header is.
  strictUserAgent: flag(env.CLINIKO_PEER_STRICT_USER_AGENT),
  processingMs: Number(env.CLINIKO_PEER_PROCESSING_MS ?? 500),
  contentMode: env.CLINIKO_PEER_CONTENT_MODE === 'inline' ? 'inline' : 'redirect',
  maxSpanDays: 7,
  publicUrl: env.CLINIKO_PEER_PUBLIC_URL ?? null,
};
let config = { ...defaults };

let state;
let log = [];
let faults = [];
let delays = [];
let rate = { windows: new Map(), history: [] };
let seq = 0;

function reset() {
  const now = Date.now();
  state = { ...buildSeed(now), objects: new Map(), policies: new Map(), counter: 2000000000000000001n };
  log = [];
  faults = [];
  delays = [];
  rate = { windows: new Map(), history: [] };
  config = { ...defaults };
}
reset();

const nextId = () => String(state.counter++);
const origin = (req) => config.publicUrl ?? `http://${req.headers.host ?? `127.0.0.1:${port}`}`;

// ---------------------------------------------------------------- auth and identity

function authenticate(req) {
  const header = req.headers.authorization;
  if (!header) return { present: false, user: null, keyName: null };
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return { present: true, user: null, keyName: null };
  // readme.md@7bd5449 "Authentication": "Basic " + base64(api_key + ":") -- the key is the username,
  // "There is no need to provide a password" (any password is ignored).
  const username = Buffer.from(m[1], 'base64').toString('utf8').split(':')[0];
  for (const [name, key] of Object.entries(API_KEYS)) {
    // guides/sharding.md "API keys and API URLs": "you may include or exclude the hyphenated shard ID".
    // A key with another shard's suffix belongs to another shard and is refused.
    if (username === key || username === key.slice(0, -(SHARD.length + 1))) {
      return { present: true, user: state.users.get(state.apiKeys.get(key)), keyName: name };
    }
  }
  return { present: true, user: null, keyName: null };
}

const COMPLIANT_UA = /\S.*\(\s*[^\s@()]+@[^\s@()]+\.[^\s@()]+\s*\)/;

// ---------------------------------------------------------------- rate limiting

function countRequest(keyName, userId, now) {
  // readme.md@7bd5449 "Rate limits": a limit per minute per user whose 429 names "the time at which the
  // limit will reset" -- a fixed window: the first request after a window ends opens a new one.
  let w = rate.windows.get(keyName);
  if (!w || now >= w.start + config.windowMs) {
    if (w) rate.history.push(w);
    if (rate.history.length > 1000) rate.history.shift();
    w = { key: keyName, user_id: userId, start: now, count: 0, rejected: 0 };
    rate.windows.set(keyName, w);
  }
  w.count++;
  return w;
}

const windowJson = (w) => ({
  key: w.key, user_id: w.user_id, start: new Date(w.start).toISOString(), end: new Date(w.start + config.windowMs).toISOString(),
  count: w.count, rejected: w.rejected, accepted: w.count - w.rejected,
});

// ---------------------------------------------------------------- faults and delays

const matchesRule = (rule, method, path) => (!rule.method || rule.method === method) && (!rule.path || path.startsWith(rule.path));

function take(rules, method, path) {
  const i = rules.findIndex((r) => matchesRule(r, method, path));
  if (i < 0) return null;
  const rule = rules[i];
  if (rule.count > 0 && --rule.count === 0) rules.splice(i, 1);
  return rule;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- request handling

function sendResult(res, result) {
  if (result.raw) {
    res.writeHead(result.status, { 'Content-Length': result.raw.length, ...result.headers });
    res.end(result.raw);
  } else {
    sendJson(res, result.status, result.body, result.headers ?? {});
  }
}

function sendError(res, err) {
  if (!(err instanceof ApiError)) {
    console.error(err);
    err = message(500, 'Internal Server Error');
  }
  if (typeof err.body === 'string') sendText(res, err.status, err.body, err.headers['Content-Type'] ?? 'text/plain; charset=utf-8', err.headers);
  else sendJson(res, err.status, err.body, err.headers);
}

// readme.md@7bd5449 "Data Responses": "We only support JSON for serialization of data." A body that is not
// JSON gets 400 {"message"} (the docs give no body for it; a choice).
function parseJsonBody(buffer) {
  if (!buffer.length) return {};
  try {
    return JSON.parse(buffer.toString('utf8'));
  } catch {
    throw message(400, 'The request body is not valid JSON');
  }
}

async function handlePeerRequest(req, res, url) {
  const started = Date.now();
  const method = req.method;
  const path = url.pathname;
  const isS3 = path.startsWith(S3_PREFIX);
  const auth = isS3 ? { present: !!req.headers.authorization, user: null, keyName: null } : authenticate(req);
  const ua = req.headers['user-agent'];
  // The log keeps no bodies; the query is kept (it holds filters such as q[]=last_name:~Sv).
  const entry = {
    seq: ++seq, time: new Date(started).toISOString(), kind: isS3 ? 's3' : 'api', method, path, query: url.search,
    status: null, duration_ms: null, user_agent: ua ?? null, user_agent_compliant: !!ua && COMPLIANT_UA.test(ua),
    auth_present: auth.present, auth_valid: !!auth.user, key: auth.keyName,
    accept_json: /application\/json/i.test(req.headers.accept ?? ''), fault: null, delayed_ms: 0, rate_limited: false,
  };
  log.push(entry);
  res.on('finish', () => {
    entry.status = res.statusCode;
    entry.duration_ms = Date.now() - started;
  });
  res.on('close', () => {
    if (res.writableFinished) return;
    entry.closed = true; // the connection ended without a (complete) response
    entry.duration_ms = Date.now() - started;
  });

  const delay = take(delays, method, path);
  if (delay) {
    entry.delayed_ms = delay.ms;
    await sleep(delay.ms);
  }

  let window = null;
  if (auth.user) window = countRequest(auth.keyName, auth.user.id, Date.now());

  const fault = take(faults, method, path);
  if (fault) {
    entry.fault = fault.action === 'close' ? 'close' : fault.status;
    if (fault.action === 'close') {
      req.socket.destroy();
      return;
    }
    if (typeof fault.body === 'string') sendText(res, fault.status, fault.body, 'text/plain; charset=utf-8', fault.headers);
    else sendJson(res, fault.status, fault.body ?? { message: 'Injected fault' }, fault.headers);
    return;
  }

  // guides/uploading_patient_attachments.md "Upload the file to our s3 bucket": the upload goes to S3, not to the
  // API -- no Cliniko auth, user agent or rate limit applies to it.
  if (isS3) {
    const now = Date.now();
    if (method === 'POST' && path === S3_PREFIX) {
      const body = await readBody(req, 128 * 1024 * 1024);
      const out = handleUpload(state, origin(req), req.headers['content-type'], body, now);
      if (out.status === 201) sendText(res, 201, out.xml, 'application/xml');
      else sendJson(res, 204, undefined);
      return;
    }
    if (method === 'GET' && path.length > S3_PREFIX.length) {
      const object = handleDownload(state, url, now);
      res.writeHead(200, { 'Content-Type': object.contentType, 'Content-Length': object.bytes.length, ETag: `"${object.etag}"` });
      res.end(object.bytes);
      return;
    }
    throw new ApiError(405, '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>MethodNotAllowed</Code><Message>The specified method is not allowed against this resource.</Message></Error>', { 'Content-Type': 'application/xml' });
  }

  // readme.md@7bd5449 "Identifying your application": the User-Agent header is required. cliniko-api issue #177
  // shows the answer to a request without one: "Requires a user agent" (the status is not shown; 403 is a choice).
  if (!ua || (config.strictUserAgent && !entry.user_agent_compliant)) {
    throw new ApiError(403, 'Requires a user agent');
  }
  // readme.md@7bd5449 "Authentication"; cliniko-api issue #164 ("HTTP Basic: Access denied"): a missing or
  // unknown key gets Rails' basic-auth refusal, 401 text/plain "HTTP Basic: Access denied.".
  if (!auth.user) {
    throw new ApiError(401, 'HTTP Basic: Access denied.\n', { 'WWW-Authenticate': 'Basic realm="Application"' });
  }
  // readme.md@7bd5449 "Rate limits": "Requests exceeding the rate limit will receive a response with a 429 status and
  // an X-RateLimit-Reset header containing the time at which the limit will reset ... a UNIX timestamp of elapsed seconds".
  if (window.count > config.rpm) {
    window.rejected++;
    entry.rate_limited = true;
    const resetAt = window.start + config.windowMs;
    const headers = { 'X-RateLimit-Reset': String(Math.ceil(resetAt / 1000)) };
    if (config.retryAfter) headers['Retry-After'] = String(Math.max(1, Math.ceil((resetAt - Date.now()) / 1000)));
    throw new ApiError(429, { message: 'Too many requests: the rate limit is exceeded' }, headers);
  }

  // readme.md@7bd5449 "Making a request": every URL starts with /v1 ("The path is prefixed with the API version").
  if (!path.startsWith('/v1/')) throw message(404, 'Not found');
  const body = ['POST', 'PUT', 'PATCH'].includes(method) ? parseJsonBody(await readBody(req, 10 * 1024 * 1024)) : undefined;
  const o = origin(req);
  const ctx = {
    req, url, method, path: path.slice(3).replace(/\/+$/, '') || '/', origin: o, base: `${o}/v1`,
    state, user: auth.user, body, now: Date.now(), nextId, config,
  };
  sendResult(res, dispatch(ctx));
}

// ---------------------------------------------------------------- control endpoints

async function controlParams(req, url) {
  const params = Object.fromEntries(url.searchParams);
  if (['POST', 'PATCH', 'PUT'].includes(req.method)) {
    const buffer = await readBody(req, 10 * 1024 * 1024);
    if (buffer.length) Object.assign(params, parseJsonBody(buffer));
  }
  return params;
}

const num = (v, fallback) => (v === undefined || v === null || v === '' ? fallback : Number(v));
const bool = (v, fallback) => (v === undefined ? fallback : v === true || v === 'true' || v === '1');

function directCtx(req) {
  const o = origin(req);
  return { state, now: Date.now(), nextId, config, origin: o, base: `${o}/v1` };
}

function settingsJson() {
  const { publicUrl, ...rest } = config;
  return { ...rest, publicUrl };
}

async function handleControl(req, res, url) {
  const path = url.pathname.replace(/^\/_?_control/, '');
  const method = req.method;
  const p = await controlParams(req, url);
  const ok = (body = { ok: true }) => sendJson(res, 200, body);

  if (method === 'GET' && path === '/seed') {
    return ok({ ids: IDS, apiKeys: API_KEYS, shard: SHARD, timeZone: TIME_ZONE, today: localDate(TIME_ZONE, Date.now()) });
  }
  if (method === 'POST' && path === '/reset') {
    reset();
    return ok();
  }
  if (method === 'GET' && path === '/requests') return ok(log);
  if (method === 'POST' && path === '/requests/clear') {
    log = [];
    return ok();
  }
  if (method === 'POST' && path === '/fail') {
    const action = p.action === 'close' ? 'close' : 'respond';
    const status = num(p.status, 500);
    if (action === 'respond' && !(status >= 100 && status <= 599)) throw message(400, 'status must be an HTTP status code');
    faults.push({
      method: p.method ? String(p.method).toUpperCase() : null, path: p.path ?? null, count: num(p.count, 1),
      action, status, body: p.body, headers: { ...(p.headers ?? {}), ...(p.retryAfter ? { 'Retry-After': String(p.retryAfter) } : {}) },
    });
    return ok({ ok: true, pending: faults.length });
  }
  if (method === 'POST' && path === '/delay') {
    delays.push({ method: p.method ? String(p.method).toUpperCase() : null, path: p.path ?? null, count: num(p.count, 1), ms: num(p.ms, 1000) });
    return ok({ ok: true, pending: delays.length });
  }
  if (method === 'POST' && path === '/clear-faults') {
    faults = [];
    delays = [];
    return ok();
  }
  if (method === 'GET' && path === '/faults') return ok({ faults, delays });
  if (path === '/settings' && method === 'GET') return ok(settingsJson());
  if ((path === '/settings' || path === '/rate-limit') && method === 'POST') {
    config.rpm = num(p.rpm, config.rpm);
    config.windowMs = num(p.windowMs, config.windowMs);
    config.retryAfter = bool(p.retryAfter, config.retryAfter);
    config.strictUserAgent = bool(p.strictUserAgent, config.strictUserAgent);
    config.processingMs = num(p.processingMs, config.processingMs);
    if (p.contentMode === 'inline' || p.contentMode === 'redirect') config.contentMode = p.contentMode;
    return ok(settingsJson());
  }
  if (method === 'GET' && path === '/rate-limit') {
    const windows = [...rate.history, ...rate.windows.values()].map(windowJson);
    return ok({ rpm: config.rpm, windowMs: config.windowMs, retryAfter: config.retryAfter, maxCount: Math.max(0, ...windows.map((w) => w.count)), totalRejected: windows.reduce((s, w) => s + w.rejected, 0), windows });
  }
  if (method === 'POST' && path === '/rate-limit/clear') {
    rate = { windows: new Map(), history: [] };
    return ok();
  }
  if (method === 'GET' && path === '/uploads') {
    return ok([...state.objects.values()].map((o) => ({ key: o.key, size: o.bytes.length, content_type: o.contentType, filename: o.filename, temp: o.temp })));
  }
  let m;
  if (method === 'POST' && (m = /^\/attachments\/(\d+)\/process$/.exec(path))) {
    const a = state.attachments.get(m[1]);
    if (!a) throw message(404, 'Not found');
    if (!a.processing_completed) completeProcessing(state, a, a.upload_key);
    return ok();
  }
  // "Directly in Cliniko": the clinic's own UI changing data, bumping updated_at, outside the API (no auth,
  // no rate limit, not logged). Same validation as the API.
  if (method === 'POST' && path === '/individual_appointments') {
    const ctx = directCtx(req);
    const a = createAppointment(ctx, p);
    return sendJson(res, 201, { id: a.id });
  }
  if ((method === 'PATCH' || method === 'POST') && (m = /^\/individual_appointments\/(\d+)$/.exec(path))) {
    const ctx = directCtx(req);
    const a = state.appointments.get(m[1]);
    if (!a) throw message(404, 'Not found');
    const { cancel, cancelled, deleted, updated_at: stamp, ...fields } = p;
    if (Object.keys(fields).length) updateAppointment(ctx, a, fields);
    if (cancel) cancelAppointment(ctx, a, cancel);
    if (cancelled === false) Object.assign(a, { cancelled_at: null, cancellation_reason: null, cancellation_note: null });
    if (deleted === true) a.deleted_at = ctx.now;
    a.updated_at = stamp ? Date.parse(stamp) : ctx.now;
    return ok({ id: a.id, updated_at: new Date(a.updated_at).toISOString() });
  }
  if ((method === 'PATCH' || method === 'POST') && (m = /^\/patients\/(\d+)$/.exec(path))) {
    const patient = state.patients.get(m[1]);
    if (!patient) throw message(404, 'Not found');
    const { updated_at: stamp, ...fields } = p;
    updatePatient(state, patient, fields, Date.now());
    if (stamp) patient.updated_at = Date.parse(stamp);
    return ok({ id: patient.id, updated_at: new Date(patient.updated_at).toISOString() });
  }
  throw message(404, `Unknown control endpoint ${method} ${url.pathname}`);
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://peer.invalid');
  const isControl = /^\/_?_control(\/|$)/.test(url.pathname);
  (isControl ? handleControl(req, res, url) : handlePeerRequest(req, res, url)).catch((err) => {
    if (res.headersSent || res.destroyed) return;
    sendError(res, err);
  });
});

server.on('error', (err) => {
  console.error(`cliniko-peer: ${err.code ?? ''} ${err.message}`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`cliniko-peer listening on http://127.0.0.1:${server.address().port}/v1`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
