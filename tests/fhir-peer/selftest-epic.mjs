// Checks a running peer in profile "epic": node selftest-epic.mjs PORT. Resets the peer first and at the end.
import { PNR, ids, isOutcome, peer, q } from './selftest-lib.mjs';

const port = process.argv[2];
if (!port) {
  console.error('usage: node selftest-epic.mjs PORT');
  process.exit(2);
}
const { base, check, fhir, get, control, summary } = peer(port);
const VISIT = 'http://fhir.org/guides/argonaut-scheduling/CodeSystem/visit-type';
const PATCH = { 'content-type': 'application/json-patch+json' };
const params = (...list) => ({ resourceType: 'Parameters', parameter: list.map(([name, value]) => ({ name, ...value })) });
const appts = (bundle) => (bundle?.entry ?? []).filter((e) => e.resource.resourceType === 'Appointment').map((e) => e.resource);
const outcomeOf = (bundle) => bundle?.entry?.find((e) => e.search?.mode === 'outcome')?.resource;

await control('/__control/reset');

// --- metadata
let r = await get('/metadata');
const res = Object.fromEntries((r.body?.rest?.[0]?.resource ?? []).map((x) => [x.type, x]));
const codes = (type) => (res[type]?.interaction ?? []).map((i) => i.code).join(',');
check('metadata: Appointment read, search-type, patch; operations find and book',
  codes('Appointment') === 'read,search-type,patch' && (res.Appointment?.operation ?? []).map((o) => o.name).join() === 'find,book' &&
  res.Appointment.operation[0].definition === 'http://fhir.org/guides/argonaut-scheduling/OperationDefinition/appointment-find', codes('Appointment'));
check('metadata: Slot read and search-type only', codes('Slot') === 'read,search-type', codes('Slot'));

// --- seed ids and default behaviour elsewhere
for (const path of ['/Location/tolvan', '/Practitioner/anna-lindqvist', '/Practitioner/erik-sandberg', '/HealthcareService/tolvan-general', '/Patient/tolvan-tolvansson']) {
  check(`read ${path}`, (await get(path)).body?.id === path.split('/')[2]);
}
r = await get(`/Patient?identifier=${q(`${PNR}|191212121212`)}`);
check('Patient?identifier= (default search semantics)', ids(r.body).join() === 'tolvan-tolvansson');
r = await get('/HealthcareService/tolvan-general');
check('HealthcareService carries its Argonaut visit type', r.body.type?.[0]?.coding?.[0]?.code === 'office-visit');

// --- slots are not writable
r = await get('/Slot?schedule=Schedule/schedule-anna-lindqvist&status=free&_sort=start&_count=1');
const firstSlot = r.body.entry[0].resource;
const day = firstSlot.start.slice(0, 10);
const dayStart = firstSlot.start; // 08:00 local
const dayEnd = new Date(Date.parse(firstSlot.start) + 8 * 3600_000).toISOString(); // 16:00 local
check('PUT Slot -> 405', isOutcome(await fhir('PUT', `/Slot/${firstSlot.id}`, { ...firstSlot, status: 'busy' }), 405));
check('POST Slot -> 405', isOutcome(await fhir('POST', '/Slot', { ...firstSlot, id: undefined }), 405));
check('PATCH Slot -> 405', isOutcome(await fhir('PATCH', `/Slot/${firstSlot.id}`, [{ op: 'replace', path: '/status', value: 'busy' }], PATCH), 405));
check('DELETE Slot -> 405', isOutcome(await fhir('DELETE', `/Slot/${firstSlot.id}`), 405));
check('POST Appointment (plain create) -> 405', isOutcome(await fhir('POST', '/Appointment', { resourceType: 'Appointment', status: 'booked',
  participant: [{ actor: { reference: 'Patient/tolvan-tolvansson' }, status: 'accepted' }], start: firstSlot.start, end: firstSlot.end }), 405));

// --- $find
const findBody = (...extra) => params(['start', { valueDateTime: dayStart }], ['end', { valueDateTime: dayEnd }], ...extra);
r = await fhir('POST', '/Appointment/$find', findBody(['practitioner', { valueUri: 'Practitioner/anna-lindqvist' }],
  ['patient-reference', { valueUri: 'Patient/tolvan-tolvansson' }]));
let found = appts(r.body);
check('$find (POST Parameters): a searchset of 16 proposed Appointments for Anna that day, total 16',
  r.status === 200 && r.body.type === 'searchset' && r.body.total === 16 && found.length === 16 &&
  found.every((a, i) => a.status === 'proposed' && a.slot?.length === 1 && (i === 0 || a.start >= found[i - 1].start) &&
    a.participant.every((p) => p.status === 'needs-action') &&
    a.participant.some((p) => p.actor.reference === 'Practitioner/anna-lindqvist') &&
    a.participant.some((p) => p.actor.reference === 'Patient/tolvan-tolvansson') &&
    a.serviceType[0].coding[0].system === VISIT && a.requestedPeriod[0].start === dayStart),
  `${r.status} total=${r.body?.total} n=${found.length}`);
check('$find entries are search.mode match', r.body.entry.every((e) => e.search.mode === 'match'));
const proposedFirst = found[0];
r = await fhir('POST', '/Appointment/$find', findBody(['visit-type', { valueString: `${VISIT}|follow-up` }]));
const followUps = appts(r.body);
check('$find visit-type follow-up -> only Maria\'s slots', appts(r.body).length === 16 &&
  appts(r.body).every((a) => a.participant.some((p) => p.actor.reference === 'Practitioner/maria-oberg')));
r = await fhir('POST', '/Appointment/$find?_count=3', params(['startTime', { valueDateTime: dayStart }], ['endTime', { valueDateTime: dayEnd }]));
check('$find with Epic\'s startTime/endTime and _count=3', appts(r.body).length === 3 && r.body.total === 3, `${appts(r.body).length}`);
r = await get(`/Appointment/$find?start=${q(dayStart)}&end=${q(dayEnd)}&practitioner=Practitioner/erik-sandberg`);
check('$find with GET', appts(r.body).length === 16 && appts(r.body).every((a) => a.participant.some((p) => p.actor.reference === 'Practitioner/erik-sandberg')));
check('$find without end -> 400', isOutcome(await fhir('POST', '/Appointment/$find', params(['start', { valueDateTime: dayStart }])), 400));
r = await fhir('POST', '/Appointment/$find', params(['start', { valueDateTime: '2001-01-01T00:00:00Z' }], ['end', { valueDateTime: '2001-01-02T00:00:00Z' }]));
check('$find with nothing free -> total 0 and an OperationOutcome entry (mode outcome)',
  r.body.total === 0 && appts(r.body).length === 0 && outcomeOf(r.body)?.issue?.[0]?.severity === 'information');

// --- $book
r = await fhir('POST', `/Appointment/${proposedFirst.id}/$book`, params(['appt-id', { valueUri: `Appointment/${proposedFirst.id}` }],
  ['patient-id', { valueUri: 'Patient/tolvan-tolvansson' }], ['comment', { valueString: 'Ring vid förhinder' }]));
const bookedAppt = appts(r.body)[0];
check('$book (appt-id) -> 200, a Bundle with the booked Appointment, participants accepted',
  r.status === 200 && bookedAppt?.status === 'booked' && bookedAppt.slot[0].reference === proposedFirst.slot[0].reference &&
  bookedAppt.participant.every((p) => p.status === 'accepted') && bookedAppt.comment === 'Ring vid förhinder' &&
  outcomeOf(r.body)?.issue?.[0]?.severity === 'information', `${r.status} ${JSON.stringify(r.body)?.slice(0, 300)}`);
const slot1 = proposedFirst.slot[0].reference;
check('the booked slot is busy', (await get(`/${slot1}`)).body.status === 'busy');
check('the booked Appointment is readable and searchable', (await get(`/Appointment/${bookedAppt.id}`)).body?.status === 'booked' &&
  ids((await get(`/Appointment?patient=Patient/tolvan-tolvansson&date=ge${day}`)).body).includes(bookedAppt.id));
r = await fhir('POST', '/Appointment/$find', findBody(['practitioner', { valueUri: 'Practitioner/anna-lindqvist' }]));
check('$find no longer proposes the taken slot', appts(r.body).length === 15 && !appts(r.body).some((a) => a.slot[0].reference === slot1));
// book the same slot again through the second proposal for it (found before it was taken)
r = await fhir('POST', '/Appointment/$book', params(['appt-resource', { resource: found[0] }], ['patient-id', { valueUri: 'Patient/lars-strom' }]));
const rejected = appts(r.body)[0];
check('$book of a taken slot is refused: the Appointment comes back cancelled, participants declined, with an error OperationOutcome',
  r.status === 200 && rejected?.status === 'cancelled' && rejected.participant.every((p) => p.status === 'declined') &&
  outcomeOf(r.body)?.issue?.[0]?.severity === 'error' && outcomeOf(r.body).issue[0].code === 'conflict', `${r.status} ${JSON.stringify(r.body)?.slice(0, 300)}`);
check('... and no second Appointment exists for that slot',
  ids((await get(`/Appointment?patient=Patient/lars-strom`)).body).length === 0);
const second = found[1];
r = await fhir('POST', '/Appointment/$book', params(['appt-resource', { resource: second }], ['patient-id', { valueUri: 'Patient/lars-strom' }]));
const bookedB = appts(r.body)[0];
check('$book (appt-resource) -> 201 with Location .../_history/<version>', r.status === 201 && bookedB?.status === 'booked' &&
  r.headers.get('location') === `${base}/Appointment/${bookedB.id}/_history/${bookedB.meta.versionId}`, `${r.status} ${r.headers.get('location')}`);
check('$book without a patient (none in $find either) -> 400',
  isOutcome(await fhir('POST', `/Appointment/${followUps[0].id}/$book`, params(['appt-id', { valueUri: followUps[0].id }])), 400));
check('$book of an unknown proposal -> 404', isOutcome(await fhir('POST', '/Appointment/nope/$book', params(['patient-id', { valueUri: 'Patient/lars-strom' }])), 404));

const race = await Promise.all(['lars-strom', 'karin-akesson', 'sven-nystrom', 'tolvgren-anders'].map((patient) =>
  fhir('POST', `/Appointment/${found[6].id}/$book`, params(['patient-id', { valueUri: `Patient/${patient}` }]))));
const outcomes = race.map((x) => appts(x.body)[0]?.status);
check('4 concurrent $book of one proposal: one booked, the others refused (cancelled)',
  outcomes.filter((s) => s === 'booked').length === 1 && outcomes.filter((s) => s === 'cancelled').length === 3, outcomes.join());

// --- cancel (PATCH), reschedule ($book with cancelled-appt-id)
check('PATCH other than a cancellation -> 422', isOutcome(await fhir('PATCH', `/Appointment/${bookedAppt.id}`, [{ op: 'replace', path: '/comment', value: 'x' }], PATCH), 422));
check('PATCH as application/fhir+json -> 415', (await fhir('PATCH', `/Appointment/${bookedAppt.id}`, [{ op: 'replace', path: '/status', value: 'cancelled' }])).status === 415);
check('PUT Appointment -> 405', isOutcome(await fhir('PUT', `/Appointment/${bookedAppt.id}`, bookedAppt), 405));
r = await fhir('PATCH', `/Appointment/${bookedAppt.id}`, [{ op: 'replace', path: '/status', value: 'cancelled' }], PATCH);
check('PATCH replace /status cancelled -> 200 with the cancelled Appointment, patient declined, Location _history',
  r.status === 200 && r.body.status === 'cancelled' &&
  r.body.participant.find((p) => p.actor.reference.startsWith('Patient/')).status === 'declined' &&
  r.headers.get('location') === `${base}/Appointment/${bookedAppt.id}/_history/${r.body.meta.versionId}`, `${r.status}`);
check('cancelling frees the slot', (await get(`/${slot1}`)).body.status === 'free');
r = await fhir('POST', '/Appointment/$find', findBody(['practitioner', { valueUri: 'Practitioner/anna-lindqvist' }]));
const again = appts(r.body);
check('$find proposes the freed slot again', again.some((a) => a.slot[0].reference === slot1));
r = await fhir('POST', '/Appointment/$book', params(['appt-id', { valueUri: `Appointment/${again[5].id}` }],
  ['patient-id', { valueUri: 'Patient/lars-strom' }], ['cancelled-appt-id', { valueUri: `Appointment/${bookedB.id}` }]));
check('$book with cancelled-appt-id reschedules: old cancelled and its slot free, new booked',
  appts(r.body)[0]?.status === 'booked' && (await get(`/Appointment/${bookedB.id}`)).body.status === 'cancelled' &&
  (await get(`/${second.slot[0].reference}`)).body.status === 'free', `${r.status}`);

// --- control endpoints
const slotX = again[8];
r = await control(`/__control/ehr/book?slot=${slotX.slot[0].reference.split('/')[1]}&patient=karin-akesson`);
const ehrAppt = r.body.appointment;
r = await fhir('POST', `/Appointment/${slotX.id}/$book`, params(['patient-id', { valueUri: 'Patient/lars-strom' }]));
check('a slot the clinic booked itself (ehr/book) is refused by $book', appts(r.body)[0]?.status === 'cancelled');
const before = (await get(`/Appointment/${ehrAppt}`)).body;
await new Promise((resolve) => setTimeout(resolve, 5));
await control(`/__control/ehr/appointment-status?id=${ehrAppt}&status=noshow`);
const after = (await get(`/Appointment/${ehrAppt}`)).body;
check('ehr/appointment-status: new version and later lastUpdated', after.status === 'noshow' &&
  after.meta.versionId !== before.meta.versionId && after.meta.lastUpdated > before.meta.lastUpdated);
r = await get(`/Appointment?_lastUpdated=gt${before.meta.lastUpdated}`);
check('... found by _lastUpdated (default search semantics)', ids(r.body).includes(ehrAppt), ids(r.body).join());
await control('/__control/requests/clear');
await get('/Patient/lars-strom');
check('requests log works', (await control('/__control/requests', 'GET')).body.length === 1);
await control('/__control/reset');
check('reset reloads the seed', (await get(`/${slot1}`)).body.status === 'free' && (await get(`/Appointment/${bookedB.id}`)).status === 404);

process.exit(summary() ? 1 : 0);
