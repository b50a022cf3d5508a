// Profile "epic": an Epic-style scheduling server. Epic's own specifications (fhir.epic.com) are
// not public source; Epic's Appointment $find/$book follow the Argonaut Scheduling IG, which is
// imitated here as published in github:argonautproject/scheduling (commit b498744, 2018-04-09).
// Citations name a file in that repository ("IG <path>") and the part imitated; "SO 71430024" is
// stackoverflow.com/questions/71430024 (a request to Epic's $find, for Epic's parameter names).
// Everything but scheduling behaves as the default profile.
import { randomUUID } from 'node:crypto';
import { fail, findAll, ifMatchVersion, readOrNull, refId, replying } from './common.mjs';
import { defaultSave, ehrControl } from './ehr-control.mjs';
import { appointmentForSlot, releaseSlots, slotActors } from './scheduling.mjs';
import { vendorSeed } from './vendor-seed.mjs';

const IG = 'http://fhir.org/guides/argonaut-scheduling';
export const VISIT_TYPE_SYSTEM = `${IG}/CodeSystem/visit-type`; // IG docs/CodeSystem-visit-type.json
// The seeded services as Argonaut visit types (IG CodeSystem visit-type: office-visit, follow-up).
export const VISIT_TYPES = { 'tolvan-general': ['office-visit', 'OFFICE VISIT'], 'tolvan-follow-up': ['follow-up', 'FOLLOW UP'] };
const ARGO_APPT = `${IG}/StructureDefinition/argo-appt`;
const FIND_MAX = 50; // Peer choice: "limits imposed by local business rules" (IG $find start/end docs) -- at most 50 proposals

function epicSeed(resources) {
  return vendorSeed(resources, {
    serviceCoding: (serviceId) => ({ system: VISIT_TYPE_SYSTEM, code: VISIT_TYPES[serviceId][0], display: VISIT_TYPES[serviceId][1] }),
  });
}

/** The value of a Parameters.parameter, whatever its value[x] (or resource). */
const valueOf = (p) => p.resource ?? p[Object.keys(p).find((k) => k.startsWith('value'))];

/** {name: [values]} from a Parameters body, or from the query string for GET. */
function operationParams(req, url, body) {
  const out = {};
  if (req.method === 'GET') {
    for (const [k, v] of url.searchParams.entries()) (out[k] ??= []).push(v);
    return out;
  }
  if (body?.resourceType !== 'Parameters') fail(400, 'invalid', 'The body must be a Parameters resource');
  for (const p of body.parameter ?? []) {
    const v = valueOf(p);
    (out[p.name] ??= []).push(...(Array.isArray(v) ? v : [v])); // (the IG's examples put arrays in valueUri/valueString)
  }
  return out;
}

const asReference = (v) => (typeof v === 'string' ? v : v?.reference);
/** Tokens "system|code" from strings, Codings or CodeableConcepts. */
const asTokens = (v) => {
  if (typeof v === 'string') return [v];
  if (v?.coding) return v.coding.map((c) => `${c.system ?? ''}|${c.code}`);
  if (v?.code) return [`${v.system ?? ''}|${v.code}`];
  return [];
};
const codingMatches = (tokens, codings) => tokens.some((t) => {
  const [system, code] = t.includes('|') ? t.split('|') : ['', t];
  return codings.some((c) => c.code === code && (!system || c.system === system));
});

export function createProfile() {
  // id -> {slotId, requestedPeriod, patient}: the "temporary appointments" of $find. They stay after a
  // $book, so booking one twice meets the rejection below rather than a 404 (peer choice).
  const proposals = new Map();
  const save = defaultSave;

  const bundle = (entries, total) => ({ resourceType: 'Bundle', id: randomUUID(), type: 'searchset', total, entry: entries });
  const matchEntry = (origin, resource) => ({ fullUrl: `${origin}/Appointment/${resource.id}`, resource, search: { mode: 'match' } });
  // IG docs/StructureDefinition-avail-bundle.json: an OperationOutcome entry has search.mode "outcome"
  const outcomeEntry = (issues) => ({ fullUrl: `urn:uuid:${randomUUID()}`, resource: { resourceType: 'OperationOutcome', issue: issues }, search: { mode: 'outcome' } });
  const issue = (severity, code, text) => ({ severity, code, details: { text } });

  async function proposedAppointment(repo, slot, p) {
    // IG docs/state-diagram.html step 3: "available appointments created status = proposed, participant.status = needs-action";
    // IG source/examples/proposed-appt1a-1.xml: serviceType, start, end, participants, requestedPeriod.
    const appointment = await appointmentForSlot(repo, slot, p.patient, { status: 'proposed', participantStatus: 'needs-action' });
    return { ...appointment, id: p.id, meta: { profile: [ARGO_APPT] }, requestedPeriod: [p.requestedPeriod] };
  }

  // IG docs/OperationDefinition-appointment-find.json; usage "GET [base]/Appointment/$find?{parameters}" and
  // "POST [base]/Appointment/$find" (IG source/pages/patient-scheduling.md "Appointment Availability Discovery and Search")
  async function find(ctx) {
    const { req, url, body, repo, origin } = ctx;
    const params = operationParams(req, url, body);
    const one = (...names) => names.map((n) => params[n]?.[0]).find((v) => v !== undefined);
    // start and end are 1..1 in the OperationDefinition; startTime/endTime are Epic's names (SO 71430024).
    const start = one('start', 'startTime');
    const end = one('end', 'endTime');
    if (!start || !end) fail(400, 'required', '$find needs start and end');
    const [lo, hi] = [Date.parse(start), Date.parse(end)];
    if (Number.isNaN(lo) || Number.isNaN(hi) || lo >= hi) fail(400, 'invalid', 'start and end must be dateTimes with start before end');
    const practitioners = (params.practitioner ?? []).map(asReference).map((r) => `Practitioner/${refId(r, 'Practitioner')}`);
    const locations = (params['location-reference'] ?? []).map(asReference).map((r) => `Location/${refId(r, 'Location')}`);
    // visit-type is the IG's name; service-type is Epic's (SO 71430024)
    const types = [...(params['visit-type'] ?? []), ...(params['service-type'] ?? [])].flatMap(asTokens);
    const patientRef = asReference(params['patient-reference']?.[0]);
    const patient = patientRef ? `Patient/${refId(patientRef, 'Patient')}` : undefined;
    if (patient && !(await readOrNull(repo, 'Patient', patient.slice(8)))) fail(400, 'invalid', `Unknown ${patient}`);
    const issues = [];
    for (const name of ['specialty', 'organization', 'location-string', 'patient-resource', 'patient', 'coverage', 'reason']) {
      // IG $find "return": the Bundle "may also contain an OperationOutcome with errors, warnings or information"
      if (params[name]) issues.push(issue('information', 'not-supported', `Parameter ${name} was not used to narrow the search`));
    }
    const count = Math.min(Number(url.searchParams.get('_count') ?? one('_count') ?? FIND_MAX) || FIND_MAX, FIND_MAX);

    let slots = (await findAll(repo, 'Slot', { status: 'free' }))
      .filter((s) => Date.parse(s.start) >= lo && Date.parse(s.end) <= hi);
    if (types.length) slots = slots.filter((s) => codingMatches(types, (s.serviceType ?? []).flatMap((t) => t.coding ?? [])));
    const proposed = [];
    for (const slot of slots.sort((a, b) => Date.parse(a.start) - Date.parse(b.start) || a.id.localeCompare(b.id))) {
      if (proposed.length >= count) break;
      const { practitioner, location } = await slotActors(repo, slot);
      if (practitioners.length && !practitioners.includes(practitioner?.reference)) continue;
      if (locations.length && !locations.includes(location?.reference)) continue;
      const p = { id: `proposed-${randomUUID()}`, slotId: slot.id, requestedPeriod: { start, end }, patient };
      proposals.set(p.id, p);
      proposed.push(await proposedAppointment(repo, slot, p));
    }
    while (proposals.size > 5000) proposals.delete(proposals.keys().next().value);
    // IG avail-bundle: total 1..1, entry 1..* -- an empty result still carries an OperationOutcome
    if (!proposed.length) issues.push(issue('information', 'not-found', 'No appointments are available for these parameters'));
    const entries = proposed.map((a) => matchEntry(origin, a));
    if (issues.length) entries.push(outcomeEntry(issues));
    return [200, bundle(entries, proposed.length)];
  }

  // IG source/pages/_includes/appointment-book.md: "POST [base]/Appointment/[id]/$book when using appt-id",
  // "POST [base]/Appointment/$book when using appt-resource"; IG docs/OperationDefinition-appointment-book.json.
  async function book(ctx) {
    const { body, repo, origin, id } = ctx;
    const instance = id && !id.startsWith('$') ? id : undefined;
    // IG appt-book-resource.md also shows a bare Appointment as the request body.
    const params = body?.resourceType === 'Appointment' ? { 'appt-resource': [body] } : operationParams(ctx.req, ctx.url, body);
    const apptId = instance ?? refId(asReference(params['appt-id']?.[0]), 'Appointment');
    const resource = params['appt-resource']?.[0];
    if (!apptId && !resource) fail(400, 'required', '$book needs appt-id or appt-resource');
    let proposal;
    let slotId;
    let patient = params['patient-id']?.[0] ? `Patient/${refId(asReference(params['patient-id'][0]), 'Patient')}` : undefined;
    if (apptId) {
      proposal = proposals.get(apptId);
      if (!proposal) fail(404, 'not-found', `No proposed Appointment/${apptId} (from $find)`);
      slotId = proposal.slotId;
      patient ??= proposal.patient;
    } else {
      if (resource.resourceType !== 'Appointment') fail(400, 'invalid', 'appt-resource must be an Appointment');
      slotId = refId(resource.slot?.[0]?.reference, 'Slot') ?? proposals.get(resource.id)?.slotId;
      patient ??= resource.participant?.map((p) => p.actor?.reference).find((r) => r?.startsWith('Patient/'));
      if (!slotId) {
        // no slot reference: the free-or-busy slot of the practitioner participant at that start
        const practitioner = resource.participant?.map((p) => p.actor?.reference).find((r) => r?.startsWith('Practitioner/'));
        const candidates = await findAll(repo, 'Slot', { start: `eq${resource.start}` });
        for (const s of candidates) {
          if ((await slotActors(repo, s)).practitioner?.reference === practitioner) slotId = s.id;
        }
      }
    }
    if (!patient) fail(400, 'required', 'A patient is required: patient-id, or a Patient participant');
    if (!(await readOrNull(repo, 'Patient', patient.slice(8)))) fail(422, 'business-rule', `Unknown ${patient}`);
    const slot = await readOrNull(repo, 'Slot', slotId);
    if (!slot) fail(422, 'business-rule', 'The appointment does not match a known slot');
    // IG docs/OperationDefinition-appointment-book.json parameter "comment" (0..1 string, "Comments or special
    // instructions"): kept as Appointment.comment. Appointment.comment inside appt-resource is not read (the IG
    // names the parameter as the place for it).
    const comment = params.comment?.[0];

    if (slot.status !== 'free') {
      // IG docs/OperationDefinition-appointment-book.json "return": "If the booking is rejected, the Appointment
      // resource will have an updated status of cancelled"; IG docs/state-diagram.html step 6r: status cancelled,
      // participant.status declined. The HTTP status is not specified: the peer answers 200 with that Bundle.
      const rejected = await proposedAppointment(repo, slot, proposal ?? { id: resource?.id ?? `proposed-${randomUUID()}`, requestedPeriod: { start: slot.start, end: slot.end }, patient });
      rejected.status = 'cancelled';
      for (const p of rejected.participant) p.status = 'declined';
      return [200, bundle([matchEntry(origin, rejected), outcomeEntry([issue('error', 'conflict', `The slot is no longer available (Slot/${slot.id} is ${slot.status})`)])], 1)];
    }

    // IG cancelled-appt-id: "rescheduling is two step process of cancelling an appointment and rebooking a new appointment"
    const cancelledId = refId(asReference(params['cancelled-appt-id']?.[0]), 'Appointment');
    if (cancelledId) {
      const old = await readOrNull(repo, 'Appointment', cancelledId);
      if (!old) fail(404, 'not-found', `No Appointment/${cancelledId} to cancel`);
      await cancel(repo, old);
    }
    // IG state-diagram.html step 8: status booked, participant.status accepted; slot busy (step 6)
    const appointment = await save(repo, await appointmentForSlot(repo, slot, patient, {
      extra: { meta: { profile: [ARGO_APPT] }, ...(comment ? { comment } : {}), requestedPeriod: [proposal?.requestedPeriod ?? { start: slot.start, end: slot.end }] },
    }));
    await save(repo, { ...slot, status: 'busy' });
    const out = bundle([matchEntry(origin, appointment), outcomeEntry([issue('information', 'informational', 'Appointment booked')])], 1);
    // IG appt-book-id.md answers 200 OK; appt-book-resource.md answers 201 Created with Location .../_history/1
    if (apptId) return [200, out];
    return [201, out, { Location: `${origin}/Appointment/${appointment.id}/_history/${appointment.meta.versionId}` }];
  }

  async function cancel(repo, appointment) {
    // IG docs/state-diagram.html steps 9c/10c: patient participant declined, appointment cancelled, slot free
    const next = structuredClone(appointment);
    next.status = 'cancelled';
    for (const p of next.participant ?? []) if (p.actor?.reference?.startsWith('Patient/')) p.status = 'declined';
    await releaseSlots(repo, next, save);
    return save(repo, next);
  }

  // IG source/pages/patient-scheduling.md "Canceling/Rescheduling Appointments": "To cancel an appointment the
  // Client uses the standard FHIR PATCH"; IG cancel-examples.md: JSON Patch replace /status cancelled.
  async function patchAppointment(ctx) {
    const { req, body, repo, id, origin } = ctx;
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json-patch+json') fail(415, 'not-supported', 'PATCH needs Content-Type application/json-patch+json (JSON Patch)');
    const current = await readOrNull(repo, 'Appointment', id);
    if (!current) fail(404, 'not-found', `Appointment/${id} not found`);
    const wanted = ifMatchVersion(req);
    if (wanted !== undefined && wanted !== current.meta.versionId) fail(412, 'precondition-failed', 'Stale If-Match'); // FHIR R4 http.html "Managing Resource Contention"
    if (!Array.isArray(body)) fail(400, 'invalid', 'The body must be a JSON Patch array');
    const status = body.find((o) => o.op === 'replace' && o.path === '/status');
    const others = body.filter((o) => o !== status && !(['add', 'replace'].includes(o.op) && o.path === '/cancelationReason'));
    // Peer choice: the IG documents only cancellation through PATCH; other changes are refused.
    if (status?.value !== 'cancelled' || others.length) fail(422, 'business-rule', 'Only cancellation (replace /status cancelled) is supported');
    const reason = body.find((o) => o.path === '/cancelationReason');
    const saved = await cancel(repo, reason ? { ...current, cancelationReason: reason.value } : current);
    // IG cancel-examples.md response: 200 OK with Location [base]/Appointment/<id>/_history/<version>
    return [200, saved, {
      ETag: `W/"${saved.meta.versionId}"`,
      'Last-Modified': new Date(saved.meta.lastUpdated).toUTCString(),
      Location: `${origin}/Appointment/${saved.id}/_history/${saved.meta.versionId}`,
    }];
  }

  async function handle(ctx) {
    const { req, type, id, op } = ctx;
    const m = req.method;
    if (type === 'Appointment' && id === '$find' && !op) {
      if (m !== 'GET' && m !== 'POST') fail(405, 'not-supported', '$find is GET or POST');
      return find(ctx);
    }
    if (type === 'Appointment' && m === 'POST' && (id === '$book' || op === '$book')) return book(ctx);
    // IG docs/CapabilityStatement-server.json: Slot is not writable through this API (read/search only here);
    // Appointment interactions are read, search-type and patch -- booking goes through $book.
    if (type === 'Slot' && m !== 'GET') fail(405, 'not-supported', `${m} is not supported for Slot; slots change only by booking`);
    if (type === 'Appointment' && m === 'PATCH' && id && !op) return patchAppointment(ctx);
    if (type === 'Appointment' && m !== 'GET' && !(m === 'POST' && id === '_search')) {
      fail(405, 'not-supported', `${m} is not supported for Appointment; use $find and $book, and PATCH to cancel`);
    }
    return undefined; // everything else: the default profile
  }

  function capabilityStatement({ base }) {
    const cs = structuredClone(base);
    cs.software = { name: `${base.software.name}, profile epic (Argonaut Scheduling)` };
    cs.patchFormat = ['application/json-patch+json'];
    cs.instantiates = [`${IG}/CapabilityStatement/server`];
    for (const r of cs.rest[0].resource) {
      if (r.type === 'Slot') {
        r.interaction = [{ code: 'read' }, { code: 'search-type' }];
        delete r.conditionalCreate;
      }
      if (r.type === 'Appointment') {
        r.interaction = [{ code: 'read' }, { code: 'search-type' }, { code: 'patch' }];
        delete r.conditionalCreate;
        // IG docs/CapabilityStatement-server.json rest.operation: find, book (hold and prefetch are not imitated)
        r.operation = [
          { name: 'find', definition: `${IG}/OperationDefinition/appointment-find` },
          { name: 'book', definition: `${IG}/OperationDefinition/appointment-book` },
        ];
      }
    }
    return cs;
  }

  return {
    name: 'epic',
    seed: epicSeed,
    handle: (ctx) => replying(() => handle(ctx)),
    capabilityStatement,
    control: ehrControl(save),
    reset() {
      proposals.clear();
    },
  };
}

