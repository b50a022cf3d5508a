// Checks the Cliniko peer: node --test tests/cliniko-peer/selftest.mjs
// Starts its own peer on a free port (PORT 0) and stops it at the end; every test resets the seed first.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const UA = 'Vardbro selftest (dev@vardbro.example)';
let peer;
let ROOT;
let SEED;

before(async () => {
  peer = spawn(process.execPath, [join(HERE, 'server.mjs'), '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CLINIKO_PEER_PROCESSING_MS: '150' } });
  let errors = '';
  peer.stderr.on('data', (d) => { errors += d; });
  ROOT = await new Promise((resolve, reject) => {
    let out = '';
    peer.stdout.on('data', (d) => {
      out += d;
      const m = /cliniko-peer listening on (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(out);
      if (m) resolve(m[1]);
    });
    peer.on('exit', (code) => reject(new Error(`peer exited (${code}): ${errors}`)));
  });
  SEED = (await control('GET', '/seed')).json;
});

after(() => peer?.kill('SIGTERM'));

/** A raw HTTP request (node:http adds no User-Agent of its own). */
function request(method, url, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { ...headers, ...(body !== undefined ? { 'Content-Length': Buffer.byteLength(body) } : {}) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buffer = Buffer.concat(chunks);
        const text = buffer.toString('utf8');
        let json;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, buffer, text, json });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const basic = (key) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
function api(method, path, body, { key = SEED.apiKeys.admin, headers = {} } = {}) {
  const url = path.startsWith('http') ? path : `${ROOT}/v1${path}`;
  return request(method, url, {
    headers: { Authorization: basic(key), 'User-Agent': UA, Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
function control(method, path, body) {
  return request(method, `${ROOT}/__control${path}`, { headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
}
const reset = () => control('POST', '/reset');
const q = (...filters) => filters.map((f) => `q[]=${encodeURIComponent(f)}`).join('&');
const addDays = (date, n) => new Date(Date.parse(`${date}T00:00:00Z`) + n * 86400_000).toISOString().slice(0, 10);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const availabilityPath = (practitioner, type, from, to) => `/businesses/${SEED.ids.business}/practitioners/${practitioner}/appointment_types/${type}/available_times?from=${from}&to=${to}`;
async function allPages(path) {
  const items = [];
  let next = `${ROOT}/v1${path}`;
  let pages = 0;
  while (next) {
    const r = await api('GET', next);
    assert.equal(r.status, 200);
    const key = Object.keys(r.json).find((k) => Array.isArray(r.json[k]));
    items.push(...r.json[key]);
    next = r.json.links.next;
    pages++;
  }
  return { items, pages };
}

test('auth: basic auth with the API key as username; 401 otherwise', async () => {
  await reset();
  const none = await request('GET', `${ROOT}/v1/businesses`, { headers: { 'User-Agent': UA } });
  assert.equal(none.status, 401);
  assert.equal(none.text, 'HTTP Basic: Access denied.\n');
  assert.match(none.headers['www-authenticate'], /^Basic/);
  assert.equal((await api('GET', '/businesses', undefined, { key: 'not-a-key-eu1' })).status, 401);
  assert.equal((await api('GET', '/businesses', undefined, { key: SEED.apiKeys.admin.replace(/-eu1$/, '') })).status, 200, 'key without shard suffix');
  assert.equal((await api('GET', '/businesses', undefined, { key: SEED.apiKeys.admin.replace(/-eu1$/, '-au1') })).status, 401, 'key of another shard');
  const withPassword = await request('GET', `${ROOT}/v1/businesses`, { headers: { Authorization: `Basic ${Buffer.from(`${SEED.apiKeys.admin}:whatever`).toString('base64')}`, 'User-Agent': UA } });
  assert.equal(withPassword.status, 200, 'password ignored');
});

test('user agent: required; strict mode wants "NAME (EMAIL)"', async () => {
  await reset();
  const noUa = await request('GET', `${ROOT}/v1/businesses`, { headers: { Authorization: basic(SEED.apiKeys.admin) } });
  assert.equal(noUa.status, 403);
  assert.equal(noUa.text, 'Requires a user agent');
  assert.equal((await api('GET', '/businesses', undefined, { headers: { 'User-Agent': 'curl/8' } })).status, 200);
  await control('POST', '/settings', { strictUserAgent: true });
  assert.equal((await api('GET', '/businesses', undefined, { headers: { 'User-Agent': 'curl/8' } })).status, 403);
  assert.equal((await api('GET', '/businesses')).status, 200);
  const log = (await control('GET', '/requests')).json;
  assert.deepEqual(log.map((e) => e.user_agent_compliant), [false, false, false, true]);
});

test('businesses, practitioners, appointment types: string ids and documented relations', async () => {
  await reset();
  const { ids } = SEED;
  const b = await api('GET', '/businesses');
  assert.equal(b.json.total_entries, 1);
  assert.equal(b.json.businesses[0].id, ids.business);
  assert.equal(typeof b.json.businesses[0].id, 'string');
  assert.ok(BigInt(ids.business) > BigInt(Number.MAX_SAFE_INTEGER));
  assert.equal(b.json.businesses[0].time_zone_identifier, 'Europe/Stockholm');
  assert.equal((await api('GET', `/businesses/${ids.business}`)).json.business_name, 'Vårdcentralen Tolvan');
  const all = (await api('GET', '/practitioners')).json;
  assert.equal(all.total_entries, 4);
  const atBusiness = (await api('GET', `/businesses/${ids.business}/practitioners`)).json.practitioners.map((p) => p.id);
  assert.deepEqual(atBusiness, [ids.practitioners.anna, ids.practitioners.erik, ids.practitioners.maria]);
  assert.deepEqual((await api('GET', '/practitioners/inactive')).json.practitioners.map((p) => p.id), [ids.practitioners.karl]);
  const offering = (await api('GET', `/appointment_types/${ids.appointmentTypes.aterbesok}/practitioners`)).json.practitioners.map((p) => p.id);
  assert.deepEqual(offering, [ids.practitioners.anna, ids.practitioners.erik]);
  const types = (await api('GET', `/practitioners/${ids.practitioners.maria}/appointment_types`)).json.appointment_types;
  assert.deepEqual(types.map((t) => [t.name, t.duration_in_minutes]), [['Nybesök', 30]]);
  assert.equal((await api('GET', '/appointment_types')).json.total_entries, 3);
  assert.equal((await api('GET', '/practitioners/999')).status, 404);
  assert.deepEqual((await api('GET', '/practitioners/999')).json, { message: 'Not found' });
});

test('paging: per_page, links.next until the end, total_entries, limits', async () => {
  await reset();
  const first = await api('GET', '/patients?per_page=3');
  assert.equal(first.json.total_entries, 10);
  assert.equal(first.json.patients.length, 3);
  assert.ok(first.json.links.next && !first.json.links.previous);
  const { items, pages } = await allPages('/patients?per_page=3');
  assert.equal(pages, 4);
  assert.equal(new Set(items.map((p) => p.id)).size, 10);
  const second = await api('GET', first.json.links.next);
  assert.ok(second.json.links.previous);
  const filtered = await allPages(`/patients?per_page=2&${q('last_name:~Sv')}`);
  assert.deepEqual(filtered.items.map((p) => p.last_name).sort(), ['Svanberg', 'Svensson', 'Svensson', 'Svärd']);
  assert.equal(filtered.pages, 2);
  assert.equal((await api('GET', '/patients')).json.patients.length, 10, 'default 50 per page');
  assert.equal((await api('GET', '/patients?per_page=100')).status, 200);
  assert.equal((await api('GET', '/patients?per_page=101')).status, 400);
  assert.equal((await api('GET', '/patients?page=0')).status, 400);
  const beyond = await api('GET', '/patients?page=9');
  assert.equal(beyond.json.patients.length, 0);
  assert.equal(beyond.json.links.next, undefined);
});

test('patient filters: string, date, id and datetime operators', async () => {
  await reset();
  const names = async (...filters) => (await api('GET', `/patients?${q(...filters)}`)).json.patients.map((p) => `${p.first_name} ${p.last_name}`);
  assert.equal((await names('last_name:~Sv')).length, 4);
  assert.deepEqual(await names('last_name:~~Sv%', 'first_name:=Åsa'), ['Åsa Svensson']);
  assert.deepEqual(await names('date_of_birth:=1971-10-02'), ['Björn Lindström', 'Lars Ström']);
  assert.deepEqual(await names('date_of_birth:=****-05-**'), ['Örjan Svärd', 'Ängla Nyström']);
  assert.deepEqual(await names(`id:=${SEED.ids.patients.tolvan},${SEED.ids.patients.karinAkesson}`), ['Tolvan Tolvansson', 'Karin Åkesson']);
  assert.deepEqual(await names('last_name:!=Svensson', 'last_name:~ström'), ['Björn Lindström', 'Lars Ström', 'Ängla Nyström']);
  const single = await api('GET', `/patients?q=${encodeURIComponent('first_name:=Tolvan')}`);
  assert.equal(single.json.total_entries, 1);
  assert.equal((await api('GET', `/patients?${q('shoe_size:=42')}`)).status, 400);
  assert.equal((await api('GET', `/patients?${q('updated_at:>2024-01-01T00:00:00+01:00')}`)).status, 400);
  assert.equal((await api('GET', `/patients?${q('updated_at:=2024-01-01T00:00:00Z')}`)).status, 400, 'no = for DateTime');
  const before = new Date().toISOString();
  await sleep(5);
  await api('POST', '/patients', { first_name: 'Ny', last_name: 'Patient' });
  assert.deepEqual(await names(`updated_at:>${before}`), ['Ny Patient']);
  const sorted = (await api('GET', '/patients?sort=last_name&order=desc&per_page=3')).json.patients.map((p) => p.last_name);
  assert.deepEqual(sorted, ['Åkesson', 'Tolvansson', 'Svärd']);
  assert.deepEqual((await api('GET', '/patients/archived')).json.patients.map((p) => p.last_name), ['Arkivsson']);
});

test('patients: create (201, Location), validation 422, update via PUT and PATCH, archive', async () => {
  await reset();
  const created = await api('POST', '/patients', { first_name: 'Öllegård', last_name: 'Åström', date_of_birth: '1999-02-28', email: 'o.a@example.com', patient_phone_numbers: [{ phone_type: 'Mobile', number: '+46709999999' }] });
  assert.equal(created.status, 201);
  assert.equal(created.headers.location, created.json.links.self);
  assert.equal(typeof created.json.id, 'string');
  assert.equal(created.json.first_name, 'Öllegård');
  const invalid = await api('POST', '/patients', { first_name: 'Utan', date_of_birth: '1999-02-30' });
  assert.equal(invalid.status, 422);
  assert.deepEqual(invalid.json, { errors: { date_of_birth: 'is invalid', last_name: 'can’t be blank' }, message: 'Validation Failed' });
  await sleep(1100);
  const patched = await api('PATCH', `/patients/${created.json.id}`, { appointment_notes: 'Föredrar morgontider' });
  assert.equal(patched.status, 200);
  assert.equal(patched.json.appointment_notes, 'Föredrar morgontider');
  assert.equal(patched.json.first_name, 'Öllegård');
  assert.ok(patched.json.updated_at > created.json.updated_at);
  const put = await api('PUT', `/patients/${created.json.id}`, { last_name: 'Åströmer', time_zone: 'Not/AZone' });
  assert.equal(put.status, 422);
  assert.equal((await api('PUT', `/patients/${created.json.id}`, { last_name: 'Åströmer' })).json.last_name, 'Åströmer');
  assert.equal((await api('POST', `/patients/${created.json.id}/archive`)).status, 204);
  assert.equal((await api('GET', `/patients?${q(`id:=${created.json.id}`)}`)).json.total_entries, 0);
  assert.equal((await api('POST', '/patients', '[1]')).status, 400);
  assert.equal((await api('GET', '/patients/1400000000000099999')).status, 404);
});

test('available_times: 7-day rule, not before today, documented 400 message', async () => {
  await reset();
  const { ids, today } = SEED;
  const anna = ids.practitioners.anna;
  const nybesok = ids.appointmentTypes.nybesok;
  const ok = await api('GET', availabilityPath(anna, nybesok, today, addDays(today, 6)));
  assert.equal(ok.status, 200);
  assert.ok(ok.json.total_entries > 50 && ok.json.links.next, 'a week of slots spans pages');
  const message = { message: 'Invalid time frame definition. Please check from/to param limitations.' };
  for (const [from, to] of [[today, addDays(today, 7)], [addDays(today, -1), addDays(today, 1)], [addDays(today, 3), addDays(today, 2)], [today, ''], ['2026-02-30', today]]) {
    const r = await api('GET', availabilityPath(anna, nybesok, from, to));
    assert.equal(r.status, 400, `${from}..${to}`);
    assert.deepEqual(r.json, message);
  }
  // Slots every week of the coming 60 days, whatever today is.
  for (let d = 0; d < 63; d += 7) {
    const r = await api('GET', availabilityPath(anna, nybesok, addDays(today, d), addDays(today, d + 6)));
    assert.ok(r.json.total_entries > 0, `week starting ${addDays(today, d)}`);
    for (const s of r.json.available_times) assert.match(s.appointment_start, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00Z$/);
  }
  assert.equal((await api('GET', availabilityPath(anna, ids.appointmentTypes.intern, today, addDays(today, 6)))).json.total_entries, 0, 'type not in online bookings');
  assert.equal((await api('GET', availabilityPath(ids.practitioners.johan, nybesok, today, addDays(today, 6)))).json.total_entries, 0, 'practitioner not at the business');
  assert.equal((await api('GET', availabilityPath(ids.practitioners.maria, ids.appointmentTypes.aterbesok, today, addDays(today, 6)))).json.total_entries, 0, 'type not offered');
  const next = await api('GET', `/businesses/${ids.business}/practitioners/${anna}/appointment_types/${nybesok}/next_available_time`);
  assert.equal(next.json.appointment_start, ok.json.available_times[0].appointment_start);
});

test('booking takes availability, overlaps are allowed, cancel gives it back', async () => {
  await reset();
  const { ids, today } = SEED;
  const erik = ids.practitioners.erik;
  const from = addDays(today, 7);
  const path = availabilityPath(erik, ids.appointmentTypes.nybesok, from, addDays(from, 6));
  const before = (await allPages(path)).items.map((s) => s.appointment_start);
  const slot = before[4];
  const booking = { starts_at: slot, patient_id: ids.patients.svenSvensson, practitioner_id: erik, appointment_type_id: ids.appointmentTypes.nybesok, business_id: ids.business, notes: 'Via Vardbro' };
  const first = await api('POST', '/individual_appointments', booking);
  assert.equal(first.status, 201);
  assert.equal(first.json.ends_at, new Date(Date.parse(slot) + 30 * 60_000).toISOString().replace('.000Z', 'Z'));
  assert.equal(first.json.patient_name, 'Sven Svensson');
  const during = (await allPages(path)).items.map((s) => s.appointment_start);
  assert.ok(!during.includes(slot));
  const lost = before.filter((s) => !during.includes(s));
  assert.equal(lost.length, 3, 'the slot and the two 15-minute steps whose 30 minutes overlap it');
  const overlap = await api('POST', '/individual_appointments', { ...booking, patient_id: ids.patients.karinAkesson });
  assert.equal(overlap.status, 201, 'Cliniko does not refuse overlapping appointments');
  assert.deepEqual((await api('GET', `/individual_appointments/${overlap.json.id}/conflicts`)).json, { conflicts: { exist: true } });
  const noReason = await api('PATCH', `/individual_appointments/${first.json.id}/cancel`, { cancellation_note: 'x' });
  assert.equal(noReason.status, 422);
  assert.deepEqual(noReason.json, { errors: { cancellation_reason: 'can’t be blank' }, message: 'Validation Failed' });
  assert.equal((await api('PATCH', `/individual_appointments/${first.json.id}/cancel`, { cancellation_reason: 99 })).status, 422);
  assert.equal((await api('PATCH', `/individual_appointments/${first.json.id}/cancel`, { cancellation_reason: 50, cancellation_note: 'Patienten ringde' })).status, 204);
  assert.ok(!(await allPages(path)).items.map((s) => s.appointment_start).includes(slot), 'the overlapping booking still holds it');
  assert.equal((await api('PATCH', `/individual_appointments/${overlap.json.id}/cancel`, { cancellation_reason: 10 })).status, 204);
  assert.deepEqual((await allPages(path)).items.map((s) => s.appointment_start), before);
  const cancelled = (await api('GET', `/individual_appointments/${first.json.id}`)).json;
  assert.ok(cancelled.cancelled_at);
  assert.equal(cancelled.cancellation_reason, 50);
  assert.equal(cancelled.cancellation_reason_description, 'Other');
  assert.equal((await api('GET', '/individual_appointments/cancelled')).json.total_entries, 3);
});

test('individual appointments: filters, reschedule, reassign, did not arrive, delete', async () => {
  await reset();
  const { ids, today } = SEED;
  const day = addDays(today, 10);
  const slot = (await api('GET', availabilityPath(ids.practitioners.anna, ids.appointmentTypes.aterbesok, day, day))).json.available_times;
  const start = slot[0]?.appointment_start ?? (await api('GET', availabilityPath(ids.practitioners.anna, ids.appointmentTypes.aterbesok, addDays(day, 2), addDays(day, 2)))).json.available_times[0].appointment_start;
  const created = (await api('POST', '/individual_appointments', { starts_at: start, patient_id: ids.patients.tolvan, practitioner_id: ids.practitioners.anna, appointment_type_id: ids.appointmentTypes.aterbesok, business_id: ids.business })).json;
  const byPatient = (await api('GET', `/individual_appointments?${q(`patient_id:=${ids.patients.tolvan}`)}`)).json;
  assert.equal(byPatient.total_entries, 3);
  const future = (await api('GET', `/individual_appointments?${q(`starts_at:>${new Date().toISOString()}`, `practitioner_id:=${ids.practitioners.anna}`)}`)).json;
  assert.deepEqual(future.individual_appointments.map((a) => a.id), [created.id]);
  const missing = await api('POST', '/individual_appointments', { starts_at: start, patient_id: '1400000000000099999' });
  assert.equal(missing.status, 422);
  assert.deepEqual(missing.json.errors, { patient: 'must exist', practitioner_id: 'can’t be blank', appointment_type_id: 'can’t be blank', business_id: 'can’t be blank' });
  assert.equal((await api('POST', '/individual_appointments', { starts_at: '2026-12-20T10:00:00+01:00', patient_id: ids.patients.tolvan, practitioner_id: ids.practitioners.anna, appointment_type_id: ids.appointmentTypes.aterbesok, business_id: ids.business })).status, 422, 'times must be UTC');
  const later = new Date(Date.parse(start) + 2 * 3600_000).toISOString();
  const tooLate = await api('PUT', `/individual_appointments/${created.id}`, { starts_at: later });
  assert.equal(tooLate.status, 422, 'ends_at is not moved when only starts_at changes');
  const moved = await api('PUT', `/individual_appointments/${created.id}`, { starts_at: later, ends_at: null, practitioner_id: ids.practitioners.erik });
  assert.equal(moved.status, 200);
  assert.equal(Date.parse(moved.json.ends_at) - Date.parse(moved.json.starts_at), 15 * 60_000);
  assert.match(moved.json.practitioner.links.self, new RegExp(`${ids.practitioners.erik}$`));
  const since = new Date().toISOString();
  await sleep(5);
  const dna = await api('PATCH', `/individual_appointments/${created.id}`, { did_not_arrive: true });
  assert.equal(dna.json.did_not_arrive, true);
  const changed = (await api('GET', `/individual_appointments?${q(`updated_at:>${since}`)}`)).json;
  assert.deepEqual(changed.individual_appointments.map((a) => a.id), [created.id]);
  assert.equal((await api('DELETE', `/individual_appointments/${created.id}`)).status, 204);
  assert.equal((await api('GET', `/individual_appointments/${created.id}`)).status, 404);
  assert.deepEqual((await api('GET', '/individual_appointments/deleted')).json.individual_appointments.map((a) => a.id), [created.id]);
});

test('control: change an appointment "directly in Cliniko" bumps updated_at', async () => {
  await reset();
  const id = SEED.ids.appointments.tolvanArrived;
  const since = new Date().toISOString();
  await sleep(5);
  const r = await control('PATCH', `/individual_appointments/${id}`, { notes: 'Ändrad i kliniken', cancel: { cancellation_reason: 40 } });
  assert.equal(r.status, 200);
  const changed = (await api('GET', `/individual_appointments?${q(`updated_at:>${since}`)}`)).json.individual_appointments;
  assert.deepEqual(changed.map((a) => [a.id, a.notes, a.cancellation_reason]), [[id, 'Ändrad i kliniken', 40]]);
  const direct = await control('POST', '/individual_appointments', { starts_at: '2030-01-07T08:00:00Z', patient_id: SEED.ids.patients.tolvan, practitioner_id: SEED.ids.practitioners.anna, appointment_type_id: SEED.ids.appointmentTypes.nybesok, business_id: SEED.ids.business });
  assert.equal(direct.status, 201);
  assert.equal((await control('GET', '/requests')).json.length, 1, 'control calls are not logged');
});

test('treatment notes: draft create, list by patient, get; templates', async () => {
  await reset();
  const { ids } = SEED;
  const templates = (await api('GET', '/treatment_note_templates')).json;
  assert.deepEqual(templates.treatment_note_templates.map((t) => t.name), ['Standardbesök', 'Återbesök']);
  const body = { draft: true, patient_id: ids.patients.tolvan, booking_id: ids.appointments.tolvanArrived, treatment_note_template_id: ids.treatmentNoteTemplates.standard, content: { sections: [{ name: 'Anamnes', questions: [{ name: 'Sökorsak', type: 'text', answer: 'Kontroll' }, { name: 'Aktuellt', type: 'paragraph', answer: '<div>Mår bättre</div>\n<script>x</script>' }] }] } };
  const created = await api('POST', '/treatment_notes', body);
  assert.equal(created.status, 201);
  assert.equal(created.json.draft, true);
  assert.equal(created.json.author_name, 'Anna Lindqvist');
  assert.equal(created.json.title, 'Standardbesök');
  assert.equal(created.json.content.sections[0].questions[1].answer, '<div>Mår bättre</div>x');
  assert.match(created.json.booking.links.self, /bookings\/1800000000000000001$/);
  assert.equal((await api('POST', '/treatment_notes', body, { key: SEED.apiKeys.reception })).status, 403);
  const stringContent = await api('POST', '/treatment_notes', { ...body, content: JSON.stringify(body.content) });
  assert.equal(stringContent.status, 422);
  assert.deepEqual(stringContent.json, { message: 'must be an object' });
  assert.equal((await api('POST', '/treatment_notes', { ...body, content: { sections: [] } })).status, 422);
  const byFilter = (await api('GET', `/treatment_notes?${q(`patient_id:=${ids.patients.tolvan}`)}`)).json;
  assert.equal(byFilter.total_entries, 2);
  const byPath = (await api('GET', `/patients/${ids.patients.tolvan}/treatment_notes`)).json;
  assert.deepEqual(byPath.treatment_notes.map((n) => n.id), byFilter.treatment_notes.map((n) => n.id));
  assert.equal((await api('GET', `/treatment_notes/${created.json.id}`)).json.content.sections[0].questions[0].answer, 'Kontroll');
  assert.equal((await api('PATCH', `/treatment_notes/${created.json.id}`, { draft: false })).json.draft, false);
});

function multipart(fields, file) {
  const boundary = `----cliniko-peer-${randomBytes(8).toString('hex')}`;
  const chunks = [];
  for (const [k, v] of Object.entries(fields)) chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: ${file.type}\r\n\r\n`), file.bytes, Buffer.from(`\r\n--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

async function upload(presigned, file) {
  const form = multipart(presigned.fields, file);
  return request('POST', presigned.url, { headers: { 'Content-Type': form.type }, body: form.body });
}

test('patient attachments: presigned POST, upload, create, process, download the same bytes', async () => {
  await reset();
  const pid = SEED.ids.patients.karinAkesson;
  const presigned = (await api('GET', `/patients/${pid}/attachment_presigned_post`)).json;
  assert.match(presigned.fields.key, /\/patients\/1400000000000000007\/attachments\/temp\/[^/]+\/\$\{filename\}$/);
  assert.equal(presigned.fields['x-amz-algorithm'], 'AWS4-HMAC-SHA256');
  assert.equal(presigned.fields.success_action_status, '201');
  const bytes = Buffer.concat([randomBytes(70_000), Buffer.from([0, 13, 10, 45, 45, 255])]);
  const tampered = await upload({ ...presigned, fields: { ...presigned.fields, 'x-amz-signature': 'forged' } }, { name: 'remiss.pdf', type: 'application/pdf', bytes });
  assert.equal(tampered.status, 403);
  assert.match(tampered.text, /<Code>SignatureDoesNotMatch<\/Code>/);
  const up = await upload(presigned, { name: 'remiss åäö.pdf', type: 'application/pdf', bytes });
  assert.equal(up.status, 201);
  const key = /<Key>([^<]+)<\/Key>/.exec(up.text)[1];
  assert.ok(key.endsWith('/remiss åäö.pdf'));
  assert.equal((await api('POST', '/patient_attachments', { patient_id: pid, upload_url: `${presigned.url}nothing/here.pdf` })).status, 422);
  assert.equal((await api('POST', '/patient_attachments', { patient_id: SEED.ids.patients.tolvan, upload_url: presigned.url + key })).status, 422, 'upload belongs to another patient');
  const created = await api('POST', '/patient_attachments', { patient_id: pid, upload_url: presigned.url + key, description: 'Remiss' });
  assert.equal(created.status, 201);
  assert.equal(created.json.processing_completed, false);
  assert.equal(created.json.filename, null);
  assert.equal((await api('GET', `/patient_attachments/${created.json.id}/content`)).status, 404, 'not processed yet');
  let record;
  for (let i = 0; i < 50; i++) {
    record = (await api('GET', `/patient_attachments/${created.json.id}`)).json;
    if (record.processing_completed) break;
    await sleep(50);
  }
  assert.equal(record.processing_completed, true);
  assert.deepEqual([record.filename, record.size, record.content_type, record.description], ['remiss åäö.pdf', bytes.length, 'application/pdf', 'Remiss']);
  const content = await api('GET', record.content.links.self);
  assert.equal(content.status, 302);
  const file = await request('GET', content.headers.location);
  assert.equal(file.status, 200);
  assert.ok(file.buffer.equals(bytes), 'same bytes back');
  assert.equal((await request('GET', content.headers.location.replace(/X-Amz-Signature=[0-9a-f]+/, 'X-Amz-Signature=00'))).status, 403);
  const uploads = (await control('GET', '/uploads')).json;
  assert.deepEqual(uploads.map((u) => u.temp), [false], 'gone from the temp location');
  const listed = (await api('GET', `/patients/${pid}/patient_attachments`)).json;
  assert.deepEqual(listed.patient_attachments.map((a) => a.id), [created.json.id]);
  assert.equal((await api('GET', `/patient_attachments?${q(`patient_id:=${pid}`)}`)).json.total_entries, 1);
  await control('POST', '/settings', { contentMode: 'inline' });
  const inline = await api('GET', record.content.links.self);
  assert.equal(inline.status, 200);
  assert.ok(inline.buffer.equals(bytes));
});

test('rate limit: per key, 429 with X-RateLimit-Reset (and Retry-After when enabled), window report', async () => {
  await reset();
  await control('POST', '/rate-limit', { rpm: 3 });
  for (let i = 0; i < 3; i++) assert.equal((await api('GET', '/businesses')).status, 200);
  const limited = await api('GET', '/businesses');
  assert.equal(limited.status, 429);
  const resetAt = Number(limited.headers['x-ratelimit-reset']);
  const nowS = Date.now() / 1000;
  assert.ok(resetAt > nowS && resetAt <= nowS + 61, `X-RateLimit-Reset ${resetAt}`);
  assert.equal(limited.headers['retry-after'], undefined);
  assert.equal((await api('GET', '/businesses', undefined, { key: SEED.apiKeys.reception })).status, 200, 'another user has its own limit');
  await control('POST', '/rate-limit', { retryAfter: true });
  const again = await api('GET', '/businesses');
  assert.equal(again.status, 429);
  assert.ok(Number(again.headers['retry-after']) >= 1 && Number(again.headers['retry-after']) <= 60);
  const report = (await control('GET', '/rate-limit')).json;
  assert.equal(report.rpm, 3);
  const admin = report.windows.find((w) => w.key === 'admin');
  assert.deepEqual([admin.count, admin.rejected, admin.accepted], [5, 2, 3]);
  assert.equal(report.maxCount, 5);
  await control('POST', '/rate-limit', { rpm: 2, windowMs: 400 });
  await control('POST', '/rate-limit/clear');
  assert.equal((await api('GET', '/businesses')).status, 200);
  assert.equal((await api('GET', '/businesses')).status, 200);
  assert.equal((await api('GET', '/businesses')).status, 429);
  await sleep(450);
  assert.equal((await api('GET', '/businesses')).status, 200, 'a new window after the reset time');
  assert.equal((await control('GET', '/rate-limit')).json.windows.filter((w) => w.key === 'admin').length, 2);
});

test('faults, delays, connection close, request log, reset', async () => {
  await reset();
  await control('POST', '/fail', { method: 'GET', path: '/v1/patients', status: 503, count: 2, body: { message: 'Service Unavailable' }, retryAfter: 7 });
  const f1 = await api('GET', '/patients');
  assert.equal(f1.status, 503);
  assert.equal(f1.headers['retry-after'], '7');
  assert.deepEqual(f1.json, { message: 'Service Unavailable' });
  assert.equal((await api('GET', `/patients/${SEED.ids.patients.tolvan}`)).status, 503);
  assert.equal((await api('GET', '/businesses')).status, 200, 'other paths untouched');
  assert.equal((await api('GET', '/patients')).status, 200, 'fault used up');
  await control('POST', '/fail', { path: '/v1/businesses', action: 'close' });
  await assert.rejects(api('GET', '/businesses'), /socket hang up|ECONNRESET/);
  await control('POST', '/delay', { ms: 300, path: '/v1/practitioners' });
  const t0 = Date.now();
  assert.equal((await api('GET', '/practitioners')).status, 200);
  assert.ok(Date.now() - t0 >= 290);
  await control('POST', '/fail', { status: 500, count: 5 });
  await control('POST', '/clear-faults');
  assert.equal((await api('GET', '/businesses')).status, 200);
  await api('POST', '/patients', { first_name: 'Logg', last_name: 'Testsson' });
  await request('GET', `${ROOT}/v1/businesses`, { headers: { 'User-Agent': UA } });
  const log = (await control('GET', '/requests')).json;
  assert.deepEqual(log.map((e) => [e.method, e.path, e.status]), [
    ['GET', '/v1/patients', 503], ['GET', `/v1/patients/${SEED.ids.patients.tolvan}`, 503], ['GET', '/v1/businesses', 200], ['GET', '/v1/patients', 200],
    ['GET', '/v1/businesses', null], ['GET', '/v1/practitioners', 200], ['GET', '/v1/businesses', 200], ['POST', '/v1/patients', 201], ['GET', '/v1/businesses', 401],
  ]);
  assert.equal(log[0].fault, 503);
  assert.equal(log[4].fault, 'close');
  assert.ok(log[5].delayed_ms === 300 && log[5].duration_ms >= 290);
  assert.deepEqual([log[7].user_agent, log[7].auth_present, log[7].auth_valid, log[7].key, log[8].auth_present], [UA, true, true, 'admin', false]);
  assert.ok(!JSON.stringify(log).includes('Testsson'), 'no bodies in the log');
  await control('POST', '/requests/clear');
  assert.deepEqual((await control('GET', '/requests')).json, []);
  await reset();
  assert.equal((await api('GET', `/patients?${q('last_name:=Testsson')}`)).json.total_entries, 0, 'reset restores the seed');
});

test('settings: account time zone; settings need an admin, public settings do not', async () => {
  await reset();
  const s = await api('GET', '/settings');
  assert.equal(s.json.account.time_zone, 'Stockholm');
  assert.equal((await api('GET', '/settings', undefined, { key: SEED.apiKeys.reception })).status, 403);
  const pub = await api('GET', '/settings/public', undefined, { key: SEED.apiKeys.reception });
  assert.equal(pub.status, 200);
  assert.equal(pub.json.account.admin, undefined);
  assert.equal((await api('GET', '/nothing-here')).status, 404);
  assert.equal((await request('GET', `${ROOT}/nope`, { headers: { 'User-Agent': UA, Authorization: basic(SEED.apiKeys.admin) } })).status, 404);
});
