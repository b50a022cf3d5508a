// Checks a running peer in profile "oracle": node selftest-oracle.mjs PORT [MAX_COUNT]
// (MAX_COUNT: the FHIR_PEER_MAX_COUNT the peer was started with, if any). Resets the peer first and at the end.
import { PNR, ids, isOutcome, link, peer, q } from './selftest-lib.mjs';

const [port, maxArg] = process.argv.slice(2);
if (!port) {
  console.error('usage: node selftest-oracle.mjs PORT [MAX_COUNT]');
  process.exit(2);
}
const cap = maxArg ? Number(maxArg) : undefined;
const { base, check, fhir, get, control, allPages, summary } = peer(port);
const SERVICE = `https://fhir.cerner.com/vardbro-peer/codeSet/14249|3000101`; // tolvan-general
const PATCH = { 'content-type': 'application/json-patch+json' };

await control('/__control/reset');

// --- metadata
let r = await get('/metadata');
const res = Object.fromEntries((r.body?.rest?.[0]?.resource ?? []).map((x) => [x.type, x]));
const codes = (type) => (res[type]?.interaction ?? []).map((i) => i.code).join(',');
check('metadata: Slot is read, search-type, patch only', codes('Slot') === 'read,search-type,patch', codes('Slot'));
check('metadata: Appointment is read, search-type, create, patch (no update)', codes('Appointment') === 'read,search-type,create,patch', codes('Appointment'));
check('metadata: Binary is read only; patchFormat JSON Patch', codes('Binary') === 'read' && r.body.patchFormat?.[0] === 'application/json-patch+json');
check('metadata: no _sort or _offset search parameter anywhere, no conditional create',
  Object.values(res).every((x) => !(x.searchParam ?? []).some((p) => ['_sort', '_offset'].includes(p.name)) && x.conditionalCreate !== true));
check('metadata: Slot search params as documented', (res.Slot?.searchParam ?? []).map((p) => p.name).join(',') === '_id,service-type,schedule.actor,-location,start,_count');

// --- seed ids reachable
for (const path of ['/Location/tolvan', '/Practitioner/anna-lindqvist', '/Practitioner/erik-sandberg', '/HealthcareService/tolvan-general',
  '/Patient/tolvan-tolvansson', '/Organization/tolvan-org', '/Schedule/schedule-anna-lindqvist']) {
  r = await get(path);
  check(`read ${path}`, r.status === 200 && r.body.id === path.split('/')[2], `${r.status}`);
}
r = await get(`/Patient?identifier=${q(`${PNR}|191212121212`)}`);
check('Patient?identifier=personnummer', ids(r.body).join() === 'tolvan-tolvansson' && r.body.total === 1, `${r.status} ${ids(r.body)}`);
r = await get('/Schedule?_id=schedule-anna-lindqvist');
check('Schedule?_id= (the only Schedule search)', ids(r.body).join() === 'schedule-anna-lindqvist' &&
  r.body.entry[0].resource.actor.map((a) => a.reference).join() === 'Practitioner/anna-lindqvist,Location/tolvan');
check('Schedule?actor= -> 400 (not a Millennium parameter)', isOutcome(await get('/Schedule?actor=Practitioner/anna-lindqvist'), 400));
r = await get('/Location?-physicalType=bu');
check('Location?-physicalType=', ids(r.body).join() === 'tolvan');
check('Location without _id/-physicalType/type -> 400', isOutcome(await get('/Location?name=Tolvan'), 400));
check('Practitioner?identifier without system -> 400', isOutcome(await get('/Practitioner?identifier=SE2321000131-E000000000101'), 400));

// --- search rules
check('Patient?gender=male alone -> 400 (no supported parameters)', isOutcome(await get('/Patient?gender=male'), 400));
check('Patient?family=a&family=b -> 400 (only once)', isOutcome(await get('/Patient?family=tolv&family=lars'), 400));
check('_sort -> 400 OperationOutcome', isOutcome(await get('/Patient?family=tolv&_sort=family'), 400));
check('_sort on Slot -> 400', isOutcome(await get(`/Slot?_id=x&_sort=start`), 400));
check('unknown parameter -> 400', isOutcome(await get('/Patient?family=tolv&shoesize=42'), 400));
check('birthdate with a time -> 400', isOutcome(await get('/Patient?birthdate=1912-12-12T10:00:00Z'), 400));

// --- paging: opaque next links, _offset ignored, _count capped
r = await get('/Patient?family=tolv&_count=2');
const first = ids(r.body);
const next = link(r.body, 'next');
check('Patient page 1: 2 entries, total 6, next link opaque (-pageContext, no query, no _offset)',
  first.length === 2 && r.body.total === 6 && /\?-pageContext=[^&]+&-pageDirection=NEXT$/.test(next ?? '') && !next.includes('family'),
  `${first} total=${r.body.total} next=${next}`);
r = await get('/Patient?family=tolv&_count=2&_offset=2');
check('_offset is ignored: the same first page comes back', JSON.stringify(ids(r.body)) === JSON.stringify(first), ids(r.body).join());
let walk = await allPages('/Patient?family=tolv&_count=2');
const walked = walk.resources.map((p) => p.id);
check('following next links unchanged yields all 6 patients once', walked.length === 6 && new Set(walked).size === 6 &&
  walked.includes('tolvan-tolvansson'), walked.join());
check('page 2 has a previous link', !!link(walk.pages[1], 'previous'));
check('unknown -pageContext -> 400', isOutcome(await get('/Patient?-pageContext=nope&-pageDirection=NEXT'), 400));
r = await get('/Patient?family=tolv&_count=100');
check(cap ? `_count=100 capped at FHIR_PEER_MAX_COUNT=${cap}` : '_count=100 gives all six on one page',
  ids(r.body).length === (cap ? Math.min(cap, 6) : 6), `${ids(r.body).length}`);
r = await get(`/Patient?_id=tolvan-tolvansson,lars-strom,karin-akesson&_count=1`);
check('_count is not honoured with _id', ids(r.body).length === 3, `${ids(r.body).length}`);

// --- slots
const wide = 'start=ge2000-01-01T00:00:00Z&start=lt2100-01-01T00:00:00Z';
r = await get(`/Slot?service-type=${q(SERVICE)}&schedule.actor=Practitioner/anna-lindqvist&${wide}`);
const firstSlot = r.body?.entry?.[0]?.resource;
const day = firstSlot?.start.slice(0, 10);
const nextDay = day && new Date(Date.parse(`${day}T00:00:00Z`) + 86400_000).toISOString().slice(0, 10);
check('Slot search needs service-type (or _id) -> 400', isOutcome(await get(`/Slot?schedule.actor=Practitioner/anna-lindqvist&${wide}`), 400));
check('Slot search needs start when service-type is given -> 400', isOutcome(await get(`/Slot?service-type=${q(SERVICE)}`), 400));
check('Slot start needs both ge and lt -> 400', isOutcome(await get(`/Slot?service-type=${q(SERVICE)}&start=ge2026-01-01T00:00:00Z`), 400));
check('Slot?schedule= and status= are not Millennium parameters -> 400',
  isOutcome(await get(`/Slot?service-type=${q(SERVICE)}&${wide}&schedule=Schedule/schedule-anna-lindqvist&status=free`), 400));
const daySearch = `/Slot?service-type=${q(SERVICE)}&schedule.actor=Practitioner/anna-lindqvist&start=ge${day}T00:00:00Z&start=lt${nextDay}T00:00:00Z`;
r = await get(daySearch);
check(cap ? `Slot page size min(max(default 50, 5), 200, cap ${cap})` : 'Slot default page size 50',
  ids(r.body).length === (cap ? Math.min(cap, 16) : 16) && r.body.total === undefined, `${ids(r.body).length} total=${r.body?.total}`);
walk = await allPages(daySearch);
const daySlots = walk.resources;
check('Slot day search (schedule.actor + start ge/lt) over all pages: 16 free slots sorted by start, scheduling-location set',
  daySlots.length === 16 && daySlots.every((s, i) => s.status === 'free' && (i === 0 || Date.parse(daySlots[i - 1].start) <= Date.parse(s.start)) &&
    s.extension?.[0]?.valueReference?.reference === 'Location/tolvan'), `${daySlots.length}`);
r = await get(`/Slot?service-type=${q(SERVICE)}&-location=Location/tolvan&start=ge${day}T00:00:00Z&start=lt${nextDay}T00:00:00Z&_count=200`);
walk = await allPages(`/Slot?service-type=${q(SERVICE)}&-location=Location/tolvan&start=ge${day}T00:00:00Z&start=lt${nextDay}T00:00:00Z&_count=200`);
check('Slot?-location= finds both general-consultation schedules (32)', walk.resources.length === 32, `${walk.resources.length}`);
r = await get(`/Slot?_id=${firstSlot.id}&_include=Slot:schedule`);
check('Slot?_id=&_include=Slot:schedule', r.body.entry?.length === 2 && r.body.entry[1].search.mode === 'include' &&
  r.body.entry[1].resource.resourceType === 'Schedule');

const slotA = daySlots[0];
const slotB = daySlots[1];
const slotC = daySlots[2];
check('PUT Slot -> 405 OperationOutcome', isOutcome(await fhir('PUT', `/Slot/${slotA.id}`, { ...slotA, status: 'busy' }), 405));
check('POST Slot -> 405 OperationOutcome', isOutcome(await fhir('POST', '/Slot', { ...slotA, id: undefined }), 405));
check('DELETE Slot -> 405 OperationOutcome', isOutcome(await fhir('DELETE', `/Slot/${slotA.id}`), 405));
const slotOp = (status) => [{ op: 'replace', path: '/status', value: status }];
check('PATCH Slot without If-Match -> 412', isOutcome(await fhir('PATCH', `/Slot/${slotC.id}`, slotOp('busy-tentative'), PATCH), 412));
check('PATCH Slot with a stale version -> 409', isOutcome(await fhir('PATCH', `/Slot/${slotC.id}`, slotOp('busy-tentative'), { ...PATCH, 'if-match': 'W/"99"' }), 409));
check('PATCH Slot to busy (not documented) -> 422', isOutcome(await fhir('PATCH', `/Slot/${slotC.id}`, slotOp('busy'), { ...PATCH, 'if-match': `W/"${slotC.meta.versionId}"` }), 422));
r = await fhir('PATCH', `/Slot/${slotC.id}`, slotOp('busy-tentative'), { ...PATCH, 'if-match': `W/"${slotC.meta.versionId}"` });
check('PATCH Slot busy-tentative -> 200, empty body, ETag W/"2"', r.status === 200 && r.raw.length === 0 && r.headers.get('etag') === 'W/"2"', `${r.status} ${r.headers.get('etag')}`);
walk = await allPages(daySearch);
check('a busy-tentative slot is not in the free search', !walk.resources.some((s) => s.id === slotC.id) && walk.resources.length === 15);

// --- appointments
const booked = (slot, patient, extra = {}) => ({
  resourceType: 'Appointment', status: 'booked', slot: [{ reference: `Slot/${slot.id}` }],
  participant: [{ actor: { reference: `Patient/${patient}` }, status: 'accepted' }], ...extra,
});
r = await fhir('POST', '/Appointment', booked(slotA, 'tolvan-tolvansson', { reasonCode: [{ text: 'Huvudvärk' }] }));
const loc = r.headers.get('location');
const a1 = loc?.split('/').pop();
check('create booked Appointment -> 201, empty body, Location without _history, ETag W/"0"',
  r.status === 201 && r.raw.length === 0 && loc === `${base}/Appointment/${a1}` && r.headers.get('etag') === 'W/"0"', `${r.status} ${loc} ${r.headers.get('etag')}`);
r = await get(`/Appointment/${a1}`);
const appt = r.body;
check('the Appointment is booked on the slot with Patient, Practitioner and Location accepted',
  appt?.status === 'booked' && appt.slot?.[0]?.reference === `Slot/${slotA.id}` && appt.start === slotA.start &&
  ['Patient/tolvan-tolvansson', 'Practitioner/anna-lindqvist', 'Location/tolvan'].every((ref) =>
    appt.participant.some((p) => p.actor.reference === ref && p.status === 'accepted')), JSON.stringify(appt?.participant));
r = await get(`/Slot?_id=${slotA.id}`);
check('the slot is consumed: busy (still readable by _id)', r.body.entry?.[0]?.resource.status === 'busy');
walk = await allPages(daySearch);
check('the consumed slot is gone from the free search', !walk.resources.some((s) => s.id === slotA.id) && walk.resources.length === 14);
r = await fhir('POST', '/Appointment', booked(slotA, 'lars-strom'));
check('a second Appointment for the taken slot -> 422 business-rule', isOutcome(r, 422) && r.body.issue[0].code === 'business-rule');
const raced = daySlots[3];
const race = await Promise.all(['lars-strom', 'karin-akesson', 'sven-nystrom', 'tolvgren-anders', 'tolvgren-beata', 'tolvgren-eva']
  .map((patient) => fhir('POST', '/Appointment', booked(raced, patient))));
const raceCodes = race.map((x) => x.status);
check('6 concurrent bookings of one slot -> one 201, five 422', raceCodes.filter((c) => c === 201).length === 1 &&
  raceCodes.filter((c) => c === 422).length === 5, raceCodes.join());
check('status pending -> 422', isOutcome(await fhir('POST', '/Appointment', booked(slotB, 'lars-strom', { status: 'pending' })), 422));
check('two slots -> 422', isOutcome(await fhir('POST', '/Appointment', booked(slotB, 'lars-strom', { slot: [{ reference: `Slot/${slotB.id}` }, { reference: `Slot/${slotC.id}` }] })), 422));
check('a Practitioner participant on create -> 422', isOutcome(await fhir('POST', '/Appointment', booked(slotB, 'lars-strom', {
  participant: [{ actor: { reference: 'Patient/lars-strom' }, status: 'accepted' }, { actor: { reference: 'Practitioner/anna-lindqvist' }, status: 'accepted' }] })), 422));
check('participant status needs-action on a booked create -> 422', isOutcome(await fhir('POST', '/Appointment', booked(slotB, 'lars-strom', {
  participant: [{ actor: { reference: 'Patient/lars-strom' }, status: 'needs-action' }] })), 422));
check('modifierExtension -> 422', isOutcome(await fhir('POST', '/Appointment', booked(slotB, 'lars-strom', {
  modifierExtension: [{ url: 'urn:x', valueString: 'y' }] })), 422));
check('PUT Appointment -> 405', isOutcome(await fhir('PUT', `/Appointment/${a1}`, appt), 405));
check('DELETE Appointment -> 405', isOutcome(await fhir('DELETE', `/Appointment/${a1}`), 405));
r = await fhir('POST', '/Appointment', booked(slotB, 'tolvan-tolvansson'));
const a2 = r.headers.get('location')?.split('/').pop();

check('Appointment?patient without date -> 400', isOutcome(await get('/Appointment?patient=Patient/tolvan-tolvansson'), 400));
check('Appointment?patient&location -> 400 (not in combination)',
  isOutcome(await get(`/Appointment?patient=Patient/tolvan-tolvansson&location=Location/tolvan&date=ge${day}T00:00:00Z`), 400));
check('Appointment date without time -> 400', isOutcome(await get(`/Appointment?patient=Patient/tolvan-tolvansson&date=ge${day}`), 400));
check('Appointment?_lastUpdated -> 400 (not a Millennium Appointment parameter)',
  isOutcome(await get(`/Appointment?patient=Patient/tolvan-tolvansson&date=ge${day}T00:00:00Z&_lastUpdated=ge2020-01-01`), 400));
r = await get(`/Appointment?patient=Patient/tolvan-tolvansson&date=ge${day}T00:00:00Z&date=lt${nextDay}T00:00:00Z`);
check('Appointment?patient&date=ge&date=lt sorted by start', ids(r.body).join() === [a1, a2].join(), ids(r.body).join());
const a3 = race.find((x) => x.status === 201).headers.get('location').split('/').pop();
walk = await allPages(`/Appointment?practitioner=Practitioner/anna-lindqvist&date=ge${day}T00:00:00Z&status=booked`);
check('Appointment?practitioner&date&status sorted by start (all pages)', walk.resources.map((a) => a.id).join() === [a1, a2, a3].join(),
  walk.resources.map((a) => a.id).join());

// cancel through PATCH (If-Match), the slot comes back
const cancel = [{ op: 'replace', path: '/status', value: 'cancelled' },
  { op: 'add', path: '/cancelationReason', value: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason', code: 'pat' }] } }];
check('PATCH Appointment without If-Match -> 412', isOutcome(await fhir('PATCH', `/Appointment/${a1}`, cancel, PATCH), 412));
check('PATCH Appointment with a stale version -> 409', isOutcome(await fhir('PATCH', `/Appointment/${a1}`, cancel, { ...PATCH, 'if-match': 'W/"7"' }), 409));
check('PATCH as application/fhir+json -> 415', (await fhir('PATCH', `/Appointment/${a1}`, cancel, { 'if-match': 'W/"0"' })).status === 415);
check('PATCH of an unsupported path -> 422', isOutcome(await fhir('PATCH', `/Appointment/${a1}`, [{ op: 'replace', path: '/start', value: '2030-01-01T00:00:00Z' }], { ...PATCH, 'if-match': 'W/"0"' }), 422));
r = await fhir('PATCH', `/Appointment/${a1}`, cancel, { ...PATCH, 'if-match': 'W/"0"' });
check('PATCH cancel -> 200, empty body, ETag W/"1"', r.status === 200 && r.raw.length === 0 && r.headers.get('etag') === 'W/"1"', `${r.status} ${r.headers.get('etag')}`);
r = await get(`/Appointment/${a1}`);
check('the Appointment is cancelled with its reason', r.body.status === 'cancelled' && r.body.cancelationReason?.coding?.[0]?.code === 'pat');
r = await get(`/Slot/${slotA.id}`);
check('cancelling frees the slot', r.body.status === 'free');
check('cancelled -> booked is not an allowed transition -> 422',
  isOutcome(await fhir('PATCH', `/Appointment/${a1}`, [{ op: 'replace', path: '/status', value: 'booked' }], { ...PATCH, 'if-match': 'W/"1"' }), 422));
r = await fhir('PATCH', `/Appointment/${a2}`, [{ op: 'replace', path: '/slot', value: [{ reference: `Slot/${slotA.id}` }] }], { ...PATCH, 'if-match': 'W/"0"' });
const moved = (await get(`/Appointment/${a2}`)).body;
check('PATCH replace /slot reschedules: new slot busy, old slot free, start moved',
  r.status === 200 && moved.start === slotA.start && (await get(`/Slot/${slotA.id}`)).body.status === 'busy' &&
  (await get(`/Slot/${slotB.id}`)).body.status === 'free', `${r.status}`);
r = await fhir('POST', `/Appointment/${a2}`, [{ op: 'replace', path: '/status', value: 'checked-in' }],
  { ...PATCH, 'if-match': 'W/"1"', 'x-http-method-override': 'PATCH' });
check('POST with X-HTTP-Method-Override: PATCH (booked -> checked-in)', r.status === 200 && (await get(`/Appointment/${a2}`)).body.status === 'checked-in', `${r.status}`);

// --- documents the EHR wrote, beside the client's own
walk = await allPages('/DocumentReference?patient=Patient/tolvan-tolvansson');
const ehrDocs = walk.resources;
check('two EHR-written clinical notes are seeded (US Core clinical-note, LOINC type, Binary url)',
  ehrDocs.length === 2 && ehrDocs.every((d) => d.category[0].coding[0].code === 'clinical-note' &&
    d.type.coding.some((c) => c.system === 'http://loinc.org') && /Binary\/XR-/.test(d.content[0].attachment.url)), `${ehrDocs.length}`);
r = await get(`/${ehrDocs[0].content[0].attachment.url}`, { accept: 'text/html' });
check('the EHR note\'s Binary with Accept: text/html -> raw HTML', r.status === 200 && r.raw.toString().includes('<html>') &&
  r.headers.get('content-type').startsWith('text/html'), `${r.status}`);
check('DocumentReference without patient -> 400', isOutcome(await get('/DocumentReference?category=clinical-note'), 400));
const doc = (date) => ({
  resourceType: 'DocumentReference', status: 'current', date, subject: { reference: 'Patient/tolvan-tolvansson' },
  type: { coding: [{ system: 'http://loinc.org', code: '11506-3' }] },
  content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('hej').toString('base64'), creation: date } }],
});
check('DocumentReference create with a date without time -> 422',
  isOutcome(await fhir('POST', '/DocumentReference', { ...doc('2026-12-01T10:00:00Z'), context: { period: { start: '2026-12-01' } } }), 422));
r = await fhir('POST', '/DocumentReference', doc('2026-12-01T10:00:00Z'));
const d1 = r.headers.get('location')?.split('/').pop();
check('DocumentReference create -> 201, empty body, Location, ETag W/"1"', r.status === 201 && r.raw.length === 0 && !!d1 && r.headers.get('etag') === 'W/"1"', `${r.status}`);
walk = await allPages('/DocumentReference?patient=Patient/tolvan-tolvansson');
check('the client\'s document is listed beside the EHR\'s', walk.resources.length === 3 && walk.resources.some((d) => d.id === d1));
const own = (await get(`/DocumentReference/${d1}`)).body;
const binaryUrl = own.content[0].attachment.url;
check('inline data comes back as attachment.url to a Binary', !own.content[0].attachment.data && binaryUrl === `${base}/Binary/XR-${d1}`, binaryUrl);
r = await get(binaryUrl, { accept: 'text/plain' });
check('Binary with Accept: text/plain -> raw bytes', r.status === 200 && r.raw.toString() === 'hej');
r = await get(binaryUrl);
check('Binary with Accept: application/fhir+json -> FHIR Binary', r.status === 200 && r.body.resourceType === 'Binary' && r.body.data === Buffer.from('hej').toString('base64'));
check('Binary with another Accept -> 406', (await get(binaryUrl, { accept: 'application/pdf' })).status === 406);
check('POST Binary -> 405', isOutcome(await fhir('POST', '/Binary', { resourceType: 'Binary', contentType: 'text/plain', data: 'aGVq' }), 405));
r = await fhir('PUT', `/DocumentReference/${d1}`, { ...own, id: d1, description: 'updated' });
check('DocumentReference update without If-Match -> 412', isOutcome(r, 412));
r = await fhir('PUT', `/DocumentReference/${d1}`, { ...own, id: d1, description: 'updated' }, { 'if-match': 'W/"1"' });
check('DocumentReference update with If-Match -> 200, ETag W/"2"', r.status === 200 && r.headers.get('etag') === 'W/"2"', `${r.status}`);

// --- other writes
const p = { resourceType: 'Patient', identifier: [{ system: PNR, value: '190101019999' }], name: [{ family: 'Villkorlig' }] };
const p1 = await fhir('POST', '/Patient', p, { 'if-none-exist': `identifier=${PNR}|190101019999` });
const p2 = await fhir('POST', '/Patient', p, { 'if-none-exist': `identifier=${PNR}|190101019999` });
r = await get(`/Patient?identifier=${q(`${PNR}|190101019999`)}`);
check('Patient create -> 201 empty; If-None-Exist is not supported (ignored: two patients)',
  p1.status === 201 && p1.raw.length === 0 && p2.status === 201 && r.body.total === 2, `${p1.status} ${p2.status} ${r.body.total}`);
check('Accept: application/xml -> 406', (await get('/Patient/tolvan-tolvansson', { accept: 'application/xml' })).status === 406);
check('Practitioner create -> 405', isOutcome(await fhir('POST', '/Practitioner', { resourceType: 'Practitioner' }), 405));
check('history -> 405', isOutcome(await get('/Patient/tolvan-tolvansson/_history'), 405));

// --- control endpoints (the default ones, and the EHR's own UI)
await control('/__control/requests/clear');
await get('/Patient/lars-strom');
let logged = (await control('/__control/requests', 'GET')).body;
check('requests log works', logged.length === 1 && logged[0].status === 200);
await control('/__control/fail?method=GET&status=503&count=1&retryAfter=1');
r = await get('/Patient/lars-strom');
check('fail injects an OperationOutcome 503 with Retry-After', isOutcome(r, 503) && r.headers.get('retry-after') === '1');
const before = (await get(`/Appointment/${a2}`)).body;
await new Promise((resolve) => setTimeout(resolve, 5));
r = await control(`/__control/ehr/appointment-status?id=${a2}&status=cancelled`);
const after = (await get(`/Appointment/${a2}`)).body;
check('ehr/appointment-status: new version, lastUpdated bumped, slot freed',
  r.status === 200 && after.status === 'cancelled' && after.meta.versionId === String(Number(before.meta.versionId) + 1) &&
  after.meta.lastUpdated > before.meta.lastUpdated && (await get(`/Slot/${slotA.id}`)).body.status === 'free', JSON.stringify(r.body));
r = await control(`/__control/ehr/book?slot=${slotB.id}&patient=karin-akesson`);
check('ehr/book takes a slot as the clinic would', r.status === 200 && (await get(`/Slot/${slotB.id}`)).body.status === 'busy');
check('... and a client booking of that slot -> 422', isOutcome(await fhir('POST', '/Appointment', booked(slotB, 'lars-strom')), 422));
check('ehr/book of a taken slot -> 409', (await control(`/__control/ehr/book?slot=${slotB.id}&patient=lars-strom`)).status === 409);
await control('/__control/reset');
check('reset reloads the seed', (await get(`/Slot/${slotA.id}`)).body.status === 'free' && (await get(`/Appointment/${a1}`)).status === 404);

process.exit(summary() ? 1 : 0);
