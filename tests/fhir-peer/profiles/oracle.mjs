// Profile "oracle": imitates Oracle Health (Cerner) Millennium R4 as documented in
// github:cerner/fhir.cerner.com (read at commit 3d33831, 2024-05-02). Citations below name a file
// under that repository and the section imitated; "CS" is the documented CapabilityStatement,
// lib/resources/example_json/r4_examples_capabilitystatement.rb (R4_AUTH_METADATA).
// Where the documents are silent the choice is marked "peer choice".
import { randomUUID } from 'node:crypto';
import {
  Cursors, Reply, fail, findAll, ifMatchVersion, instantMatches, parseDateValue, readOrNull, refId, replying,
} from './common.mjs';
import { ehrControl } from './ehr-control.mjs';
import { SCHEDULING_LOCATION, appointmentForSlot, releaseSlots, slotIdsOf } from './scheduling.mjs';
import { vendorSeed } from './vendor-seed.mjs';

// Proprietary appointment-type codes (Millennium code set 14249) of the two seeded services.
// r4/base/workflow/slot.md "Search" notes: proprietary service-type system is
// https://fhir.cerner.com/<EHR source id>/codeSet/14249; the tenant id here is made up.
export const SERVICE_TYPE_SYSTEM = 'https://fhir.cerner.com/vardbro-peer/codeSet/14249';
export const SERVICE_TYPE_CODES = { 'tolvan-general': '3000101', 'tolvan-follow-up': '3000102' };
const EXT = 'https://fhir-ehr.cerner.com/r4/StructureDefinition/';
const US_CORE_CATEGORY = 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category';
const NOTE_TYPES = 'https://fhir.cerner.com/vardbro-peer/codeSet/72'; // r4 document-reference example: type codeSet/72

// --- seed ------------------------------------------------------------------------------------

const ehrNote = (id, date, loinc, loincDisplay, localCode, title, author, html) => [
  {
    // r4/foundation/documents/document-reference.md "Overview": clinical notes the EHR wrote itself,
    // US Core category clinical-note, a proprietary type (code set 72) with a LOINC mapping, the
    // content behind attachment.url to Binary (examples in r4_examples_document_reference.rb).
    resourceType: 'DocumentReference',
    id,
    meta: { versionId: '1' },
    identifier: [{ system: 'https://fhir.cerner.com/ceuuid', value: `CE-peer-${id}` }],
    status: 'current',
    docStatus: 'final',
    type: {
      coding: [
        { system: NOTE_TYPES, code: localCode, display: title, userSelected: true },
        { system: 'http://loinc.org', code: loinc, display: loincDisplay, userSelected: false },
      ],
      text: title,
    },
    category: [{ coding: [{ system: US_CORE_CATEGORY, code: 'clinical-note', display: 'Clinical Note' }], text: 'Clinical Note' }],
    subject: { reference: 'Patient/tolvan-tolvansson', display: 'Tolvansson, Tolvan' },
    date,
    author: [{ reference: `Practitioner/${author}` }],
    authenticator: { reference: `Practitioner/${author}` },
    custodian: { reference: 'Organization/tolvan-org' },
    content: [{
      attachment: { contentType: 'text/html', url: `Binary/XR-${id}`, title, creation: date },
      format: { system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'unknown', display: 'Unknown' },
    }],
    context: { period: { start: date, end: date } },
  },
  {
    resourceType: 'Binary',
    id: `XR-${id}`,
    meta: { versionId: '1' },
    contentType: 'text/html',
    data: Buffer.from(`<html><body><p>${html}</p></body></html>`).toString('base64'),
  },
];

function oracleSeed(resources) {
  const seeded = vendorSeed(resources, {
    serviceCoding: (serviceId) => ({ system: SERVICE_TYPE_SYSTEM, code: SERVICE_TYPE_CODES[serviceId], userSelected: true }),
    // r4/base/workflow/slot.md "Extensions": scheduling-location, the Location the slot can be booked at.
    slot: () => ({ extension: [{ url: SCHEDULING_LOCATION, valueReference: { reference: 'Location/tolvan' } }] }),
    // r4/base/entities/location.md "Search": -physicalType is the documented way to list locations.
    location: () => ({
      physicalType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/location-physical-type', code: 'bu', display: 'Building' }] },
    }),
    extra: [
      ...ehrNote('198400001', '2026-10-14T09:30:00Z', '11506-3', 'Progress note', '2820501', 'Progress Note Physician',
        'anna-lindqvist', 'Follow-up of hypertension; blood pressure 128/82.'),
      ...ehrNote('198400002', '2026-11-02T13:05:00Z', '34117-2', 'History and physical note', '2820507', 'History and Physical',
        'erik-sandberg', 'Annual check-up; no remarks.'),
    ],
  });
  // Millennium version ids are small integers (ETag W/"0" after create, r4/base/workflow/appointment.md "Create").
  return seeded.map((r) => ({ ...r, meta: { versionId: '1', ...r.meta } }));
}

// --- versions --------------------------------------------------------------------------------

let nextId = 20000001;

/** Stores a version: integer version ids ("0" on create, +1 per change) as Millennium's ETags show. */
async function save(repo, resource, { firstVersion = '0' } = {}) {
  const current = resource.id ? await readOrNull(repo, resource.resourceType, resource.id) : null;
  const copy = structuredClone(resource);
  if (!copy.id) copy.id = String(nextId++); // Millennium ids are numeric (every example)
  const previous = Number(current?.meta?.versionId);
  copy.meta = {
    ...(copy.meta ?? {}),
    versionId: current ? String(Number.isInteger(previous) ? previous + 1 : 1) : firstVersion,
    lastUpdated: new Date().toISOString(),
  };
  return repo.createResource(copy); // MemoryRepository keeps a given id and version, and records history
}

const versionHeaders = (resource) => ({
  ETag: `W/"${resource.meta.versionId}"`,
  'Last-Modified': new Date(resource.meta.lastUpdated).toUTCString(),
});

/** r4.md "Client Errors" 6: an out-of-date version -> 409; appointment.md "Errors": no If-Match -> 412. */
function checkVersion(req, current) {
  const wanted = ifMatchVersion(req);
  if (wanted === undefined) fail(412, 'precondition-failed', 'The If-Match header is required');
  if (wanted !== current.meta?.versionId) fail(409, 'conflict', `Version ${wanted} is not the current version ${current.meta?.versionId}`);
}

/** r4.md "Operation Outcomes" Create/Update: modifier extensions and implicit rules -> 422. */
function rejectModifiers(body) {
  if (body.implicitRules) fail(422, 'not-supported', 'implicitRules is not supported');
  const modifier = JSON.stringify(body).includes('"modifierExtension"');
  if (modifier) fail(422, 'extension', 'modifierExtension is not supported');
}

const businessRule = (text) => fail(422, 'business-rule', text); // r4.md "Client Errors" 7

// --- search ----------------------------------------------------------------------------------

const maxCountEnv = () => {
  const v = process.env.FHIR_PEER_MAX_COUNT;
  return v && /^\d+$/.test(v) && Number(v) > 0 ? Number(v) : undefined;
};

const NO_PARAMS = 'no supported search parameters provided'; // r4.md "Client Errors" 1

/** Parses the query into {name: [{modifier, value}]}; refuses what the profile does not support. */
function parseQuery(url, spec) {
  const params = {};
  for (const [key, value] of url.searchParams.entries()) {
    // Peer choice (the brief): _offset is not a Millennium parameter and is ignored, so a client
    // that builds its own paging URLs gets the first page again. r4.md "Pagination": follow the links.
    if (key === '_offset' || key === '_format') continue;
    // No Millennium R4 resource documents _sort (no search table has it): refused.
    if (key === '_sort') fail(400, 'not-supported', '_sort is not supported');
    const [name, modifier] = key.split(':');
    if (!spec.params[name]) fail(400, 'not-supported', `Unsupported search parameter: ${key}`);
    if (modifier && !(spec.modifiers?.[name] ?? []).includes(modifier)) fail(400, 'not-supported', `Unsupported modifier: ${key}`);
    (params[name] ??= []).push({ modifier, value });
  }
  return params;
}

const onlyOnce = (params, names) => {
  for (const name of names) {
    if ((params[name]?.length ?? 0) > 1) fail(400, 'invalid', `${name} may be provided only once`);
  }
};
const singleValue = (params, names) => {
  for (const name of names) {
    if (params[name]?.some((p) => p.value.includes(','))) fail(400, 'invalid', `${name} may have only a single value`);
  }
};
const has = (params, name) => (params[name]?.length ?? 0) > 0;
const values = (params, name) => (params[name] ?? []).flatMap((p) => p.value.split(','));
/** The query object for findAll from the given params (modifiers kept). */
const passThrough = (params, names) => {
  const q = {};
  for (const name of names) {
    for (const { modifier, value } of params[name] ?? []) (q[modifier ? `${name}:${modifier}` : name] ??= []).push(value);
  }
  return q;
};

function parseDates(params, name, { requireTime = false } = {}) {
  return (params[name] ?? []).map(({ value }) => {
    const d = parseDateValue(value);
    if (!d) fail(400, 'invalid', `Invalid ${name}: ${value}`);
    if (requireTime && !d.hasTime) fail(400, 'invalid', `${name} must have a time component: ${value}`);
    return d;
  });
}

/** Two occurrences that form a closed range with the given prefixes (e.g. ge + lt). */
function closedRange(dates, name, lower, upper) {
  const prefixes = dates.map((d) => d.prefix).sort();
  const ok = dates.length === 2 && lower.some((l) => prefixes.includes(l)) && upper.some((u) => prefixes.includes(u));
  if (!ok) fail(400, 'invalid', `${name} must be given twice, with ${lower.join('/')} and ${upper.join('/')} prefixes`);
}

const tokenMatches = (wanted, codings) => wanted.some((w) => {
  const [system, code] = w.includes('|') ? w.split('|') : [undefined, w];
  return codings.some((c) => c.code === code && (system === undefined || c.system === system));
});

const SEARCH = {
  // r4/base/individuals/patient.md "Search" (+ CS Patient)
  Patient: {
    defaultCount: 20, // "_count ... Defaults to 20"
    total: true, // the documented search Bundle carries total (R4_PATIENT_BUNDLE)
    params: {
      _id: 'token', identifier: 'token', name: 'string', family: 'string', given: 'string', birthdate: 'date',
      phone: 'token', email: 'token', 'address-postalcode': 'string', gender: 'token', _count: 'number', _revinclude: 'special',
    },
    modifiers: { name: ['exact'], family: ['exact'], given: ['exact'] }, // "support the :exact modifier"
    uncounted: ['_id', 'identifier'], // CS: "_count ... Not honoured when '_id' or 'identifier' are set"
    async run(params, repo) {
      const anyOf = ['_id', 'identifier', 'name', 'family', 'given', 'birthdate', 'phone', 'email', 'address-postalcode'];
      if (!anyOf.some((n) => has(params, n))) fail(400, 'required', NO_PARAMS);
      const single = ['identifier', 'name', 'family', 'given', 'phone', 'email', 'address-postalcode', 'gender'];
      onlyOnce(params, [...single, 'birthdate']); // "may be provided exactly once and may have only a single value"
      singleValue(params, single);
      for (const d of parseDates(params, 'birthdate')) {
        if (d.hasTime) fail(400, 'invalid', 'birthdate must not have a time component');
        if (!['ge', 'le', 'gt', 'lt', 'eq'].includes(d.prefix)) fail(400, 'invalid', `Unsupported birthdate prefix ${d.prefix}`);
      }
      for (const v of values(params, 'identifier')) {
        if (!v.split('|').pop()) fail(400, 'invalid', 'identifier requires a code'); // "Requires a code, but the system is optional"
      }
      for (const { value } of params._revinclude ?? []) {
        if (value !== 'Provenance:target') fail(400, 'not-supported', `Unsupported _revinclude: ${value}`);
      }
      const found = await findAll(repo, 'Patient', passThrough(params, anyOf.concat('gender')));
      // "A 422 Unprocessable Content status code is returned when more than 1,000 patients qualify"
      if (found.length > 1000) fail(422, 'too-costly', 'More than 1,000 patients qualify; refine the search');
      return found;
    },
  },
  // r4/base/individuals/practitioner.md "Search" (+ CS Practitioner)
  Practitioner: {
    defaultCount: 20, // peer choice: the document gives no default
    params: { _id: 'token', identifier: 'token', family: 'string', name: 'string', active: 'token', given: 'string', _count: 'number' },
    uncounted: ['_id'],
    async run(params, repo) {
      if (!['_id', 'identifier', 'family', 'name', 'active'].some((n) => has(params, n))) fail(400, 'required', NO_PARAMS);
      for (const v of values(params, 'identifier')) {
        const [system, code] = v.split('|');
        if (!v.includes('|') || !system || !code) fail(400, 'invalid', 'identifier must include both a system and a code');
      }
      if (has(params, 'given') && !has(params, 'family')) fail(400, 'invalid', 'given requires family');
      if (values(params, 'name').some((v) => v.length < 2)) fail(400, 'invalid', 'name must have at least two characters');
      return findAll(repo, 'Practitioner', passThrough(params, ['_id', 'identifier', 'family', 'name', 'active', 'given']));
    },
  },
  // r4/base/entities/location.md "Search" (+ CS Location)
  Location: {
    defaultCount: 100, // "Default: 100"
    params: {
      _id: 'token', '-physicalType': 'token', type: 'token', identifier: 'token', _count: 'number', address: 'string',
      'address-city': 'string', 'address-state': 'string', 'address-postalcode': 'string', name: 'string', organization: 'reference',
    },
    async run(params, repo) {
      if (!['_id', '-physicalType', 'type'].some((n) => has(params, n))) fail(400, 'required', NO_PARAMS);
      if (has(params, 'address-city') && !has(params, 'address-state') && !has(params, 'address-postalcode')) {
        fail(400, 'invalid', 'address-city requires address-state or address-postalcode');
      }
      const narrowing = ['-physicalType', 'identifier', 'address', 'address-state', 'address-city', 'address-postalcode'];
      if ((has(params, 'name') || has(params, 'organization')) && !narrowing.some((n) => has(params, n))) {
        fail(400, 'invalid', `name and organization require one of ${narrowing.join(', ')}`);
      }
      const found = await findAll(repo, 'Location', passThrough(params, ['_id', 'type', 'identifier', 'address', 'address-city',
        'address-state', 'address-postalcode', 'name', 'organization']));
      const physical = values(params, '-physicalType');
      return physical.length ? found.filter((l) => tokenMatches(physical, l.physicalType?.coding ?? [])) : found;
    },
  },
  // r4/base/entities/organization.md "Search": no parameter is required ("will return all ... paginated")
  Organization: {
    defaultCount: 100, // "Defaults to 100"
    params: { _id: 'token', identifier: 'token', type: 'token', _count: 'number', name: 'string', address: 'string' },
    run: (params, repo) => findAll(repo, 'Organization', passThrough(params, ['_id', 'identifier', 'type', 'name', 'address'])),
  },
  // r4/base/workflow/schedule.md "Search": _id is the only (and a required) parameter
  Schedule: {
    defaultCount: 20, // peer choice
    params: { _id: 'token' },
    async run(params, repo) {
      if (!has(params, '_id')) fail(400, 'required', NO_PARAMS);
      return findAll(repo, 'Schedule', passThrough(params, ['_id']));
    },
  },
  // r4/base/workflow/slot.md "Search" (+ CS Slot)
  Slot: {
    defaultCount: 50, // CS Slot _count: "If no value is provided, a default page size of 50 will be used"
    minCount: 5, // CS Slot _count: "This value should be in the range [5,200]"
    maxCount: 200,
    params: { _id: 'token', 'service-type': 'token', 'schedule.actor': 'reference', '-location': 'reference', start: 'date', _count: 'number', _include: 'special' },
    async run(params, repo) {
      if (!has(params, '_id') && !has(params, 'service-type')) fail(400, 'required', NO_PARAMS); // "service-type is a required search parameter when _id is not provided"
      onlyOnce(params, ['service-type', 'schedule.actor', '-location']); // "may be included only once"
      const starts = parseDates(params, 'start', { requireTime: true }); // CS: "Time component should be provided"
      if (['service-type', '-location', 'schedule.actor'].some((n) => has(params, n)) || starts.length) {
        // "The start parameter must be provided when service-type, -location, or schedule.actor is provided"
        // "both the prefixes ge and lt must be used to indicate a specific range"
        closedRange(starts, 'start', ['ge'], ['lt']);
      }
      for (const { value } of params._include ?? []) {
        if (!['Slot:schedule', 'Schedule:actor:Practitioner'].includes(value)) fail(400, 'not-supported', `Unsupported _include: ${value}`);
      }
      // "The search operation will only return free slots ... booked slots may still be retrieved when using the _id parameter."
      let slots = has(params, '_id')
        ? await findAll(repo, 'Slot', { _id: values(params, '_id').join(',') })
        : await findAll(repo, 'Slot', { status: 'free' });
      const types = values(params, 'service-type');
      if (types.length) slots = slots.filter((s) => tokenMatches(types, (s.serviceType ?? []).flatMap((t) => t.coding ?? [])));
      const actors = values(params, 'schedule.actor').map((v) => `Practitioner/${refId(v, 'Practitioner')}`);
      if (actors.length) {
        const schedules = (await findAll(repo, 'Schedule', { actor: actors.join(',') })).map((s) => `Schedule/${s.id}`);
        slots = slots.filter((s) => schedules.includes(s.schedule?.reference));
      }
      const locations = values(params, '-location').map((v) => refId(v.replace(/^'|'$/g, ''), 'Location'));
      if (locations.length) {
        slots = slots.filter((s) => locations.includes(refId(s.extension?.find((e) => e.url === SCHEDULING_LOCATION)?.valueReference?.reference, 'Location')));
      }
      slots = slots.filter((s) => starts.every((d) => instantMatches(d, Date.parse(s.start))));
      // "sorted first by start date-time ascending (earliest first), followed by service-type and Scheduling Location"
      const key = (s) => [Date.parse(s.start), s.serviceType?.[0]?.coding?.[0]?.code ?? '',
        s.extension?.find((e) => e.url === SCHEDULING_LOCATION)?.valueReference?.reference ?? ''];
      return slots.sort((a, b) => {
        const [x, y] = [key(a), key(b)];
        return x[0] - y[0] || x[1].localeCompare(y[1]) || x[2].localeCompare(y[2]);
      });
    },
    async include(params, repo, page) {
      const wanted = values(params, '_include');
      if (!wanted.length) return [];
      const schedules = new Map();
      for (const slot of page) {
        const id = refId(slot.schedule?.reference, 'Schedule');
        if (id && !schedules.has(id)) schedules.set(id, await readOrNull(repo, 'Schedule', id));
      }
      const out = wanted.includes('Slot:schedule') ? [...schedules.values()].filter(Boolean) : [];
      if (wanted.includes('Schedule:actor:Practitioner')) {
        const ids = new Set([...schedules.values()].flatMap((s) => s?.actor ?? []).map((a) => refId(a.reference, 'Practitioner')).filter(Boolean));
        for (const id of ids) {
          const p = await readOrNull(repo, 'Practitioner', id);
          if (p) out.push(p);
        }
      }
      return out;
    },
  },
  // r4/base/workflow/appointment.md "Search" (+ CS Appointment)
  Appointment: {
    defaultCount: 20, // peer choice: the document gives no default
    params: { _id: 'token', patient: 'reference', practitioner: 'reference', location: 'reference', date: 'date', '-date-or-req-period': 'date', status: 'token', _count: 'number' },
    uncounted: ['_id'], // CS: "Not honored when '_id' is set"
    async run(params, repo) {
      const who = ['patient', 'practitioner', 'location'].filter((n) => has(params, n));
      if (!has(params, '_id') && !who.length) fail(400, 'required', NO_PARAMS);
      // "may be included only once and may not be used in combination"
      onlyOnce(params, who);
      if (who.length > 1) fail(400, 'invalid', 'patient, practitioner and location may not be used in combination');
      if (has(params, 'date') && has(params, '-date-or-req-period')) fail(400, 'invalid', 'Provide either date or -date-or-req-period');
      const dateName = has(params, 'date') ? 'date' : '-date-or-req-period';
      const dates = parseDates(params, dateName, { requireTime: true });
      if (who.length && !dates.length) fail(400, 'required', `${dateName} is required with ${who[0]}`); // "A date is required when searching by Patient, Practitioner, or Location"
      // "once with a prefix and time component ... twice with the prefixes ge and lt"
      if (dates.length === 1 && !/^(eq|ne|gt|lt|ge|le)/.test(params[dateName][0].value)) fail(400, 'invalid', `${dateName} needs a prefix`);
      if (dates.length > 1) closedRange(dates, dateName, ['ge'], ['lt']);
      const query = passThrough(params, ['_id', ...who, 'status']);
      let found = await findAll(repo, 'Appointment', query);
      if (dates.length) {
        const within = (t) => dates.every((d) => instantMatches(d, t));
        // "Search by date returns appointments with a status other than proposed that start or end within the date range"
        // "-date-or-req-period ... also returns appointments with a status of proposed that either are requested to start or end between the dates"
        found = found.filter((a) => (a.status !== 'proposed' && (within(Date.parse(a.start)) || within(Date.parse(a.end))))
          || (dateName === '-date-or-req-period' && a.status === 'proposed'
            && (a.requestedPeriod ?? []).some((p) => within(Date.parse(p.start)) || within(Date.parse(p.end)))));
      }
      // "The retrieved appointments are sorted by start date ascending (earliest first)."
      const start = (a) => Date.parse(a.start ?? a.requestedPeriod?.[0]?.start ?? '') || 0;
      return found.sort((a, b) => start(a) - start(b));
    },
  },
  // r4/foundation/documents/document-reference.md "Search" (+ CS DocumentReference)
  DocumentReference: {
    defaultCount: 10, // "Defaults to 10 and maximum 100 documents can be returned"
    maxCount: 100,
    params: {
      _id: 'token', patient: 'reference', encounter: 'reference', type: 'token', _count: 'number', category: 'token',
      _revinclude: 'special', date: 'date', period: 'date', _lastUpdated: 'date',
    },
    async run(params, repo) {
      const others = Object.keys(params).filter((n) => !['_id', '_revinclude'].includes(n));
      if (has(params, '_id') && others.length) fail(400, 'invalid', '_id must not be provided with any other parameters'); // "When searching with the _id parameter"
      if (!has(params, '_id') && !has(params, 'patient')) fail(400, 'required', NO_PARAMS);
      if (['date', 'period', '_lastUpdated'].filter((n) => has(params, n)).length > 1) {
        fail(400, 'invalid', 'The date, period and _lastUpdated parameters may not be provided together');
      }
      const dates = parseDates(params, 'date');
      if (dates.length > 2) fail(400, 'invalid', 'date may be given at most twice');
      if (dates.length === 2) {
        if (dates.some((d) => !d.hasTime)) fail(400, 'invalid', 'Both date values need a time component');
        closedRange(dates, 'date', ['ge', 'gt'], ['le', 'lt']);
      }
      const periods = parseDates(params, 'period');
      if (periods.length) closedRange(periods, 'period', ['ge'], ['lt']); // "It must be provided twice, once with the ge prefix, and once with the lt prefix."
      const updated = parseDates(params, '_lastUpdated');
      if (updated.length > 2 || updated.some((d) => !['eq', 'ge', 'gt', 'le', 'lt'].includes(d.prefix))) {
        fail(400, 'invalid', '_lastUpdated may be given up to two times with eq, ge, gt, le or lt');
      }
      if (updated.length === 2) closedRange(updated, '_lastUpdated', ['ge', 'gt'], ['le', 'lt']);
      for (const { value } of params._revinclude ?? []) {
        if (value !== 'Provenance:target') fail(400, 'not-supported', `Unsupported _revinclude: ${value}`);
      }
      return findAll(repo, 'DocumentReference', passThrough(params, ['_id', 'patient', 'encounter', 'type', 'category', 'date', 'period', '_lastUpdated']));
    },
  },
};

// Read/search-only types the default seed has but Millennium does not expose (peer choice, so the
// shared tests still find their ids): searched with the default peer's semantics, paged like the rest.
for (const type of ['HealthcareService', 'PractitionerRole']) {
  SEARCH[type] = {
    defaultCount: 20,
    params: new Proxy({}, { get: (_, name) => (typeof name === 'string' ? 'any' : undefined) }),
    run: (params, repo) => findAll(repo, type, passThrough(params, Object.keys(params).filter((n) => n !== '_count'))),
    peerOnly: true,
  };
}

// --- interactions (the CapabilityStatement's, and nothing else) -------------------------------

const INTERACTIONS = {
  Appointment: ['read', 'search-type', 'create', 'patch'], // CS Appointment; appointment.md has no PUT
  Binary: ['read'], // r4/foundation/other/binary.md: "Retrieve by id" only
  DocumentReference: ['read', 'search-type', 'create', 'update'], // document-reference.md "Create", "Update"
  Location: ['read', 'search-type'],
  Organization: ['read', 'search-type'], // (CS also lists create; not imitated)
  Patient: ['read', 'search-type', 'create'], // (CS also lists patch; not imitated)
  Practitioner: ['read', 'search-type'], // (CS also lists create; not imitated)
  Schedule: ['read', 'search-type'],
  Slot: ['read', 'search-type', 'patch'], // CS Slot; slot.md "Patch"
  HealthcareService: ['read', 'search-type'], // peer-only
  PractitionerRole: ['read', 'search-type'], // peer-only
};

function interactionOf(method, id, op) {
  if (id?.startsWith('$') || op?.startsWith('$')) return 'operation';
  if (method === 'GET' && !id) return 'search-type';
  if (method === 'POST' && id === '_search') return 'search-post';
  if (method === 'GET' && op === '_history') return 'history';
  if (method === 'GET' && id && !op) return 'read';
  if (method === 'POST' && !id) return 'create';
  if (method === 'PUT' && id && !op) return 'update';
  if (method === 'PATCH' && id && !op) return 'patch';
  if (method === 'DELETE') return 'delete';
  return 'other';
}

// --- the profile -------------------------------------------------------------------------------

export function createProfile() {
  const cursors = new Cursors();

  function searchsetBundle(selfUrl, entries, { total, next, previous }) {
    return {
      resourceType: 'Bundle',
      id: randomUUID(),
      type: 'searchset',
      ...(total !== undefined ? { total } : {}),
      link: [
        { relation: 'self', url: selfUrl },
        ...(next ? [{ relation: 'next', url: next }] : []),
        ...(previous ? [{ relation: 'previous', url: previous }] : []),
      ],
      ...(entries.length ? { entry: entries } : {}),
    };
  }

  async function page(ctx, state) {
    const { repo, origin, selfUrl } = ctx;
    const spec = SEARCH[state.type];
    const slice = state.ids.slice(state.offset, state.offset + state.count);
    const resources = state.first ?? (await Promise.all(slice.map((id) => readOrNull(repo, state.type, id)))).filter(Boolean);
    const link = (offset, direction) => {
      // r4.md "Pagination": next links are opaque, e.g. ?-pageContext=<token>&-pageDirection=NEXT
      // (R4_SLOT_BUNDLE), and "It is important to follow these Link header values instead of constructing your own URLs."
      const token = cursors.put({ ...state, offset, first: undefined });
      return `${origin}/${state.type}?-pageContext=${token}&-pageDirection=${direction}`;
    };
    const entries = resources.map((resource) => ({ fullUrl: `${origin}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' } }));
    for (const resource of (await spec.include?.(state.params, repo, resources)) ?? []) {
      entries.push({ fullUrl: `${origin}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'include' } });
    }
    return [200, searchsetBundle(selfUrl, entries, {
      total: spec.total ? state.ids.length : undefined, // Bundle.total only where the documented Bundle has it (Patient)
      next: state.offset + state.count < state.ids.length ? link(state.offset + state.count, 'NEXT') : undefined,
      previous: state.offset > 0 ? link(Math.max(0, state.offset - state.count), 'PREVIOUS') : undefined,
    })];
  }

  async function search(ctx) {
    const { url, type, repo } = ctx;
    if (url.searchParams.has('-pageContext')) {
      const state = cursors.get(url.searchParams.get('-pageContext'));
      // Peer choice: an unknown or expired page context is a 400.
      if (!state || state.type !== type) fail(400, 'invalid', 'Unknown or expired -pageContext');
      return page(ctx, state);
    }
    const spec = SEARCH[type];
    const params = parseQuery(url, spec);
    const found = await spec.run(params, repo);
    let count;
    const raw = params._count?.[0]?.value;
    if (raw !== undefined && !/^\d+$/.test(raw)) fail(400, 'invalid', `_count must be a non-negative integer: ${raw}`);
    if ((spec.uncounted ?? []).some((n) => has(params, n))) {
      count = Math.max(found.length, 1);
    } else {
      count = raw !== undefined ? Number(raw) : spec.defaultCount;
      if (spec.minCount) count = Math.max(count, spec.minCount);
      if (spec.maxCount) count = Math.min(count, spec.maxCount);
      const cap = maxCountEnv(); // FHIR_PEER_MAX_COUNT: a small page cap for tests (peer knob, not Millennium's)
      if (cap) count = Math.min(count, cap);
      count = Math.max(count, 1);
    }
    return page(ctx, { type, params, ids: found.map((r) => r.id), offset: 0, count, first: found.slice(0, count) });
  }

  // --- writes ----------------------------------------------------------------------------------

  const created = (origin, resource) => [201, undefined, {
    ...versionHeaders(resource),
    // appointment.md / patient.md "Create" responses: 201, Content-Length 0, Location without _history
    Location: `${origin}/${resource.resourceType}/${resource.id}`,
  }];
  const patched = (resource) => [200, undefined, versionHeaders(resource)]; // "Patch" responses: 200, Content-Length 0, ETag

  function requireResource(ctx) {
    const { body, type } = ctx;
    if (!body || typeof body !== 'object' || Array.isArray(body)) fail(400, 'invalid', 'A resource body is required');
    if (body.resourceType !== type) fail(400, 'invalid', `Expected a ${type}, got ${body.resourceType}`);
  }

  async function createAppointment(ctx) {
    const { body, repo, origin, validate } = ctx;
    requireResource(ctx);
    // The documented booked create has no start/end (the server takes them from the Slot), which
    // FHIR's invariant app-3 would refuse: validate it with placeholder times filled in (so that a
    // wrong status meets the documented 422 below rather than the invariant).
    const invalid = validate(body.status !== 'proposed' ? { start: '2000-01-01T00:00:00Z', end: '2000-01-01T00:30:00Z', ...body } : body);
    if (invalid) throw new Reply(400, invalid);
    rejectModifiers(body);
    // appointment.md "Create" implementation notes
    if (!['proposed', 'booked'].includes(body.status)) businessRule('Appointment.status must be set to proposed or booked');
    if (body.reasonCode && body.reasonCode.length !== 1) businessRule('Appointment.reasonCode must contain exactly one CodeableConcept');
    const participants = body.participant ?? [];
    if (participants.some((p) => p.type)) businessRule('Appointment.participant.type must not be set');
    const patients = participants.filter((p) => p.actor?.reference?.startsWith('Patient/'));
    if (patients.length !== 1) businessRule('Appointment.participant must contain exactly one Patient participant');
    const patientId = refId(patients[0].actor.reference, 'Patient');
    if (!(await readOrNull(repo, 'Patient', patientId))) businessRule(`Unknown patient: Patient/${patientId}`);
    let appointment;
    if (body.status === 'booked') {
      if (body.slot?.length !== 1) businessRule('Appointment.slot must contain exactly one reference to the Slot being booked');
      if (participants.length !== 1) businessRule('A booked Appointment.participant must contain exactly one Patient participant');
      if (patients[0].status !== 'accepted') businessRule('Appointment.participant.status must be set to accepted');
      const slot = await readOrNull(repo, 'Slot', refId(body.slot[0].reference, 'Slot'));
      if (!slot) businessRule(`Unknown slot: ${body.slot[0].reference}`);
      // A slot already taken: 422 (r4.md "Client Errors" 7, a business rule; Cerner's answer in
      // groups.google.com/g/cerner-fhir-developers/c/REOLUBd8q8Q: booking a busy slot "we should receive back a 422").
      if (slot.status !== 'free') businessRule(`Slot/${slot.id} is not available (${slot.status})`);
      const extension = [
        // appointment.md "Custom Extensions": is-cancelable, is-reschedulable
        { url: `${EXT}is-cancelable`, valueBoolean: true },
        { url: `${EXT}is-reschedulable`, valueBoolean: true },
      ];
      appointment = await appointmentForSlot(repo, slot, `Patient/${patientId}`, {
        extra: { extension, ...(body.reasonCode ? { reasonCode: body.reasonCode } : {}), ...(body.comment ? { comment: body.comment } : {}),
          requestedPeriod: [{ start: slot.start, end: slot.end }] },
      });
      appointment = await save(repo, appointment);
      await save(repo, { ...slot, status: 'busy' }); // the booked slot is no longer free
    } else {
      if (body.serviceType?.length !== 1) businessRule('Appointment.serviceType must contain exactly one CodeableConcept');
      if (!participants.some((p) => p.actor?.reference?.startsWith('Location/'))) businessRule('At least one Location participant is required');
      if (participants.some((p) => !/^(Patient|Location)\//.test(p.actor?.reference ?? ''))) businessRule('participant.actor must be a Patient or a Location');
      if (participants.some((p) => p.status !== 'needs-action')) businessRule('participant.status must be set to needs-action');
      const period = body.requestedPeriod;
      if (period?.length !== 1 || !period[0].start || !period[0].end) businessRule('requestedPeriod must be a single Period with start and end');
      const { id: _id, meta: _meta, ...rest } = body;
      appointment = await save(repo, rest);
    }
    return created(origin, appointment);
  }

  const TRANSITIONS = { // appointment.md "Overview": the status sequences an update may make
    proposed: ['booked', 'cancelled'],
    booked: ['arrived', 'checked-in', 'cancelled'],
    arrived: ['checked-in', 'cancelled'],
    'checked-in': ['fulfilled', 'cancelled'],
  };

  const patchOps = (body) => {
    if (!Array.isArray(body) || body.some((o) => !o || typeof o.op !== 'string' || typeof o.path !== 'string')) {
      fail(400, 'invalid', 'The body must be a JSON Patch array');
    }
    return body;
  };

  function requirePatchType(req) {
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    // appointment.md / slot.md "Patch" headers: Content-Type application/json-patch+json
    if (type !== 'application/json-patch+json') fail(415, 'not-supported', 'PATCH needs Content-Type application/json-patch+json');
  }

  async function patchAppointment(ctx) {
    const { req, body, repo, id } = ctx;
    requirePatchType(req);
    const current = await readOrNull(repo, 'Appointment', id);
    if (!current) fail(404, 'not-found', `Appointment/${id} not found`);
    checkVersion(req, current);
    const ops = patchOps(body);
    // appointment_patch.yaml (lib/resources/r4): the supported operations, nothing else
    const find = (op, path) => ops.find((o) => o.op === op && o.path === path);
    const supported = [['replace', '/status'], ['add', '/slot'], ['replace', '/slot'], ['add', '/reasonCode'],
      ['add', '/cancelationReason'], ['replace', '/extension'], ['replace', '/comment'], ['replace', '/patient-status']];
    for (const o of ops) {
      if (!supported.some(([op, path]) => o.op === op && o.path === path)) businessRule(`Unsupported patch operation: ${o.op} ${o.path}`);
    }
    const next = structuredClone(current);
    const status = find('replace', '/status')?.value;
    if (status !== undefined) {
      if (!['arrived', 'checked-in', 'cancelled', 'booked', 'fulfilled'].includes(status)) businessRule(`Unsupported status: ${status}`);
      if (status !== current.status && !(TRANSITIONS[current.status] ?? []).includes(status)) businessRule(`Cannot change status from ${current.status} to ${status}`);
      next.status = status;
    }
    const addSlot = find('add', '/slot');
    const replaceSlot = find('replace', '/slot');
    if (status === 'booked' && current.status === 'proposed' && !addSlot) businessRule('Booking needs the add /slot operation');
    if (addSlot && status !== 'booked') businessRule('add /slot must be accompanied by replace /status booked');
    const slotOp = addSlot ?? replaceSlot;
    let newSlot;
    let releaseOld = false;
    if (slotOp) {
      if (!Array.isArray(slotOp.value) || slotOp.value.length !== 1) businessRule('Only one Slot reference may be provided');
      newSlot = await readOrNull(repo, 'Slot', refId(slotOp.value[0].reference, 'Slot'));
      if (!newSlot) businessRule(`Unknown slot: ${slotOp.value[0].reference}`);
      const same = slotIdsOf(current).includes(newSlot.id);
      if (!same && newSlot.status !== 'free') businessRule(`Slot/${newSlot.id} is not available (${newSlot.status})`);
      releaseOld = !same;
    }
    const reason = find('add', '/reasonCode');
    if (reason) {
      if (status !== 'booked') businessRule('add /reasonCode must be accompanied by replace /status booked');
      if (!Array.isArray(reason.value) || reason.value.length > 1) businessRule('Only one reasonCode may be provided');
      if (reason.value.length && !reason.value[0].text) businessRule('reasonCode.text is required');
      if (reason.value.length) next.reasonCode = [{ text: reason.value[0].text }];
      else delete next.reasonCode;
    }
    const cancelation = find('add', '/cancelationReason');
    if (cancelation) {
      if (status !== 'cancelled') businessRule('add /cancelationReason must be accompanied by replace /status cancelled');
      if (cancelation.value?.coding?.length !== 1) businessRule('cancelationReason needs exactly one coding');
      next.cancelationReason = { coding: cancelation.value.coding };
    }
    const comment = find('replace', '/extension');
    if (comment) {
      const ext = Array.isArray(comment.value) ? comment.value : [];
      if (ext.length !== 1 || ext[0].url !== `${EXT}action-comment`) businessRule('replace /extension supports one action-comment');
      if (!(status === 'cancelled' && cancelation) && !replaceSlot) businessRule('action-comment needs a cancellation (with reason) or a replace /slot');
      next.extension = [...(next.extension ?? []).filter((e) => e.url !== `${EXT}action-comment`), ext[0]];
    }
    const text = find('replace', '/comment');
    if (text) {
      if (!replaceSlot) businessRule('replace /comment must be accompanied by replace /slot');
      next.comment = text.value;
    }
    const patientStatus = find('replace', '/patient-status');
    if (patientStatus) {
      // appointment.md "Errors": a participant status other than "accepted" -> 422
      if (patientStatus.value !== 'accepted') businessRule('Only the participant status accepted is supported');
      const p = next.participant?.find((x) => x.actor?.reference?.startsWith('Patient/'));
      if (next.status !== 'booked' || p?.status !== 'tentative') businessRule('Only a tentative patient of a booked appointment can be accepted');
      p.status = 'accepted';
    }
    if (newSlot) {
      if (releaseOld) await releaseSlots(repo, current, save);
      const rebuilt = await appointmentForSlot(repo, newSlot, next.participant.find((p) => p.actor?.reference?.startsWith('Patient/'))?.actor.reference);
      Object.assign(next, { start: rebuilt.start, end: rebuilt.end, minutesDuration: rebuilt.minutesDuration, slot: rebuilt.slot,
        serviceType: rebuilt.serviceType ?? next.serviceType, participant: rebuilt.participant });
      await save(repo, { ...newSlot, status: 'busy' });
    }
    // Cancelling frees the slot again (groups.google.com/g/cerner-fhir-developers/c/REOLUBd8q8Q: after the
    // cancel "the Slot.freeBusyType field should be ... free").
    if (next.status === 'cancelled' && current.status !== 'cancelled') await releaseSlots(repo, next, save);
    return patched(await save(repo, next));
  }

  async function patchSlot(ctx) {
    const { req, body, repo, id } = ctx;
    requirePatchType(req);
    const current = await readOrNull(repo, 'Slot', id);
    if (!current) fail(404, 'not-found', `Slot/${id} not found`);
    checkVersion(req, current); // slot.md "Patch" headers: If-Match W/"<current version>"
    const ops = patchOps(body);
    // slot_patch.yaml: only replace /status, "Only free and busy-tentative are supported."
    if (ops.length !== 1 || ops[0].op !== 'replace' || ops[0].path !== '/status') businessRule('Only replace /status is supported');
    const status = ops[0].value ?? ops[0].status; // (the documented example writes "status" for "value")
    if (!['free', 'busy-tentative'].includes(status)) businessRule('Only free and busy-tentative are supported');
    // Peer choice: a slot an appointment holds is changed through the Appointment, not here.
    if (current.status === 'busy') businessRule(`Slot/${id} is booked`);
    return patched(await save(repo, { ...current, status }));
  }

  const DOC_TYPES = ['application/pdf', 'text/plain', 'text/richtext', 'text/rtf', 'text/html', 'application/xml', 'application/xhtml+xml'];

  async function writeDocument(ctx, existing) {
    const { body, repo, origin, validate } = ctx;
    requireResource(ctx);
    const invalid = validate(body);
    if (invalid) throw new Reply(400, invalid);
    rejectModifiers(body);
    // document-reference.md "Create"/"Update": "All provided dates must have a time component."
    const dates = [body.date, body.context?.period?.start, body.context?.period?.end, ...(body.content ?? []).map((c) => c.attachment?.creation)];
    if (dates.some((d) => d !== undefined && !/T\d{2}:\d{2}/.test(d))) businessRule('All provided dates must have a time component');
    for (const c of body.content ?? []) {
      const type = (c.attachment?.contentType ?? '').split(';')[0].trim();
      if (!DOC_TYPES.includes(type)) businessRule(`Unsupported contentType: ${c.attachment?.contentType}`); // "Supported MIME Types"
    }
    if (!(await readOrNull(repo, 'Patient', refId(body.subject?.reference, 'Patient')))) businessRule('subject must be a known Patient');
    const { meta: _meta, ...rest } = body;
    const doc = structuredClone(rest);
    doc.id = existing?.id ?? String(nextId++);
    doc.status ??= 'current';
    // document-reference.md "Search": "Contents of the document(s) are found by following the Attachment URL"
    // (every read example has attachment.url to Binary, no inline data): inline data is moved to a Binary.
    for (const [i, c] of (doc.content ?? []).entries()) {
      if (c.attachment?.data === undefined) continue;
      const binaryId = `XR-${doc.id}${i ? `-${i}` : ''}`;
      await save(repo, { resourceType: 'Binary', id: binaryId, contentType: c.attachment.contentType, data: c.attachment.data }, { firstVersion: '1' });
      delete c.attachment.data;
      c.attachment.url = `${origin}/Binary/${binaryId}`;
    }
    return save(repo, doc, { firstVersion: '1' }); // the documented create answers ETag W/"1"
  }

  async function createPatient(ctx) {
    const { body, repo, origin, validate } = ctx;
    requireResource(ctx);
    const invalid = validate(body);
    if (invalid) throw new Reply(400, invalid);
    rejectModifiers(body);
    // Peer choice: conditional create is not in the CapabilityStatement; If-None-Exist is ignored.
    const { id: _id, meta: _meta, ...rest } = body;
    return created(origin, await save(repo, rest));
  }

  async function readBinary(ctx) {
    const { req, repo, id } = ctx;
    const binary = await readOrNull(repo, 'Binary', id);
    if (!binary) return undefined; // the default 404
    // binary.md "Headers": Accept application/fhir+json -> a FHIR Binary; the attachment's
    // contentType -> the raw data; "will not accept the application/json mime type unless the
    // underlying binary data is json".
    const accept = (req.headers.accept ?? '').split(',').map((a) => a.split(';')[0].trim().toLowerCase());
    if (!accept.length || accept.includes('') || accept.includes('application/fhir+json') || accept.includes('*/*')) return undefined;
    const own = (binary.contentType ?? '').split(';')[0].trim().toLowerCase();
    if (accept.includes(own)) {
      return [200, Buffer.from(binary.data ?? '', 'base64'), { 'Content-Type': binary.contentType, ...versionHeaders(binary) }];
    }
    return [406, undefined, { 'Content-Length': '0' }]; // r4.md "Client Errors" 5: 406, Content-Length 0
  }

  async function handle(ctx) {
    const { req, url, type, id, op } = ctx;
    let method = req.method;
    // r4.md "HTTP Method Override": POST with _method=patch or X-HTTP-Method-Override: patch
    const override = url.searchParams.get('_method') ?? req.headers['x-http-method-override'];
    if (method === 'POST' && override) method = override.toUpperCase();
    // r4.md "Client Errors" 5: a media type other than JSON -> 406, Content-Length 0
    const accept = (req.headers.accept ?? '').toLowerCase();
    if (accept && type !== 'Binary' && !/json|\*\/\*/.test(accept)) return [406, undefined];
    if (!type || type.startsWith('$')) fail(405, 'not-supported', 'System-level interactions are not supported');
    const allowed = INTERACTIONS[type];
    if (!allowed) fail(404, 'not-supported', `Resource type ${type} is not supported`);
    const interaction = interactionOf(method, id, op);
    // Peer choice: anything the CapabilityStatement does not list is a 405 with an OperationOutcome
    // (e.g. PUT, POST or DELETE of a Slot; PUT of an Appointment).
    if (!allowed.includes(interaction)) fail(405, 'not-supported', `${method} is not supported for ${type}${id ? '/{id}' : ''}`);
    ctx.selfUrl = `${ctx.origin}${ctx.path}${url.search}`;
    switch (`${type} ${interaction}`) {
      case 'Appointment create': return createAppointment(ctx);
      case 'Appointment patch': return patchAppointment(ctx);
      case 'Slot patch': return patchSlot(ctx);
      case 'Patient create': return createPatient(ctx);
      case 'DocumentReference create': return created(ctx.origin, await writeDocument(ctx));
      case 'DocumentReference update': {
        const current = await readOrNull(ctx.repo, 'DocumentReference', id);
        if (!current) fail(404, 'not-found', `DocumentReference/${id} not found`); // CS: updateCreate false
        checkVersion(req, current);
        if (ctx.body?.id !== id) fail(400, 'invalid', 'The body id must match the URL');
        return patched(await writeDocument(ctx, current)); // document-reference.md "Update": 200, Content-Length 0
      }
      case 'Binary read': return readBinary(ctx);
      default:
        if (interaction === 'search-type') return search(ctx);
        return undefined; // read: the default peer's read (ETag, Last-Modified)
    }
  }

  function capabilityStatement({ origin }) {
    const resource = Object.entries(INTERACTIONS).sort(([a], [b]) => a.localeCompare(b)).map(([type, interactions]) => {
      const spec = SEARCH[type];
      const peerOnly = spec?.peerOnly;
      return {
        type,
        ...(peerOnly ? { documentation: 'Peer-only: not a Millennium resource; kept so the shared tests find the seed ids.' } : {}),
        interaction: interactions.map((code) => ({ code })),
        ...(interactions.includes('update') ? { updateCreate: false } : {}),
        ...(interactions.includes('create') ? { conditionalCreate: false } : {}),
        ...(type === 'Slot' ? { searchInclude: ['Slot:schedule', 'Schedule:actor:Practitioner'] } : {}),
        ...(spec && !peerOnly ? {
          searchParam: Object.entries(spec.params).filter(([, t]) => t !== 'special').map(([name, t]) => ({ name, type: t })),
        } : {}),
      };
    });
    return {
      resourceType: 'CapabilityStatement',
      url: `${origin}/metadata`,
      name: 'VardbroPeerOracleMillennium',
      title: 'fhir-peer imitating Oracle Health Millennium R4 (documented behaviour)',
      status: 'active',
      date: new Date().toISOString().slice(0, 10),
      publisher: 'Vardbro fhir-peer',
      kind: 'instance',
      software: { name: 'vardbro-fhir-peer, profile oracle' },
      implementation: { description: 'Imitation of Oracle Health Millennium R4 for connector tests', url: origin },
      fhirVersion: '4.0.1',
      format: ['json', 'application/fhir+json'],
      patchFormat: ['application/json-patch+json'],
      rest: [{
        mode: 'server',
        resource: [{ type: 'CapabilityStatement', interaction: [{ code: 'read' }] }, ...resource],
      }],
    };
  }

  return {
    name: 'oracle',
    seed: oracleSeed,
    handle: (ctx) => replying(() => handle(ctx)),
    capabilityStatement,
    control: ehrControl((repo, resource) => save(repo, resource)),
    reset() {
      cursors.clear();
      nextId = 20000001;
    },
  };
}
