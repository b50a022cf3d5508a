// Checks a running peer: node selftest.mjs PORT. Resets the peer first and at the end.
const port = process.argv[2];
if (!port) {
  console.error('usage: node selftest.mjs PORT');
  process.exit(2);
}
const ROOT = `http://127.0.0.1:${port}`;
const BASE = `${ROOT}/fhir/R4`;
const PNR = 'urn:oid:1.2.752.129.2.1.3.1';
const HSA = 'urn:oid:1.2.752.29.4.19';
const FHIR = 'application/fhir+json';
let passed = 0;
let failed = 0;

function check(name, ok, detail = '') {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${ok || !detail ? '' : ` -- ${detail}`}`);
}

async function fhir(method, path, body, headers = {}) {
  const res = await fetch(path.startsWith('http') ? path : BASE + path, {
    method,
    headers: { accept: FHIR, ...(body !== undefined ? { 'content-type': FHIR } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}
const get = (path) => fhir('GET', path);
const control = async (path) => (await fetch(ROOT + path, { method: path.endsWith('requests') ? 'GET' : 'POST' })).json();
const ids = (bundle) => (bundle.entry ?? []).map((e) => e.resource.id);
const isOutcome = (r, status) => r.status === status && r.body?.resourceType === 'OperationOutcome';
const fold = (s) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
const q = encodeURIComponent;

async function search(name, path, expectIds) {
  const r = await get(path);
  const got = ids(r.body ?? {});
  const ok = r.status === 200 && r.body.total === expectIds.length && JSON.stringify(got) === JSON.stringify(expectIds);
  check(name, ok, `${r.status} total=${r.body?.total} ids=${got.join(',')} want ${expectIds.join(',')}`);
  return r.body;
}

await control('/__control/reset');

// --- metadata, read, errors
let r = await get('/metadata');
check('metadata answers a CapabilityStatement', r.status === 200 && r.body.resourceType === 'CapabilityStatement');

r = await get('/Patient/tolvan-tolvansson');
check('read seed Patient by fixed id', r.status === 200 && r.body.name[0].family === 'Tolvansson');
check('read carries ETag W/"<versionId>" and meta.lastUpdated',
  r.headers.get('etag') === `W/"${r.body.meta.versionId}"` && !!r.body.meta.lastUpdated);
check('responses are application/fhir+json', r.headers.get('content-type').startsWith(FHIR));
check('read unknown id -> 404 OperationOutcome', isOutcome(await get('/Patient/nobody'), 404));
check('unknown resource type -> 404 OperationOutcome', isOutcome(await get('/Nonsense?x=1'), 404));
check('bad date search -> 400 OperationOutcome', isOutcome(await get('/Patient?birthdate=notadate'), 400));
check('unknown search parameter -> 400 OperationOutcome', isOutcome(await get('/Patient?shoesize=42'), 400));
check('chained search -> 400 OperationOutcome', isOutcome(await get('/Appointment?patient.identifier=x'), 400));
check('unknown _sort -> 400 OperationOutcome', isOutcome(await get('/Patient?_sort=shoesize'), 400));
check('invalid resource (bad birthDate) -> 400', isOutcome(await fhir('POST', '/Patient', { resourceType: 'Patient', birthDate: '12/12/1912' }), 400));
check('resource type mismatch -> 400', isOutcome(await fhir('POST', '/Patient', { resourceType: 'Location' }), 400));
check('malformed JSON -> 400', isOutcome(await fhir('POST', '/Patient', '{"resourceType":'), 400));

// --- create / update / If-Match
r = await fhir('POST', '/Patient', { resourceType: 'Patient', id: 'client-id', name: [{ family: 'Created' }] });
const created = r.body;
check('create -> 201 with Location, ETag, meta', r.status === 201 &&
  r.headers.get('location') === `${BASE}/Patient/${created.id}/_history/${created.meta.versionId}` &&
  r.headers.get('etag') === `W/"${created.meta.versionId}"` && !!created.meta.lastUpdated);
check('create ignores a client-supplied id', created.id !== 'client-id');
r = await fhir('POST', '/Patient', { resourceType: 'Patient', name: [{ family: 'Json' }] }, { 'content-type': 'application/json' });
check('create accepts application/json', r.status === 201);
check('read back created resource', (await get(`/Patient/${created.id}`)).body?.name?.[0]?.family === 'Created');

const v1 = created.meta.versionId;
r = await fhir('PUT', `/Patient/${created.id}`, { ...created, gender: 'female' }, { 'if-match': `W/"${v1}"` });
const v2 = r.body.meta?.versionId;
check('PUT with current If-Match -> 200 and new version', r.status === 200 && v2 && v2 !== v1 && r.headers.get('etag') === `W/"${v2}"`);
check('PUT with stale If-Match -> 412 OperationOutcome',
  isOutcome(await fhir('PUT', `/Patient/${created.id}`, { ...created, gender: 'male' }, { 'if-match': `W/"${v1}"` }), 412));
check('PUT with id mismatch -> 400', isOutcome(await fhir('PUT', `/Patient/${created.id}`, { ...created, id: 'other' }), 400));
r = await fhir('PUT', '/Patient/put-created', { resourceType: 'Patient', id: 'put-created' });
check('PUT to a new id creates it (201) with that id', r.status === 201 && r.body.id === 'put-created');
check('vread of an old version', (await get(`/Patient/${created.id}/_history/${v1}`)).body?.gender === undefined);

const slot = (await get('/Slot?schedule=Schedule/schedule-maria-oberg&_sort=start&_count=1')).body.entry[0].resource;
const puts = await Promise.all(Array.from({ length: 20 }, () =>
  fhir('PUT', `/Slot/${slot.id}`, { ...slot, status: 'busy' }, { 'if-match': `W/"${slot.meta.versionId}"` })));
const putCodes = puts.map((p) => p.status);
check('20 concurrent If-Match PUTs of one Slot -> one 200, nineteen 412',
  putCodes.filter((s) => s === 200).length === 1 && putCodes.filter((s) => s === 412).length === 19, putCodes.join(','));

// --- conditional create
const ident = `${PNR}|190101019999`;
const newPatient = { resourceType: 'Patient', identifier: [{ system: PNR, value: '190101019999' }], name: [{ family: 'Villkorlig' }] };
r = await fhir('POST', '/Patient', newPatient, { 'if-none-exist': `identifier=${ident}` });
const condId = r.body.id;
check('If-None-Exist, no match -> 201', r.status === 201);
r = await fhir('POST', '/Patient', newPatient, { 'if-none-exist': `identifier=${ident}` });
check('If-None-Exist, one match -> 200 with the existing resource', r.status === 200 && r.body.id === condId);
const conds = await Promise.all(Array.from({ length: 20 }, () =>
  fhir('POST', '/Patient', { ...newPatient, identifier: [{ system: PNR, value: '190202029999' }] },
    { 'if-none-exist': `identifier=${PNR}|190202029999` })));
const condCodes = conds.map((c) => c.status);
r = await get(`/Patient?identifier=${q(`${PNR}|190202029999`)}`);
check('20 concurrent conditional creates -> one 201, one Patient stored',
  condCodes.filter((s) => s === 201).length === 1 && condCodes.filter((s) => s === 200).length === 19 && r.body.total === 1,
  `${condCodes.join(',')} stored=${r.body.total}`);

// --- Patient searches
await search('Patient?identifier=system|value', `/Patient?identifier=${q(`${PNR}|197110021834`)}`, ['lars-strom']);
await search('Patient?_id=', '/Patient?_id=karin-akesson', ['karin-akesson']);
await search('Patient?_id=a,b', '/Patient?_id=karin-akesson,lars-strom&_sort=_id', ['karin-akesson', 'lars-strom']);
await search('family prefix, case-insensitive (tolv)', '/Patient?family=TOLV', ['tolvan-tolvansson']);
await search('family is a prefix match, not contains (ström !~ Nyström)', `/Patient?family=${q('ström')}`, ['lars-strom']);
await search('family accent-folded (ake ~ Åkesson)', '/Patient?family=ake', ['karin-akesson']);
await search('family accent-folded (strom ~ Ström)', '/Patient?family=strom', ['lars-strom']);
await search('family:exact', `/Patient?family:exact=${q('Ström')}`, ['lars-strom']);
await search('family:contains', `/Patient?family:contains=${q('ström')}&_sort=_id`, ['lars-strom', 'sven-nystrom']);
await search('given=', '/Patient?given=kar', ['karin-akesson']);
await search('birthdate=', '/Patient?birthdate=1912-12-12', ['tolvan-tolvansson']);
await search('phone=', `/Patient?phone=${q('+46001234567')}`, ['tolvan-tolvansson']);
await search('email= (case-insensitive)', `/Patient?email=${q('tolvan.tolvansson@example.com')}`, ['tolvan-tolvansson']);

for (const given of ['Cecilia', 'Adam', 'Bertil']) {
  await fhir('POST', '/Patient', { resourceType: 'Patient', name: [{ family: 'Zzsorttest', given: [given] }] });
}
r = await get('/Patient?_sort=family,given,_id&_count=1000');
const all = r.body.entry.map((e) => e.resource);
const key = (p) => [fold(p.name?.[0]?.family ?? '\uffff'), fold(p.name?.[0]?.given?.[0] ?? '\uffff'), p.id];
const sorted = all.every((p, i) => i === 0 || JSON.stringify(key(all[i - 1])) <= JSON.stringify(key(p)));
const zz = all.filter((p) => p.name?.[0]?.family === 'Zzsorttest').map((p) => p.name[0].given[0]);
check('_sort=family,given,_id sorts on all keys', sorted && zz.join() === 'Adam,Bertil,Cecilia', zz.join());
r = await get('/Patient?_sort=family,given,_id&_count=2&_offset=1');
check('_count/_offset paging with Bundle.total and next link',
  JSON.stringify(ids(r.body)) === JSON.stringify(all.slice(1, 3).map((p) => p.id)) && r.body.total === all.length &&
  r.body.link.some((l) => l.relation === 'next' && l.url.includes('_offset=3')));
r = await get('/Patient?_sort=-family&_count=1');
check('_sort=-family (descending)', r.body.entry[0].resource.name[0].family === 'Zzsorttest');
r = await get('/Patient');
check('default page size is 20 when _count is absent', r.body.entry.length === Math.min(20, all.length) && r.body.total === all.length);

// --- master data
r = await search('Location list', '/Location', ['tolvan']);
const loc = r.entry?.[0]?.resource;
check('Location has address, org and time-zone extension', loc?.address?.city === 'Tolvstad' &&
  loc.managingOrganization.reference === 'Organization/tolvan-org' &&
  loc.extension?.[0]?.valueString === 'Europe/Stockholm');
check('Location/{id}', (await get('/Location/tolvan')).body?.name === 'Vårdcentralen Tolvan');
await search('Practitioner?identifier=', `/Practitioner?identifier=${q(`${HSA}|SE2321000131-E000000000103`)}`, ['maria-oberg']);
await search('PractitionerRole?location=', '/PractitionerRole?location=Location/tolvan&_sort=_id',
  ['role-anna-lindqvist', 'role-erik-sandberg', 'role-maria-oberg']);
await search('HealthcareService?location=', '/HealthcareService?location=Location/tolvan&_sort=_id',
  ['tolvan-follow-up', 'tolvan-general']);
await search('Schedule?actor=Practitioner/x', '/Schedule?actor=Practitioner/erik-sandberg', ['schedule-erik-sandberg']);
await search('Schedule?actor=Location/x', '/Schedule?actor=Location/tolvan&_sort=_id',
  ['schedule-anna-lindqvist', 'schedule-erik-sandberg', 'schedule-maria-oberg']);

// --- slots
r = await get('/Slot?schedule=Schedule/schedule-anna-lindqvist&_sort=start&_count=1000');
const annaSlots = r.body.entry.map((e) => e.resource);
const firstDay = annaSlots[0].start.slice(0, 10);
const offsetOf = (date) => {
  const name = new Intl.DateTimeFormat('en', { timeZone: 'Europe/Stockholm', timeZoneName: 'longOffset' })
    .formatToParts(new Date(`${date}T12:00:00Z`)).find((p) => p.type === 'timeZoneName').value;
  return name.slice(3) || '+00:00';
};
const weekdays = new Set(annaSlots.map((s) => s.start.slice(0, 10)));
check('slots: 16 per weekday, 08:00-16:00 local, Stockholm offset per date (DST)',
  annaSlots.length === weekdays.size * 16 && weekdays.size >= 21 && annaSlots.every((s) => {
    const day = new Date(`${s.start.slice(0, 10)}T00:00:00Z`).getUTCDay();
    const t = s.start.slice(11, 16);
    return day >= 1 && day <= 5 && t >= '08:00' && t <= '15:30' && s.start.endsWith(offsetOf(s.start.slice(0, 10))) &&
      Date.parse(s.end) - Date.parse(s.start) === 30 * 60_000 && s.status === 'free';
  }), `${annaSlots.length} slots on ${weekdays.size} days`);
const nextDay = new Date(Date.parse(`${firstDay}T00:00:00Z`) + 86400_000).toISOString().slice(0, 10);
r = await get(`/Slot?schedule=Schedule/schedule-anna-lindqvist,Schedule/schedule-erik-sandberg&status=free` +
  `&start=ge${firstDay}T00:00:00${q(offsetOf(firstDay))}&start=lt${nextDay}T00:00:00${q(offsetOf(nextDay))}&_sort=start&_count=1000`);
const daySlots = r.body.entry.map((e) => e.resource);
check('Slot?schedule=a,b&status=free&start=ge&start=lt&_sort=start', daySlots.length === 32 && r.body.total === 32 &&
  daySlots.every((s, i) => i === 0 || Date.parse(daySlots[i - 1].start) <= Date.parse(s.start)), `${daySlots.length}`);
r = await get(`/Slot?schedule=Schedule/schedule-maria-oberg&status=free&_count=1000`);
check('Slot?status=free excludes the busy slot', !ids(r.body).includes(slot.id) && r.body.total === annaSlots.length - 1);

// --- appointments
const appt = (start, patient) => ({
  resourceType: 'Appointment', status: 'booked', start, end: new Date(Date.parse(start) + 30 * 60_000).toISOString(),
  participant: [{ actor: { reference: `Patient/${patient}` }, status: 'accepted' },
    { actor: { reference: 'Location/tolvan' }, status: 'accepted' },
    { actor: { reference: 'Practitioner/anna-lindqvist' }, status: 'accepted' }],
});
const a2 = (await fhir('POST', '/Appointment', appt(daySlots[4].start, 'tolvan-tolvansson'))).body.id;
const a1 = (await fhir('POST', '/Appointment', appt(daySlots[0].start, 'tolvan-tolvansson'))).body.id;
await fhir('POST', '/Appointment', appt(daySlots[2].start, 'lars-strom'));
await search('Appointment?actor&patient&date=ge&status=booked&_sort=date',
  `/Appointment?actor=Location/tolvan&patient=Patient/tolvan-tolvansson&date=ge${firstDay}&status=booked&_sort=date`, [a1, a2]);
await search('Appointment?date=ge after both -> none',
  `/Appointment?patient=Patient/tolvan-tolvansson&date=ge${nextDay}`, []);

// --- documents
const doc = (date, code, related) => ({
  resourceType: 'DocumentReference', status: 'current', date, subject: { reference: 'Patient/tolvan-tolvansson' },
  category: [{ coding: [{ system: 'urn:vardbro:fhir:document-kind', code }] }],
  content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('hej').toString('base64') } }],
  ...(related ? { context: { related: [{ reference: related }] } } : undefined),
});
const d1 = (await fhir('POST', '/DocumentReference', doc('2026-01-01T10:00:00+01:00', 'medical-note', `Appointment/${a1}`))).body.id;
const d2 = (await fhir('POST', '/DocumentReference', doc('2026-02-01T10:00:00+01:00', 'medical-note'))).body.id;
await fhir('POST', '/DocumentReference', doc('2026-03-01T10:00:00+01:00', 'document'));
await search('DocumentReference?subject&category=system|code&_sort=-date',
  `/DocumentReference?subject=Patient/tolvan-tolvansson&category=${q('urn:vardbro:fhir:document-kind|medical-note')}&_sort=-date`, [d2, d1]);
await search('DocumentReference?related= (context.related)', `/DocumentReference?related=Appointment/${a1}`, [d1]);

// --- Binary
const big = Buffer.alloc(25 * 1024 * 1024, 7);
big.write('vardbro', 0);
const data = big.toString('base64');
let t = Date.now();
r = await fhir('POST', '/Binary', { resourceType: 'Binary', contentType: 'application/pdf', data });
const binId = r.body?.id;
check(`Binary 25 MiB create -> 201 (${Date.now() - t} ms)`, r.status === 201 && !!binId, `${r.status}`);
t = Date.now();
r = await get(`/Binary/${binId}`);
check(`Binary read back as FHIR JSON, data intact (${Date.now() - t} ms)`,
  r.status === 200 && r.body.resourceType === 'Binary' && r.body.contentType === 'application/pdf' && r.body.data === data);

// --- control endpoints
await control('/__control/requests/clear');
await get('/Patient/lars-strom');
let logged = await control('/__control/requests');
check('requests log records method, url, status',
  logged.length === 1 && logged[0].method === 'GET' && logged[0].url === '/fhir/R4/Patient/lars-strom' && logged[0].status === 200);
await control('/__control/fail?method=GET&status=500&count=2');
const f1 = await get('/Patient/lars-strom');
const fp = await fhir('POST', '/Patient', { resourceType: 'Patient' });
const f2 = await get('/Patient/lars-strom');
const f3 = await get('/Patient/lars-strom');
check('fail?method=GET&status=500&count=2 fails the next two GETs only',
  isOutcome(f1, 500) && isOutcome(f2, 500) && f3.status === 200 && fp.status === 201);
await control('/__control/fail?status=503&count=1&retryAfter=2');
r = await fhir('PUT', '/Patient/lars-strom', { resourceType: 'Patient', id: 'lars-strom' });
check('fail without method hits any method, Retry-After set', isOutcome(r, 503) && r.headers.get('retry-after') === '2');
check('faulted PUT did not change the resource', (await get('/Patient/lars-strom')).body.name?.[0]?.family === 'Ström');
await control('/__control/delay?ms=400&count=1');
t = Date.now();
await get('/metadata');
const slow = Date.now() - t;
t = Date.now();
await get('/metadata');
check('delay?ms=400&count=1 delays exactly the next request', slow >= 400 && Date.now() - t < 400, `${slow} ms`);
await control('/__control/fail?status=500&count=5');
await control('/__control/delay?ms=2000&count=5');
await control('/__control/clear-faults');
r = await get('/metadata');
check('clear-faults drops pending faults and delays', r.status === 200);
logged = await control('/__control/requests');
check('faulted and delayed requests are logged', logged.filter((e) => e.status === 500).length === 2 &&
  logged.some((e) => e.status === 503) && logged.length === 10, JSON.stringify(logged.map((e) => e.status)));
await control('/__control/reset');
check('reset drops created data', (await get(`/Patient/${created.id}`)).status === 404);
check('reset reloads the seed', (await get('/Patient?_count=0')).body.total === 4 &&
  (await get('/Slot/' + slot.id)).body.status === 'free');

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
