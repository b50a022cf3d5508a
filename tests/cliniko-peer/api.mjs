// Cliniko's REST API (v1) over the in-memory state: routes, serialisation, validation, availability.
import { ApiError, BLANK, isIdString, message, notFound, validationFailed } from './common.mjs';
import { applyFilters, applyOrder, paginate } from './listing.mjs';
import { keyFromUploadUrl, presignGet, presignPost } from './s3.mjs';
import { addDays, daysBetween, isCalendarDate, isTimeZone, isoSeconds, isoWeekday, localDate, minutesOf, zonedToUtc } from './timezone.mjs';

const ts = (ms) => (ms === null || ms === undefined ? null : isoSeconds(ms));
const link = (url) => ({ links: { self: url } });

// ---------------------------------------------------------------- serialisation

function businessJson(ctx, b) {
  const self = `${ctx.base}/businesses/${b.id}`;
  // cliniko-api sections/businesses.md "Get Business": fields and links (practitioners, appointments, self);
  // time_zone / time_zone_identifier per docs.api.cliniko.com guides "Time zone support".
  return {
    address_1: b.address_1, address_2: b.address_2, business_name: b.business_name,
    business_registration_name: b.business_registration_name, business_registration_value: b.business_registration_value,
    city: b.city, contact_information: b.contact_information, country: b.country, country_code: b.country_code,
    created_at: ts(b.created_at), display_name: b.display_name, email_reply_to: b.email_reply_to, id: b.id,
    post_code: b.post_code, show_in_online_bookings: b.show_in_online_bookings, state: b.state,
    time_zone: b.time_zone, time_zone_identifier: b.time_zone_identifier,
    updated_at: ts(b.updated_at), website_address: b.website_address,
    practitioners: link(`${self}/practitioners`),
    appointments: link(`${self}/appointments?page=1`),
    links: { self },
  };
}

function practitionerJson(ctx, p) {
  const self = `${ctx.base}/practitioners/${p.id}`;
  // cliniko-api sections/practitioners.md "Get Practitioner": fields and links.
  return {
    created_at: ts(p.created_at), designation: p.designation, description: p.description, first_name: p.first_name,
    id: p.id, last_name: p.last_name, show_in_online_bookings: p.show_in_online_bookings, title: p.title,
    label: p.label, updated_at: ts(p.updated_at),
    default_appointment_type: link(`${ctx.base}/appointment_types/${p.default_appointment_type_id}`),
    practitioner_reference_numbers: link(`${self}/practitioner_reference_numbers?page=1`),
    user: p.user_id ? link(`${ctx.base}/users/${p.user_id}`) : null,
    appointments: link(`${self}/appointments?page=1`),
    invoices: link(`${self}/invoices?page=1`),
    links: { self },
  };
}

function appointmentTypeJson(ctx, t) {
  const self = `${ctx.base}/appointment_types/${t.id}`;
  // cliniko-api sections/appointment_types.md "Get Appointment Type": fields; "practitioners" links
  // to the practitioners offering it. billable_item/product links are left out (not simulated).
  const json = {
    id: t.id, category: t.category, color: t.color, created_at: ts(t.created_at),
    duration_in_minutes: t.duration_in_minutes, name: t.name, description: t.description,
    max_attendees: t.max_attendees, show_in_online_bookings: t.show_in_online_bookings, updated_at: ts(t.updated_at),
    practitioners: link(`${self}/practitioners`),
    treatment_note_template: t.treatment_note_template_id ? link(`${ctx.base}/treatment_note_templates/${t.treatment_note_template_id}`) : null,
    links: { self },
  };
  // sections/appointment_types.md "Get Archived Appointment Types": archived ones carry archived_at.
  if (t.archived_at) json.archived_at = ts(t.archived_at);
  return json;
}

const PATIENT_FIELDS = [
  'accepted_privacy_policy', 'accepted_email_marketing', 'accepted_sms_marketing', 'address_1', 'address_2',
  'address_3', 'city', 'country', 'custom_fields', 'date_of_birth', 'dva_card_number', 'email', 'emergency_contact',
  'first_name', 'invoice_default_to', 'invoice_email', 'invoice_extra_information', 'gender', 'gender_identity',
  'last_name', 'medicare', 'medicare_reference_number', 'notes', 'appointment_notes', 'occupation', 'old_reference_id',
  'patient_phone_numbers', 'post_code', 'preferred_first_name', 'pronouns', 'receives_confirmation_emails',
  'referral_source', 'reminder_type', 'sex', 'state', 'title', 'time_zone',
];

function patientJson(ctx, p) {
  const self = `${ctx.base}/patients/${p.id}`;
  // cliniko-api sections/patients.md "Get Patient": fields and links (medical_alerts, invoices, appointments).
  const json = { id: p.id, created_at: ts(p.created_at), updated_at: ts(p.updated_at), archived_at: ts(p.archived_at), deleted_at: ts(p.deleted_at) };
  for (const f of PATIENT_FIELDS) json[f] = p[f];
  json.patient_phone_numbers = p.patient_phone_numbers.map((n) => ({ ...n }));
  json.medical_alerts = link(`${self}/medical_alerts?page=1`);
  json.invoices = link(`${self}/invoices?page=1`);
  json.appointments = link(`${self}/appointments?page=1`);
  json.links = { self };
  return json;
}

// cliniko-api sections/individual_appointments.md "Cancellation Reason Codes".
const CANCELLATION_REASONS = { 10: 'Feeling better', 20: 'Condition worse', 30: 'Sick', 31: 'COVID-19 related', 40: 'Away', 50: 'Other', 60: 'Work' };

function appointmentJson(ctx, a) {
  const self = `${ctx.base}/individual_appointments/${a.id}`;
  const patient = ctx.state.patients.get(a.patient_id);
  // cliniko-api sections/individual_appointments.md "Get Individual Appointment": fields and links.
  return {
    id: a.id, created_at: ts(a.created_at), updated_at: ts(a.updated_at),
    booking_ip_address: a.booking_ip_address,
    cancellation_note: a.cancellation_note,
    cancellation_reason: a.cancellation_reason,
    cancellation_reason_description: a.cancellation_reason ? CANCELLATION_REASONS[a.cancellation_reason] : '',
    conflicts: link(`${self}/conflicts`),
    did_not_arrive: a.did_not_arrive,
    email_reminder_sent: a.email_reminder_sent,
    invoice_status: a.invoice_status,
    notes: a.notes,
    online_booking_policy_accepted: a.online_booking_policy_accepted,
    patient_arrived: a.patient_arrived,
    patient_name: patient ? `${patient.first_name} ${patient.last_name}` : null,
    repeat_rule: a.repeat_rule,
    repeats: a.repeats,
    sms_reminder_sent: a.sms_reminder_sent,
    treatment_note_status: null,
    deleted_at: ts(a.deleted_at),
    starts_at: ts(a.starts_at),
    ends_at: ts(a.ends_at),
    cancelled_at: ts(a.cancelled_at),
    appointment_type: link(`${ctx.base}/appointment_types/${a.appointment_type_id}`),
    business: link(`${ctx.base}/businesses/${a.business_id}`),
    practitioner: link(`${ctx.base}/practitioners/${a.practitioner_id}`),
    patient: link(`${ctx.base}/patients/${a.patient_id}`),
    attendees: link(`${self}/attendees`),
    links: { self },
  };
}

function treatmentNoteJson(ctx, n) {
  // cliniko-api sections/treatment_notes.md "Get Treatment Note" / "Create Treatment Note" (booking link).
  const json = {
    id: n.id, created_at: ts(n.created_at), updated_at: ts(n.updated_at), content: n.content, draft: n.draft,
    title: n.title, deleted_at: ts(n.deleted_at), author_name: n.author_name,
    patient: link(`${ctx.base}/patients/${n.patient_id}`),
    practitioner: link(`${ctx.base}/practitioners/${n.practitioner_id}`),
    treatment_note_template: n.treatment_note_template_id ? link(`${ctx.base}/treatment_note_templates/${n.treatment_note_template_id}`) : null,
    links: { self: `${ctx.base}/treatment_notes/${n.id}` },
  };
  if (n.booking_id) json.booking = link(`${ctx.base}/bookings/${n.booking_id}`);
  return json;
}

function templateJson(ctx, t) {
  // cliniko-api sections/treatment_note_templates.md "Get Treatment Note Template".
  return {
    id: t.id, created_at: ts(t.created_at), updated_at: ts(t.updated_at), content: t.content, name: t.name,
    print_settings: t.print_settings, deleted_at: ts(t.deleted_at), links: { self: `${ctx.base}/treatment_note_templates/${t.id}` },
  };
}

function attachmentJson(ctx, a) {
  const self = `${ctx.base}/patient_attachments/${a.id}`;
  // cliniko-api sections/patient_attachments.md "Get Patient Attachment"; while processing,
  // content_type, filename and size are null (guides/uploading_patient_attachments.md "Cliniko will process the file").
  return {
    id: a.id, created_at: ts(a.created_at), updated_at: ts(a.updated_at),
    content_type: a.content_type, filename: a.filename, size: a.size,
    content: link(`${self}/content`),
    description: a.description,
    processing_completed: a.processing_completed,
    patient: link(`${ctx.base}/patients/${a.patient_id}`),
    user: link(`${ctx.base}/users/${a.user_id}`),
    links: { self },
  };
}

function dailyAvailabilityJson(ctx, d) {
  // cliniko-api sections/daily_availabilities.md "Get Daily Availabilities".
  return {
    id: d.id, created_at: ts(d.created_at), updated_at: ts(d.updated_at),
    availabilities: d.availabilities.map((x) => ({ ...x })), day_of_week: d.day_of_week,
    business: link(`${ctx.base}/businesses/${d.business_id}`),
    practitioner: link(`${ctx.base}/practitioners/${d.practitioner_id}`),
    links: { self: `${ctx.base}/daily_availabilities/${d.id}` },
  };
}

// ---------------------------------------------------------------- filter specs (per resource section)

// sections/businesses.md "Filtering Businesses": created_at DateTime, id String, updated_at DateTime.
const BUSINESS_FILTERS = { created_at: 'datetime', id: 'string', updated_at: 'datetime' };
// sections/practitioners.md "Filtering Practitioners": created_at, id (String), updated_at, user_id (Integer).
const PRACTITIONER_FILTERS = { created_at: 'datetime', id: 'string', updated_at: 'datetime', user_id: 'integer' };
// sections/appointment_types.md "Filtering Appointment Types": created_at, id (String), updated_at.
const APPOINTMENT_TYPE_FILTERS = { created_at: 'datetime', id: 'string', updated_at: 'datetime' };
// sections/patients.md "Filtering Patients".
const PATIENT_FILTERS = { created_at: 'datetime', date_of_birth: 'date', email: 'string', first_name: 'string', id: 'integer', last_name: 'string', old_reference_id: 'string', updated_at: 'datetime' };
// sections/individual_appointments.md "Filtering Individual Appointments".
const APPOINTMENT_FILTERS = { appointment_type_id: 'integer', archived_at: 'datetime', business_id: 'integer', cancelled_at: 'datetime', created_at: 'datetime', ends_at: 'datetime', id: 'integer', patient_id: 'integer', practitioner_id: 'integer', repeated_from_id: 'integer', starts_at: 'datetime', updated_at: 'datetime' };
// sections/treatment_notes.md "Filtering Treatment Notes" (ids typed String there).
const TREATMENT_NOTE_FILTERS = { attendee_id: 'string', booking_id: 'string', created_at: 'datetime', id: 'string', patient_id: 'string', practitioner_id: 'string', treatment_note_template_id: 'string', updated_at: 'datetime' };
// sections/treatment_note_templates.md "Filtering Treatment Note Templates".
const TEMPLATE_FILTERS = { created_at: 'datetime', id: 'integer', updated_at: 'datetime' };
// sections/patient_attachments.md "Filtering Patient Attachments".
const ATTACHMENT_FILTERS = { created_at: 'datetime', content_type: 'string', description: 'string', filename: 'string', id: 'integer', patient_id: 'integer', size: 'integer', user_id: 'integer', updated_at: 'datetime' };
// Not in the docs' filter lists; the peer offers id/created_at/updated_at (a choice).
const DAILY_AVAILABILITY_FILTERS = { created_at: 'datetime', id: 'integer', updated_at: 'datetime', day_of_week: 'integer' };

function list(ctx, records, key, spec, serialize) {
  const filtered = applyFilters(records, ctx.url.searchParams, spec);
  const ordered = applyOrder(filtered, ctx.url.searchParams, spec);
  return { status: 200, body: paginate(ctx, ordered, key, (r) => serialize(ctx, r)) };
}

function find(map, id, visible = () => true) {
  if (!isIdString(id)) throw notFound();
  const r = map.get(id);
  if (!r || !visible(r)) throw notFound();
  return r;
}

// ---------------------------------------------------------------- body validation helpers

// A body that is not a JSON object: 400 {"message"} (the docs give no body for it; a choice).
function requireObject(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw message(400, 'The request body must be a JSON object');
  return body;
}

const UTC_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|\+00:00)$/;

function instant(value) {
  // cliniko-api readme.md@7bd5449 "Dates and Times": "All dates and times are expected to be in UTC."
  if (typeof value !== 'string' || !UTC_INSTANT.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

// Ids may come as strings or numbers: sections/individual_appointments.md's create example sends
// "patient_id": "1", guides/uploading_patient_attachments.md sends "patient_id": 382.
const idOf = (v) => (typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v);

// ---------------------------------------------------------------- patients

const PATIENT_STRINGS = PATIENT_FIELDS.filter((f) => !['accepted_privacy_policy', 'accepted_email_marketing', 'accepted_sms_marketing', 'custom_fields', 'date_of_birth', 'patient_phone_numbers', 'receives_confirmation_emails', 'time_zone', 'gender'].includes(f));
const PATIENT_BOOLEANS = ['accepted_privacy_policy', 'accepted_email_marketing', 'accepted_sms_marketing', 'receives_confirmation_emails'];

function applyPatientInput(target, input) {
  const errors = {};
  for (const [k, v] of Object.entries(input)) {
    if (PATIENT_STRINGS.includes(k)) {
      if (v !== null && typeof v !== 'string') errors[k] = 'is invalid';
      else target[k] = v;
    } else if (PATIENT_BOOLEANS.includes(k)) {
      if (v !== null && typeof v !== 'boolean') errors[k] = 'is invalid';
      else target[k] = v;
    } else if (k === 'date_of_birth') {
      if (v !== null && v !== '' && !isCalendarDate(v)) errors[k] = 'is invalid';
      else target[k] = v || null;
    } else if (k === 'time_zone') {
      // sections/patients.md: time_zone "can be set via the API, in which case it accepts IANA time zone identifiers".
      if (v !== null && !isTimeZone(v)) errors[k] = 'is not included in the list';
      else target[k] = v;
    } else if (k === 'patient_phone_numbers') {
      if (!Array.isArray(v) || !v.every((n) => n && typeof n === 'object' && typeof n.number === 'string')) errors[k] = 'is invalid';
      else target[k] = v.map((n) => ({ phone_type: n.phone_type ?? 'Mobile', number: n.number }));
    } else if (k === 'custom_fields') {
      if (v !== null && (typeof v !== 'object' || Array.isArray(v))) errors[k] = 'is invalid';
      else target[k] = v;
    }
    // sections/patients.md "Create Patient": `gender` is deprecated and only readable; other
    // unknown attributes are ignored.
  }
  // sections/patients.md "Create Patient" example sends first_name and last_name; both required (a choice).
  for (const f of ['first_name', 'last_name']) if (!target[f] || !String(target[f]).trim()) errors[f] = BLANK;
  if (target.email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(target.email)) errors.email = 'is invalid';
  if (Object.keys(errors).length) throw validationFailed(errors);
}

function createPatient(ctx, body) {
  const now = ctx.now;
  const p = {
    id: ctx.nextId(), created_at: now, updated_at: now, archived_at: null, deleted_at: null,
    accepted_privacy_policy: null, accepted_email_marketing: false, accepted_sms_marketing: false,
    address_1: '', address_2: '', address_3: '', city: '', country: '', custom_fields: null, date_of_birth: null,
    dva_card_number: '', email: '', emergency_contact: '', first_name: '', invoice_default_to: '', invoice_email: '',
    invoice_extra_information: '', gender: null, gender_identity: null, last_name: '', medicare: '',
    medicare_reference_number: '', notes: '', appointment_notes: '', occupation: '', old_reference_id: '',
    patient_phone_numbers: [], post_code: '', preferred_first_name: null, pronouns: null,
    receives_confirmation_emails: true, referral_source: '', reminder_type: 'SMS & Email', sex: null, state: '',
    title: '', time_zone: null,
  };
  applyPatientInput(p, requireObject(body));
  ctx.state.patients.set(p.id, p);
  return p;
}

export function updatePatient(state, p, body, now) {
  const draft = structuredClone(p);
  applyPatientInput(draft, requireObject(body));
  Object.assign(p, draft, { updated_at: now });
  return p;
}

// ---------------------------------------------------------------- appointments

function appointmentInput(ctx, a, input, creating) {
  const { state } = ctx;
  const errors = {};
  const refs = [
    ['patient_id', 'patient', state.patients],
    ['practitioner_id', 'practitioner', state.practitioners],
    ['appointment_type_id', 'appointment_type', state.appointmentTypes],
    ['business_id', 'business', state.businesses],
  ];
  for (const [field, name, map] of refs) {
    if (!(field in input)) continue;
    const v = idOf(input[field]);
    if (v === null || v === undefined || v === '') errors[field] = BLANK;
    else if (typeof v !== 'string' || !map.has(v)) errors[name] = 'must exist';
    else a[field] = v;
  }
  if ('starts_at' in input) {
    const ms = instant(input.starts_at);
    if (input.starts_at === null || input.starts_at === '') errors.starts_at = BLANK;
    else if (ms === undefined) errors.starts_at = 'is invalid';
    else a.starts_at = ms;
  }
  let endsGiven = false;
  if ('ends_at' in input) {
    endsGiven = true;
    if (input.ends_at === null) a.ends_at = null;
    else {
      const ms = instant(input.ends_at);
      if (ms === undefined) errors.ends_at = 'is invalid';
      else a.ends_at = ms;
    }
  }
  for (const f of ['did_not_arrive', 'patient_arrived']) {
    if (f in input) {
      if (typeof input[f] !== 'boolean') errors[f] = 'is invalid';
      else a[f] = input[f];
    }
  }
  if ('notes' in input) {
    if (input.notes !== null && typeof input.notes !== 'string') errors.notes = 'is invalid';
    else a.notes = input.notes;
  }
  if (creating) {
    // sections/individual_appointments.md "Create Individual Appointment" example sends starts_at,
    // patient_id, practitioner_id, appointment_type_id and business_id; all are required.
    for (const f of ['starts_at', 'patient_id', 'practitioner_id', 'appointment_type_id', 'business_id']) {
      const reported = f in errors || f.replace(/_id$/, '') in errors;
      if ((a[f] === null || a[f] === undefined) && !reported) errors[f] = BLANK;
    }
  }
  if (Object.keys(errors).length) throw validationFailed(errors);
  const type = state.appointmentTypes.get(a.appointment_type_id);
  // "Create Individual Appointment" Notes: "If not provided, the ends_at is automatically set based upon the
  // duration of the appointment_type." "Update Individual Appointment" Notes: "If ends_at is specified and its
  // value is null, it is automatically set ..." -- an update that omits ends_at leaves it as it was.
  if ((creating && !endsGiven) || a.ends_at === null) a.ends_at = a.starts_at + type.duration_in_minutes * 60_000;
  if (!(a.ends_at > a.starts_at)) throw validationFailed({ ends_at: 'must be after starts at' });
  const practitioner = state.practitioners.get(a.practitioner_id);
  // sections/practitioners.md: "You can only create appointments for practitioners"; an inactive one is refused (a choice).
  if (!practitioner.active) throw validationFailed({ practitioner: 'is not active' });
}

export function createAppointment(ctx, body) {
  const now = ctx.now;
  const a = {
    id: ctx.nextId(), created_at: now, updated_at: now, booking_ip_address: null, cancellation_note: null,
    cancellation_reason: null, cancelled_at: null, deleted_at: null, archived_at: null, did_not_arrive: false,
    email_reminder_sent: false, sms_reminder_sent: false, invoice_status: null, notes: null,
    online_booking_policy_accepted: null, patient_arrived: false, repeat_rule: {}, repeats: null, repeated_from_id: null,
    starts_at: null, ends_at: null, patient_id: null, practitioner_id: null, appointment_type_id: null, business_id: null,
  };
  appointmentInput(ctx, a, requireObject(body), true);
  // Cliniko's docs never say overlapping appointments are refused (there is a "conflicts" endpoint
  // instead), so the peer books overlaps too.
  ctx.state.appointments.set(a.id, a);
  return a;
}

export function updateAppointment(ctx, a, body) {
  const draft = structuredClone(a);
  appointmentInput(ctx, draft, requireObject(body), false);
  Object.assign(a, draft, { updated_at: ctx.now });
  return a;
}

export function cancelAppointment(ctx, a, body) {
  const input = requireObject(body);
  const reason = input.cancellation_reason;
  // sections/individual_appointments.md "Cancel Individual Appointment": "The cancellation_reason
  // information is mandatory", one of the "Cancellation Reason Codes".
  if (reason === undefined || reason === null || reason === '') throw validationFailed({ cancellation_reason: BLANK });
  if (!Object.hasOwn(CANCELLATION_REASONS, String(reason)) || !/^\d+$/.test(String(reason))) {
    throw validationFailed({ cancellation_reason: 'is not included in the list' });
  }
  if (input.cancellation_note !== undefined && input.cancellation_note !== null && typeof input.cancellation_note !== 'string') {
    throw validationFailed({ cancellation_note: 'is invalid' });
  }
  a.cancellation_reason = Number(reason);
  a.cancellation_note = input.cancellation_note ?? null;
  a.cancelled_at ??= ctx.now;
  a.updated_at = ctx.now;
}

const isBooked = (a) => !a.cancelled_at && !a.deleted_at && !a.archived_at;

// ---------------------------------------------------------------- availability

const INVALID_TIME_FRAME = 'Invalid time frame definition. Please check from/to param limitations.';

function slots(state, business, practitioner, type, fromDate, toDate, nowMs) {
  const { settings } = state;
  // sections/available_times.md "IMPORTANT EXTRA INFORMATION": no available times for businesses,
  // appointment types or practitioners not enabled for online bookings.
  if (!settings.online_bookings.enabled || !business.show_in_online_bookings || !practitioner.show_in_online_bookings || !type.show_in_online_bookings) return [];
  // sections/practitioners.md "Get Practitioners": practitioners belong to businesses and offer appointment types.
  if (!practitioner.active || !practitioner.business_ids.includes(business.id) || !practitioner.appointment_type_ids.includes(type.id) || type.archived_at) return [];
  const tz = business.time_zone_identifier;
  const today = localDate(tz, nowMs);
  // "Minimum advance time required for online bookings" (settings online_bookings.min_hours_advance_required_to_book).
  const earliest = nowMs + (settings.online_bookings.min_hours_advance_required_to_book ?? 0) * 3600_000;
  // "How far ahead bookings are offered" (28/84/182/365 days).
  const horizon = zonedToUtc(tz, addDays(today, settings.booking_horizon_days));
  const duration = type.duration_in_minutes * 60_000;
  // Start times step by the calendar's timeslot size (sections/settings.md calendar.timeslot_size_in_minutes; a choice).
  const step = settings.calendar.timeslot_size_in_minutes;
  // "Available Times are appointment start times that are currently available for the practitioner":
  // booked (not cancelled, not deleted) appointments of the practitioner, at any business, take the time.
  const busy = [...state.appointments.values()].filter((a) => a.practitioner_id === practitioner.id && isBooked(a));
  const out = [];
  for (let date = fromDate; date <= toDate; date = addDays(date, 1)) {
    const weekday = isoWeekday(date);
    for (const da of state.dailyAvailabilities.values()) {
      if (da.practitioner_id !== practitioner.id || da.business_id !== business.id || da.day_of_week !== weekday) continue;
      for (const range of da.availabilities) {
        const end = minutesOf(range.ends_at);
        for (let t = minutesOf(range.starts_at); t * 60_000 + duration <= end * 60_000; t += step) {
          const s = zonedToUtc(tz, date, t);
          const e = s + duration;
          if (s < earliest || s >= horizon) continue;
          if (busy.some((a) => s < a.ends_at && e > a.starts_at)) continue;
          out.push(s);
        }
      }
    }
  }
  // readme.md@7bd5449 "Ordering": "Availability times ... are always returned chronologically."
  return [...new Set(out)].sort((x, y) => x - y);
}

function availabilityTargets(ctx, m) {
  const { state } = ctx;
  return {
    business: find(state.businesses, m[1]),
    practitioner: find(state.practitioners, m[2]),
    type: find(state.appointmentTypes, m[3]),
  };
}

function availableTimes(ctx, m) {
  const { business, practitioner, type } = availabilityTargets(ctx, m);
  const sp = ctx.url.searchParams;
  const from = sp.get('from');
  const to = sp.get('to');
  // sections/available_times.md "Get Available Times": from and to are required dates; at most 7 days
  // apart ("the maximum time period you can request is 7 days" -- read as 7 calendar days including both
  // ends, so to - from <= 6; see README); not older than the current date in the account's time zone;
  // otherwise 400 with "Invalid time frame definition. Please check from/to param limitations."
  const today = localDate(business.time_zone_identifier, ctx.now);
  if (!isCalendarDate(from) || !isCalendarDate(to) || to < from || daysBetween(from, to) > ctx.config.maxSpanDays - 1 || from < today) {
    throw message(400, INVALID_TIME_FRAME);
  }
  const starts = slots(ctx.state, business, practitioner, type, from, to, ctx.now);
  return { status: 200, body: paginate(ctx, starts, 'available_times', (s) => ({ appointment_start: isoSeconds(s) })) };
}

function nextAvailableTime(ctx, m) {
  const { business, practitioner, type } = availabilityTargets(ctx, m);
  // sections/available_times.md "Next Available Time": {appointment_start, links.self}; searched up
  // to "How far ahead bookings are offered". With none, appointment_start is null (a choice).
  const today = localDate(business.time_zone_identifier, ctx.now);
  let found = null;
  for (let d = 0; d <= ctx.state.settings.booking_horizon_days && found === null; d += 7) {
    const s = slots(ctx.state, business, practitioner, type, addDays(today, d), addDays(today, d + 6), ctx.now);
    if (s.length) found = s[0];
  }
  return { status: 200, body: { appointment_start: found === null ? null : isoSeconds(found), links: { self: `${ctx.base}${ctx.path}` } } };
}

// ---------------------------------------------------------------- treatment notes

const QUESTION_TYPES = ['text', 'paragraph', 'checkboxes', 'radiobuttons', 'date'];

function sanitizeParagraph(html) {
  // sections/treatment_notes.md "Permitted HTML in paragraph answers": only div and br survive;
  // \n, \r and \t are stripped; content inside other tags' angle brackets is stripped.
  return html.replace(/[\n\r\t]/g, '').replace(/<(?!\/?(div|br)\b)[^>]*>/gi, '');
}

function validateContent(content) {
  // sections/treatment_notes.md "Treatment Note Content Schema".
  const bad = (where, what) => validationFailed({ content: `${where} ${what}` });
  if (content === null) return null;
  if (!Array.isArray(content.sections)) return content;
  if (content.sections.length === 0) throw bad('sections', 'is an empty array (omit it and send content: null)');
  content.sections.forEach((section, i) => {
    const at = `sections[${i}]`;
    if (!section || typeof section !== 'object') throw bad(at, 'must be an object');
    if (section.name !== undefined && (typeof section.name !== 'string' || section.name.length > 255)) throw bad(`${at}.name`, 'is invalid');
    if (section.description !== undefined && (typeof section.description !== 'string' || section.description.length > 10000)) throw bad(`${at}.description`, 'is invalid');
    if (section.questions === undefined) return;
    if (!Array.isArray(section.questions) || section.questions.length === 0) throw bad(`${at}.questions`, 'must be a non-empty array');
    section.questions.forEach((q, j) => {
      const qat = `${at}.questions[${j}]`;
      if (!q || typeof q !== 'object') throw bad(qat, 'must be an object');
      if (typeof q.name !== 'string' || !q.name || q.name.length > 255) throw bad(`${qat}.name`, 'is required');
      if (!QUESTION_TYPES.includes(q.type)) throw bad(`${qat}.type`, 'is not included in the list');
      if (q.answer !== undefined) {
        if (!['text', 'paragraph', 'date'].includes(q.type)) throw bad(`${qat}.answer`, 'is only accepted for text, paragraph and date questions');
        if (typeof q.answer !== 'string' || q.answer === '') throw bad(`${qat}.answer`, 'must be a non-empty string');
        if (q.type === 'date' && !isCalendarDate(q.answer)) throw bad(`${qat}.answer`, 'must be YYYY-MM-DD');
        if (q.type === 'paragraph') q.answer = sanitizeParagraph(q.answer);
      }
      if (q.answers !== undefined) {
        if (!['checkboxes', 'radiobuttons'].includes(q.type)) throw bad(`${qat}.answers`, 'is only accepted for checkboxes and radiobuttons questions');
        if (!Array.isArray(q.answers) || q.answers.length === 0) throw bad(`${qat}.answers`, 'must be a non-empty array');
        for (const a of q.answers) {
          if (!a || typeof a !== 'object' || (a.value !== undefined && a.value !== null && (typeof a.value !== 'string' || a.value.length > 255))) throw bad(`${qat}.answers`, 'is invalid');
          if (a.selected !== undefined && a.selected !== true) throw bad(`${qat}.answers`, 'selected only accepts true');
        }
        if (q.type === 'radiobuttons' && q.answers.filter((a) => a.selected).length > (q.other?.selected ? 0 : 1)) throw bad(`${qat}.answers`, 'has more than one selected answer');
      }
    });
  });
  return content;
}

function treatmentNoteInput(ctx, n, input, creating) {
  const { state } = ctx;
  const errors = {};
  if ('content' in input) {
    // cliniko-api issue #254: content sent as a string -> 422 {"message":"must be an object"}.
    if (input.content !== null && (typeof input.content !== 'object' || Array.isArray(input.content))) throw new ApiError(422, { message: 'must be an object' });
    n.content = validateContent(structuredClone(input.content));
  }
  if ('draft' in input) {
    if (typeof input.draft !== 'boolean') errors.draft = 'is invalid';
    else n.draft = input.draft;
  }
  if (creating) {
    const pid = idOf(input.patient_id);
    if (pid === undefined || pid === null || pid === '') errors.patient_id = BLANK;
    else if (!state.patients.has(pid)) errors.patient = 'must exist';
    else n.patient_id = pid;
    const tid = idOf(input.treatment_note_template_id);
    if (tid !== undefined && tid !== null) {
      if (!state.treatmentNoteTemplates.has(tid)) errors.treatment_note_template = 'must exist';
      else n.treatment_note_template_id = tid;
    }
    // "Create Treatment Note": "you may link a treatment note to an appointment by adding the booking_id parameter".
    const bid = idOf(input.booking_id);
    if (bid !== undefined && bid !== null) {
      if (!state.appointments.has(bid)) errors.booking = 'must exist';
      else n.booking_id = bid;
    }
  }
  if (Object.keys(errors).length) throw validationFailed(errors);
}

// ---------------------------------------------------------------- attachments

export function completeProcessing(state, attachment, objectKey) {
  // guides/uploading_patient_attachments.md "Cliniko will process the file": afterwards filename etc. are
  // filled in and "the file will no longer exist at the temp location where you uploaded it".
  const object = state.objects.get(objectKey);
  if (!object || state.attachments.get(attachment.id) !== attachment) return;
  const key = `${state.settings.account.id}/patients/${attachment.patient_id}/attachments/${attachment.id}/${object.filename}`;
  state.objects.delete(objectKey);
  state.objects.set(key, { ...object, key, temp: false });
  Object.assign(attachment, {
    object_key: key, content_type: object.contentType, filename: object.filename, size: object.bytes.length,
    processing_completed: true, updated_at: Date.now(),
  });
}

// ---------------------------------------------------------------- routing

const ID = '(\\d+)';
const routes = [];
const route = (method, pattern, handler) => routes.push({ method, re: new RegExp(`^${pattern}$`), handler });

// Businesses (sections/businesses.md)
route('GET', '/businesses', (ctx) => list(ctx, [...ctx.state.businesses.values()], 'businesses', BUSINESS_FILTERS, businessJson));
route('GET', `/businesses/${ID}`, (ctx, m) => ({ status: 200, body: businessJson(ctx, find(ctx.state.businesses, m[1])) }));

// Practitioners (sections/practitioners.md "Get Practitioners" / "Get Inactive Practitioners")
const practitioners = (ctx, active, pred = () => true) => [...ctx.state.practitioners.values()].filter((p) => p.active === active && pred(p));
route('GET', '/practitioners', (ctx) => list(ctx, practitioners(ctx, true), 'practitioners', PRACTITIONER_FILTERS, practitionerJson));
route('GET', '/practitioners/inactive', (ctx) => list(ctx, practitioners(ctx, false), 'practitioners', PRACTITIONER_FILTERS, practitionerJson));
route('GET', `/practitioners/${ID}`, (ctx, m) => ({ status: 200, body: practitionerJson(ctx, find(ctx.state.practitioners, m[1])) }));
route('GET', `/businesses/${ID}/practitioners`, (ctx, m) => {
  const b = find(ctx.state.businesses, m[1]);
  return list(ctx, practitioners(ctx, true, (p) => p.business_ids.includes(b.id)), 'practitioners', PRACTITIONER_FILTERS, practitionerJson);
});
route('GET', `/businesses/${ID}/practitioners/inactive`, (ctx, m) => {
  const b = find(ctx.state.businesses, m[1]);
  return list(ctx, practitioners(ctx, false, (p) => p.business_ids.includes(b.id)), 'practitioners', PRACTITIONER_FILTERS, practitionerJson);
});
route('GET', `/appointment_types/${ID}/practitioners`, (ctx, m) => {
  const t = find(ctx.state.appointmentTypes, m[1]);
  return list(ctx, practitioners(ctx, true, (p) => p.appointment_type_ids.includes(t.id)), 'practitioners', PRACTITIONER_FILTERS, practitionerJson);
});

// Appointment types (sections/appointment_types.md)
const types = (ctx, archived, pred = () => true) => [...ctx.state.appointmentTypes.values()].filter((t) => !!t.archived_at === archived && pred(t));
route('GET', '/appointment_types', (ctx) => list(ctx, types(ctx, false), 'appointment_types', APPOINTMENT_TYPE_FILTERS, appointmentTypeJson));
route('GET', '/appointment_types/archived', (ctx) => list(ctx, types(ctx, true), 'appointment_types', APPOINTMENT_TYPE_FILTERS, appointmentTypeJson));
route('GET', `/appointment_types/${ID}`, (ctx, m) => ({ status: 200, body: appointmentTypeJson(ctx, find(ctx.state.appointmentTypes, m[1])) }));
// "GET /practitioners/:id/appointment_types get all appointment types offered by the specified practitioner"
route('GET', `/practitioners/${ID}/appointment_types`, (ctx, m) => {
  const p = find(ctx.state.practitioners, m[1]);
  return list(ctx, types(ctx, false, (t) => p.appointment_type_ids.includes(t.id)), 'appointment_types', APPOINTMENT_TYPE_FILTERS, appointmentTypeJson);
});

// Daily availabilities (sections/daily_availabilities.md)
const availabilities = (ctx, pred) => [...ctx.state.dailyAvailabilities.values()].filter(pred);
route('GET', '/daily_availabilities', (ctx) => list(ctx, availabilities(ctx, () => true), 'daily_availabilities', DAILY_AVAILABILITY_FILTERS, dailyAvailabilityJson));
route('GET', `/daily_availabilities/${ID}`, (ctx, m) => ({ status: 200, body: dailyAvailabilityJson(ctx, find(ctx.state.dailyAvailabilities, m[1])) }));
route('GET', `/businesses/${ID}/daily_availabilities`, (ctx, m) => {
  const b = find(ctx.state.businesses, m[1]);
  return list(ctx, availabilities(ctx, (d) => d.business_id === b.id), 'daily_availabilities', DAILY_AVAILABILITY_FILTERS, dailyAvailabilityJson);
});
route('GET', `/practitioners/${ID}/daily_availabilities`, (ctx, m) => {
  const p = find(ctx.state.practitioners, m[1]);
  return list(ctx, availabilities(ctx, (d) => d.practitioner_id === p.id), 'daily_availabilities', DAILY_AVAILABILITY_FILTERS, dailyAvailabilityJson);
});

// Available times (sections/available_times.md)
route('GET', `/businesses/${ID}/practitioners/${ID}/appointment_types/${ID}/available_times`, availableTimes);
route('GET', `/businesses/${ID}/practitioners/${ID}/appointment_types/${ID}/next_available_time`, nextAvailableTime);

// Settings (sections/settings.md)
route('GET', '/settings', (ctx) => {
  // "Get Settings": "only accessible to users with a role that can view settings" (403 for others; status a choice).
  if (ctx.user.role !== 'administrator') throw message(403, 'You are not authorized to access this resource');
  const s = ctx.state.settings;
  return { status: 200, body: { terminology: { patient: 'patient' }, account: s.account, calendar: s.calendar, online_bookings: s.online_bookings, patient_custom_fields_definition: { sections: [] }, reminders: s.reminders, links: { self: `${ctx.base}/settings` } } };
});
route('GET', '/settings/public', (ctx) => {
  // "Get Public Settings": accessible to any authenticated user; account without the admin contact.
  const s = ctx.state.settings;
  const { admin, email_from, ...account } = s.account;
  return { status: 200, body: { terminology: { patient: 'patient' }, account, calendar: s.calendar, online_bookings: s.online_bookings, patient_custom_fields_definition: { sections: [] }, reminders: s.reminders, links: { self: `${ctx.base}/settings/public` } } };
});

// Patients (sections/patients.md)
const livePatient = (p) => !p.deleted_at;
route('GET', '/patients', (ctx) => list(ctx, [...ctx.state.patients.values()].filter((p) => livePatient(p) && !p.archived_at), 'patients', PATIENT_FILTERS, patientJson));
route('GET', '/patients/archived', (ctx) => list(ctx, [...ctx.state.patients.values()].filter((p) => livePatient(p) && p.archived_at), 'patients', PATIENT_FILTERS, patientJson));
route('GET', `/patients/${ID}`, (ctx, m) => ({ status: 200, body: patientJson(ctx, find(ctx.state.patients, m[1], livePatient)) }));
route('POST', '/patients', (ctx) => {
  const p = createPatient(ctx, ctx.body);
  const body = patientJson(ctx, p);
  // "Create Patient": 201 with a Location header.
  return { status: 201, body, headers: { Location: body.links.self } };
});
// "Update Patient": PUT /patients/:id (the newer docs use PATCH; both are accepted, with the same partial-update meaning).
for (const method of ['PUT', 'PATCH']) {
  route(method, `/patients/${ID}`, (ctx, m) => ({ status: 200, body: patientJson(ctx, updatePatient(ctx.state, find(ctx.state.patients, m[1], livePatient), ctx.body, ctx.now)) }));
}
route('POST', `/patients/${ID}/archive`, (ctx, m) => {
  // "Archive Patient": 204 no content.
  const p = find(ctx.state.patients, m[1], livePatient);
  p.archived_at ??= ctx.now;
  p.updated_at = ctx.now;
  return { status: 204 };
});
route('POST', `/patients/${ID}/unarchive`, (ctx, m) => {
  // "Unarchive Patient": answers the patient.
  const p = find(ctx.state.patients, m[1], livePatient);
  p.archived_at = null;
  p.updated_at = ctx.now;
  return { status: 200, body: patientJson(ctx, p) };
});

// Individual appointments (sections/individual_appointments.md)
const appointments = (ctx, pred) => [...ctx.state.appointments.values()].filter(pred);
// "Get Individual Appointments": the docs do not say whether cancelled ones are left out; the peer
// includes them (with cancelled_at set) and leaves out deleted ones (own list "Get Deleted ...").
route('GET', '/individual_appointments', (ctx) => list(ctx, appointments(ctx, (a) => !a.deleted_at && !a.archived_at), 'individual_appointments', APPOINTMENT_FILTERS, appointmentJson));
route('GET', '/individual_appointments/cancelled', (ctx) => list(ctx, appointments(ctx, (a) => !a.deleted_at && a.cancelled_at), 'individual_appointments', APPOINTMENT_FILTERS, appointmentJson));
route('GET', '/individual_appointments/deleted', (ctx) => list(ctx, appointments(ctx, (a) => a.deleted_at), 'individual_appointments', APPOINTMENT_FILTERS, appointmentJson));
const liveAppointment = (a) => !a.deleted_at;
route('GET', `/individual_appointments/${ID}`, (ctx, m) => ({ status: 200, body: appointmentJson(ctx, find(ctx.state.appointments, m[1], liveAppointment)) }));
route('GET', `/individual_appointments/${ID}/conflicts`, (ctx, m) => {
  // "Get Conflicts": {"conflicts": {"exist": bool}} -- another booked appointment of the practitioner overlaps.
  const a = find(ctx.state.appointments, m[1], liveAppointment);
  const exist = [...ctx.state.appointments.values()].some((b) => b.id !== a.id && isBooked(b) && b.practitioner_id === a.practitioner_id && a.starts_at < b.ends_at && a.ends_at > b.starts_at);
  return { status: 200, body: { conflicts: { exist } } };
});
route('POST', '/individual_appointments', (ctx) => {
  const body = appointmentJson(ctx, createAppointment(ctx, ctx.body));
  // "Create Individual Appointment": 201 with a Location header.
  return { status: 201, body, headers: { Location: body.links.self } };
});
// "Update Individual Appointment": PUT (the newer docs: PATCH); reschedule, reassign, did_not_arrive.
for (const method of ['PUT', 'PATCH']) {
  route(method, `/individual_appointments/${ID}`, (ctx, m) => ({ status: 200, body: appointmentJson(ctx, updateAppointment(ctx, find(ctx.state.appointments, m[1], liveAppointment), ctx.body)) }));
}
route('PATCH', `/individual_appointments/${ID}/cancel`, (ctx, m) => {
  // "Cancel Individual Appointment": PATCH .../cancel, 204 no content.
  cancelAppointment(ctx, find(ctx.state.appointments, m[1], liveAppointment), ctx.body);
  return { status: 204 };
});
route('DELETE', `/individual_appointments/${ID}`, (ctx, m) => {
  // "Delete Individual Appointment": 204 no content.
  const a = find(ctx.state.appointments, m[1], liveAppointment);
  a.deleted_at = ctx.now;
  a.updated_at = ctx.now;
  return { status: 204 };
});

// Treatment note templates (sections/treatment_note_templates.md)
route('GET', '/treatment_note_templates', (ctx) => list(ctx, [...ctx.state.treatmentNoteTemplates.values()].filter((t) => !t.deleted_at), 'treatment_note_templates', TEMPLATE_FILTERS, templateJson));
route('GET', `/treatment_note_templates/${ID}`, (ctx, m) => ({ status: 200, body: templateJson(ctx, find(ctx.state.treatmentNoteTemplates, m[1], (t) => !t.deleted_at)) }));

// Treatment notes (sections/treatment_notes.md)
const liveNote = (n) => !n.deleted_at;
route('GET', '/treatment_notes', (ctx) => list(ctx, [...ctx.state.treatmentNotes.values()].filter(liveNote), 'treatment_notes', TREATMENT_NOTE_FILTERS, treatmentNoteJson));
route('GET', '/treatment_notes/deleted', (ctx) => list(ctx, [...ctx.state.treatmentNotes.values()].filter((n) => n.deleted_at), 'treatment_notes', TREATMENT_NOTE_FILTERS, treatmentNoteJson));
// docs.api.cliniko.com "Treatment Note" operations: GET /patients/{patient_id}/treatment_notes.
route('GET', `/patients/${ID}/treatment_notes`, (ctx, m) => {
  const p = find(ctx.state.patients, m[1], livePatient);
  return list(ctx, [...ctx.state.treatmentNotes.values()].filter((n) => liveNote(n) && n.patient_id === p.id), 'treatment_notes', TREATMENT_NOTE_FILTERS, treatmentNoteJson);
});
route('GET', `/treatment_notes/${ID}`, (ctx, m) => ({ status: 200, body: treatmentNoteJson(ctx, find(ctx.state.treatmentNotes, m[1], liveNote)) }));
route('POST', '/treatment_notes', (ctx) => {
  // "Create Treatment Note": "the treatment note author will be the practitioner linked to the API key";
  // "Only users that are also practitioners may create treatment notes" (403 for others; status a choice).
  const practitioner = ctx.user.practitioner_id ? ctx.state.practitioners.get(ctx.user.practitioner_id) : null;
  if (!practitioner) throw message(403, 'Only users that are also practitioners may create treatment notes');
  const input = requireObject(ctx.body);
  const n = {
    id: null, created_at: ctx.now, updated_at: ctx.now, deleted_at: null,
    // draft defaults to true when not sent (the docs do not say; a choice).
    draft: true, content: null, patient_id: null, booking_id: null, attendee_id: null, treatment_note_template_id: null,
    practitioner_id: practitioner.id, author_name: practitioner.label,
  };
  treatmentNoteInput(ctx, n, input, true);
  n.id = ctx.nextId();
  // The title is the template's name (the docs' examples: title "Standard Consultation" = template name).
  n.title = n.treatment_note_template_id ? ctx.state.treatmentNoteTemplates.get(n.treatment_note_template_id).name : 'Treatment note';
  ctx.state.treatmentNotes.set(n.id, n);
  const body = treatmentNoteJson(ctx, n);
  return { status: 201, body, headers: { Location: body.links.self } };
});
for (const method of ['PUT', 'PATCH']) {
  // "Update Treatment Note": PUT (the newer docs: PATCH) with draft and/or content.
  route(method, `/treatment_notes/${ID}`, (ctx, m) => {
    const n = find(ctx.state.treatmentNotes, m[1], liveNote);
    const draft = structuredClone(n);
    treatmentNoteInput(ctx, draft, requireObject(ctx.body), false);
    Object.assign(n, draft, { updated_at: ctx.now });
    return { status: 200, body: treatmentNoteJson(ctx, n) };
  });
}
route('DELETE', `/treatment_notes/${ID}`, (ctx, m) => {
  // "Delete Treatment Note": 204.
  const n = find(ctx.state.treatmentNotes, m[1], liveNote);
  n.deleted_at = ctx.now;
  n.updated_at = ctx.now;
  return { status: 204 };
});

// Patient attachments (sections/patient_attachments.md, guides/uploading_patient_attachments.md)
const liveAttachment = (a) => !a.deleted_at;
route('GET', `/patients/${ID}/attachment_presigned_post`, (ctx, m) => {
  const p = find(ctx.state.patients, m[1], livePatient);
  return { status: 200, body: presignPost(ctx.state, ctx.origin, ctx.state.settings.account.id, p.id, ctx.now) };
});
route('GET', '/patient_attachments', (ctx) => list(ctx, [...ctx.state.attachments.values()].filter(liveAttachment), 'patient_attachments', ATTACHMENT_FILTERS, attachmentJson));
route('GET', `/patients/${ID}/patient_attachments`, (ctx, m) => {
  const p = find(ctx.state.patients, m[1], livePatient);
  return list(ctx, [...ctx.state.attachments.values()].filter((a) => liveAttachment(a) && a.patient_id === p.id), 'patient_attachments', ATTACHMENT_FILTERS, attachmentJson);
});
route('GET', `/patient_attachments/${ID}`, (ctx, m) => ({ status: 200, body: attachmentJson(ctx, find(ctx.state.attachments, m[1], liveAttachment)) }));
route('POST', '/patient_attachments', (ctx) => {
  const input = requireObject(ctx.body);
  const errors = {};
  const pid = idOf(input.patient_id);
  if (pid === undefined || pid === null || pid === '') errors.patient_id = BLANK;
  else if (!ctx.state.patients.has(pid)) errors.patient = 'must exist';
  // guides/uploading_patient_attachments.md "Create a patient attachment record in Cliniko": upload_url =
  // the presigned post's url + the Key from S3's XML; it must name an uploaded temp object of that patient.
  const key = keyFromUploadUrl(ctx.origin, input.upload_url);
  const object = key ? ctx.state.objects.get(key) : null;
  if (input.upload_url === undefined || input.upload_url === null || input.upload_url === '') errors.upload_url = BLANK;
  else if (!object || !object.temp || (pid && object.patientId !== pid)) errors.upload_url = 'is invalid';
  if (input.description !== undefined && input.description !== null && typeof input.description !== 'string') errors.description = 'is invalid';
  if (Object.keys(errors).length) throw validationFailed(errors);
  const a = {
    id: ctx.nextId(), created_at: ctx.now, updated_at: ctx.now, deleted_at: null,
    // sections/patient_attachments.md "Create Patient Attachment" example: content_type, filename and size
    // null and processing_completed false until processing is done.
    content_type: null, filename: null, size: null, processing_completed: false,
    description: input.description ?? null, patient_id: pid, user_id: ctx.user.id, object_key: null, upload_key: key,
  };
  ctx.state.attachments.set(a.id, a);
  const state = ctx.state;
  setTimeout(() => completeProcessing(state, a, key), ctx.config.processingMs).unref();
  const body = attachmentJson(ctx, a);
  // guides/uploading_patient_attachments.md: "A successful create will return a 201".
  return { status: 201, body, headers: { Location: body.links.self } };
});
route('GET', `/patient_attachments/${ID}/content`, (ctx, m) => {
  const a = find(ctx.state.attachments, m[1], liveAttachment);
  // guides/uploading_patient_attachments.md "Cliniko will process the file": follow the record's URL to
  // access the file. The docs do not say how content is delivered; the peer redirects (302) to a
  // short-lived presigned URL of its S3 stand-in, or serves the bytes itself in contentMode "inline".
  if (!a.processing_completed) throw notFound();
  if (ctx.config.contentMode === 'inline') {
    const object = ctx.state.objects.get(a.object_key);
    return { status: 200, raw: object.bytes, headers: { 'Content-Type': object.contentType, 'Content-Disposition': `attachment; filename="${encodeURIComponent(object.filename)}"` } };
  }
  return { status: 302, headers: { Location: presignGet(ctx.origin, a.object_key, ctx.now) } };
});
route('DELETE', `/patient_attachments/${ID}`, (ctx, m) => {
  // "Delete Patient Attachment": 204.
  const a = find(ctx.state.attachments, m[1], liveAttachment);
  a.deleted_at = ctx.now;
  a.updated_at = ctx.now;
  return { status: 204 };
});

/** Route one authenticated /v1 request. ctx.path is the part after /v1. */
export function dispatch(ctx) {
  let pathMatched = false;
  for (const r of routes) {
    const m = r.re.exec(ctx.path);
    if (!m) continue;
    pathMatched = true;
    if (r.method === ctx.method) return r.handler(ctx, m);
  }
  // Unknown routes and methods: 404 in the {"message"} shape (the docs say nothing; a choice).
  if (pathMatched) throw message(404, 'Not found');
  throw notFound();
}

