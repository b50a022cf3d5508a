// The peer's fixed seed: one account (shard eu1), one business in Stockholm, practitioners,
// appointment types, weekly availability, patients and a little history. Every id is fixed;
// appointment times are placed relative to "today" in the business time zone.
import { addDays, isoWeekday, localDate, minutesOf, zonedToUtc } from './timezone.mjs';

// cliniko-api commits ee892ab/5b97157 "Stringify IDs"/"Update ID format" and sections/appointment_types.md
// example ("id": "514810976034364376"): ids are large integers serialised as JSON strings.
// The peer uses 19-digit ids (above 2^53, below 2^63) so a client that parses them as doubles breaks.
const id = (prefix, n) => `${prefix}${String(n).padStart(17, '0')}`;

// cliniko-api readme.md@7bd5449 "Base URL & shards": the shard is appended to the API key
// ("...-au2"); "Current regions and their shards": EU = eu1. This account lives in eu1.
export const SHARD = 'eu1';

export const IDS = {
  account: id(10, 1),
  business: id(11, 1),
  practitioners: {
    anna: id(12, 1), // at the business, user of the admin key
    erik: id(12, 2), // at the business
    maria: id(12, 3), // at the business
    johan: id(12, 4), // active, NOT at the business (no business, no availability)
    karl: id(12, 5), // inactive (GET /practitioners/inactive only)
  },
  appointmentTypes: {
    nybesok: id(13, 1), // 30 min, offered by Anna, Erik, Maria, Johan
    aterbesok: id(13, 2), // 15 min, offered by Anna and Erik
    intern: id(13, 3), // 60 min, Anna only, NOT shown in online bookings -> no available times
  },
  patients: {
    tolvan: id(14, 1),
    svenSvensson: id(14, 2),
    asaSvensson: id(14, 3),
    martaSvanberg: id(14, 4),
    orjanSvard: id(14, 5),
    bjornLindstrom: id(14, 6),
    karinAkesson: id(14, 7),
    larsStrom: id(14, 8),
    anglaNystrom: id(14, 9),
    sveaEk: id(14, 10),
    arkivArkivsson: id(14, 11), // archived
  },
  users: { anna: id(15, 1), reception: id(15, 2) },
  treatmentNoteTemplates: { standard: id(16, 1), aterbesok: id(16, 2) },
  appointments: {
    tolvanArrived: id(18, 1), // past, patient_arrived
    tolvanDidNotArrive: id(18, 2), // past, did_not_arrive
    svenCancelled: id(18, 3), // past, cancelled (reason 30)
  },
  treatmentNotes: { tolvanFinal: id(19, 1) },
};

// cliniko-api readme.md@7bd5449 "Authentication": the API key is the basic-auth username; keys
// carry the shard suffix, and guides/sharding.md "Using shard-aware API keys": the key works with
// or without it. Two users: a practitioner with full rights and a receptionist (not a practitioner).
export const API_KEYS = {
  admin: `MS0xLXZhcmRicm8tcGVlci1hbm5h-${SHARD}`,
  reception: `MS0yLXZhcmRicm8tcGVlci1yZWNlcHRpb24-${SHARD}`,
};

// docs.api.cliniko.com guides "Time zone support": resources carry a label (`time_zone`, one of the
// accepted labels, here "Stockholm") and an IANA `time_zone_identifier` (here Europe/Stockholm).
export const TIME_ZONE = 'Europe/Stockholm';
export const TIME_ZONE_LABEL = 'Stockholm';

const T0 = Date.parse('2024-01-15T08:00:00Z'); // seed creation times count up from here

function patient(pid, n, fields) {
  const at = T0 + n * 3600_000;
  return {
    id: pid,
    created_at: at,
    updated_at: at,
    accepted_privacy_policy: true,
    accepted_email_marketing: false,
    accepted_sms_marketing: false,
    address_1: '',
    address_2: '',
    address_3: '',
    archived_at: null,
    city: 'Tolvstad',
    country: 'Sweden',
    custom_fields: null,
    date_of_birth: null,
    deleted_at: null,
    dva_card_number: '',
    email: '',
    emergency_contact: '',
    first_name: '',
    invoice_default_to: '',
    invoice_email: '',
    invoice_extra_information: '',
    gender: null,
    gender_identity: null,
    last_name: '',
    medicare: '',
    medicare_reference_number: '',
    notes: '',
    appointment_notes: '',
    occupation: '',
    old_reference_id: '',
    patient_phone_numbers: [],
    post_code: '123 45',
    preferred_first_name: null,
    pronouns: null,
    receives_confirmation_emails: true,
    referral_source: '',
    reminder_type: 'SMS & Email',
    sex: null,
    state: '',
    title: '',
    time_zone: TIME_ZONE,
    ...fields,
  };
}

/** The first weekday (Mon-Fri) on or before a date. */
function weekdayOnOrBefore(date) {
  let d = date;
  while (isoWeekday(d) > 5) d = addDays(d, -1);
  return d;
}

export function buildSeed(nowMs) {
  const today = localDate(TIME_ZONE, nowMs);
  const at = (date, hhmm) => zonedToUtc(TIME_ZONE, date, minutesOf(hhmm));

  const users = new Map([
    [IDS.users.anna, { id: IDS.users.anna, first_name: 'Anna', last_name: 'Lindqvist', practitioner_id: IDS.practitioners.anna, role: 'administrator' }],
    [IDS.users.reception, { id: IDS.users.reception, first_name: 'Rita', last_name: 'Receptionist', practitioner_id: null, role: 'receptionist' }],
  ]);
  const apiKeys = new Map([
    [API_KEYS.admin, IDS.users.anna],
    [API_KEYS.reception, IDS.users.reception],
  ]);

  const businesses = new Map([
    [IDS.business, {
      id: IDS.business,
      created_at: T0,
      updated_at: T0,
      address_1: 'Tolvansgatan 1',
      address_2: null,
      business_name: 'Vårdcentralen Tolvan',
      business_registration_name: 'Org.nr',
      business_registration_value: '556677-8899',
      city: 'Tolvstad',
      contact_information: 'Telefon: 0123-45 67 89',
      country: 'Sweden',
      country_code: 'SE',
      display_name: null,
      email_reply_to: 'reception@tolvan.example',
      post_code: '123 45',
      show_in_online_bookings: true,
      state: null,
      website_address: 'https://tolvan.example',
      time_zone: TIME_ZONE_LABEL,
      time_zone_identifier: TIME_ZONE,
    }],
  ]);

  const P = IDS.practitioners;
  const AT = IDS.appointmentTypes;
  const prac = (pid, n, f) => [pid, {
    id: pid,
    created_at: T0 + n * 60_000,
    updated_at: T0 + n * 60_000,
    description: null,
    show_in_online_bookings: true,
    title: null,
    active: true,
    business_ids: [IDS.business],
    user_id: null,
    ...f,
    label: `${f.first_name} ${f.last_name}`,
  }];
  const practitioners = new Map([
    prac(P.anna, 1, { first_name: 'Anna', last_name: 'Lindqvist', designation: 'Läkare', title: 'Dr', user_id: IDS.users.anna, default_appointment_type_id: AT.nybesok, appointment_type_ids: [AT.nybesok, AT.aterbesok, AT.intern] }),
    prac(P.erik, 2, { first_name: 'Erik', last_name: 'Sandberg', designation: 'Sjuksköterska', default_appointment_type_id: AT.aterbesok, appointment_type_ids: [AT.nybesok, AT.aterbesok] }),
    prac(P.maria, 3, { first_name: 'Maria', last_name: 'Öberg', designation: 'Psykolog', default_appointment_type_id: AT.nybesok, appointment_type_ids: [AT.nybesok] }),
    prac(P.johan, 4, { first_name: 'Johan', last_name: 'Ek', designation: 'Fysioterapeut', business_ids: [], default_appointment_type_id: AT.nybesok, appointment_type_ids: [AT.nybesok] }),
    prac(P.karl, 5, { first_name: 'Karl', last_name: 'Inaktiv', designation: 'Läkare', active: false, default_appointment_type_id: AT.nybesok, appointment_type_ids: [AT.nybesok] }),
  ]);

  const TNT = IDS.treatmentNoteTemplates;
  const appointmentTypes = new Map([
    [AT.nybesok, { id: AT.nybesok, created_at: T0, updated_at: T0, category: 'Allmänmedicin', color: '#2E86C1', duration_in_minutes: 30, name: 'Nybesök', description: 'Första besöket', max_attendees: 1, show_in_online_bookings: true, archived_at: null, treatment_note_template_id: TNT.standard }],
    [AT.aterbesok, { id: AT.aterbesok, created_at: T0 + 1000, updated_at: T0 + 1000, category: 'Allmänmedicin', color: '#28B463', duration_in_minutes: 15, name: 'Återbesök', description: null, max_attendees: 1, show_in_online_bookings: true, archived_at: null, treatment_note_template_id: TNT.aterbesok }],
    [AT.intern, { id: AT.intern, created_at: T0 + 2000, updated_at: T0 + 2000, category: 'Internt', color: '#AAAAAA', duration_in_minutes: 60, name: 'Intern konsultation', description: 'Bokas bara av personal', max_attendees: 1, show_in_online_bookings: false, archived_at: null, treatment_note_template_id: null }],
  ]);

  const treatmentNoteTemplates = new Map([
    [TNT.standard, {
      id: TNT.standard, created_at: T0, updated_at: T0, deleted_at: null, name: 'Standardbesök',
      content: { sections: [
        { name: 'Anamnes', questions: [
          { name: 'Sökorsak', type: 'text' },
          { name: 'Aktuellt', type: 'paragraph', answer: '<div>Beskriv besvären</div>' },
        ] },
        { name: 'Bedömning', questions: [
          { name: 'Allmäntillstånd', type: 'radiobuttons', answers: [{ value: 'Gott' }, { value: 'Påverkat' }] },
          { name: 'Uppföljning', type: 'date' },
        ] },
      ] },
      print_settings: { include_patient_address: true, include_patient_dob: true, include_patient_medicare: null, include_patient_occupation: null, include_patient_reference_number: null, title: null },
    }],
    [TNT.aterbesok, {
      id: TNT.aterbesok, created_at: T0 + 1000, updated_at: T0 + 1000, deleted_at: null, name: 'Återbesök',
      content: { sections: [{ name: 'Återbesök', questions: [{ name: 'Förlopp', type: 'paragraph' }] }] },
      print_settings: { include_patient_address: true, include_patient_dob: null, include_patient_medicare: null, include_patient_occupation: null, include_patient_reference_number: null, title: null },
    }],
  ]);

  // cliniko-api sections/daily_availabilities.md: regular availability of a practitioner at a
  // business per ISO weekday (1 = Monday), as local "HH:MM" ranges. Weekdays only here.
  const weekly = {
    [P.anna]: [['08:00', '12:00'], ['13:00', '17:00']],
    [P.erik]: [['09:00', '16:00']],
    [P.maria]: [['10:00', '18:00']],
  };
  const dailyAvailabilities = new Map();
  let n = 1;
  for (const [pid, ranges] of Object.entries(weekly)) {
    for (let day = 1; day <= 5; day++) {
      const did = id(17, n++);
      dailyAvailabilities.set(did, {
        id: did, created_at: T0, updated_at: T0, practitioner_id: pid, business_id: IDS.business, day_of_week: day,
        availabilities: ranges.map(([starts_at, ends_at]) => ({ starts_at, ends_at })),
      });
    }
  }

  const PT = IDS.patients;
  const phone = (number) => [{ phone_type: 'Mobile', number }];
  const patients = new Map([
    patient(PT.tolvan, 1, { first_name: 'Tolvan', last_name: 'Tolvansson', date_of_birth: '1912-12-12', email: 'tolvan.tolvansson@example.com', gender: 'Male', sex: 'Male', address_1: 'Tolvansgatan 12', patient_phone_numbers: phone('+46701234567'), old_reference_id: '191212121212' }),
    patient(PT.svenSvensson, 2, { first_name: 'Sven', last_name: 'Svensson', date_of_birth: '1950-03-04', email: 'sven.svensson@example.com', patient_phone_numbers: phone('+46702222222') }),
    patient(PT.asaSvensson, 3, { first_name: 'Åsa', last_name: 'Svensson', date_of_birth: '1962-07-21', email: 'asa.svensson@example.com' }),
    patient(PT.martaSvanberg, 4, { first_name: 'Märta', last_name: 'Svanberg', date_of_birth: '1978-11-02' }),
    patient(PT.orjanSvard, 5, { first_name: 'Örjan', last_name: 'Svärd', date_of_birth: '1985-05-30', preferred_first_name: 'Ö' }),
    patient(PT.bjornLindstrom, 6, { first_name: 'Björn', last_name: 'Lindström', date_of_birth: '1971-10-02' }),
    patient(PT.karinAkesson, 7, { first_name: 'Karin', last_name: 'Åkesson', date_of_birth: '1940-10-12', email: 'karin.akesson@example.com' }),
    patient(PT.larsStrom, 8, { first_name: 'Lars', last_name: 'Ström', date_of_birth: '1971-10-02' }),
    patient(PT.anglaNystrom, 9, { first_name: 'Ängla', last_name: 'Nyström', date_of_birth: '1995-05-14', time_zone: null }),
    patient(PT.sveaEk, 10, { first_name: 'Svea', last_name: 'Ek', date_of_birth: '2001-01-01' }),
    patient(PT.arkivArkivsson, 11, { first_name: 'Arkiv', last_name: 'Arkivsson', date_of_birth: '1930-01-01', archived_at: T0 + 30 * 86400_000 }),
  ].map((p) => [p.id, p]));

  // A little history, all in the past so it never touches future availability.
  const A = IDS.appointments;
  const d1 = weekdayOnOrBefore(addDays(today, -14));
  const d2 = weekdayOnOrBefore(addDays(today, -7));
  const appt = (aid, f) => {
    const type = appointmentTypes.get(f.appointment_type_id);
    const starts = f.starts_at;
    return [aid, {
      id: aid,
      created_at: starts - 7 * 86400_000,
      updated_at: starts + 3600_000,
      booking_ip_address: null,
      cancellation_note: null,
      cancellation_reason: null,
      cancelled_at: null,
      deleted_at: null,
      archived_at: null,
      did_not_arrive: false,
      email_reminder_sent: true,
      sms_reminder_sent: true,
      invoice_status: null,
      notes: null,
      online_booking_policy_accepted: null,
      patient_arrived: false,
      repeat_rule: {},
      repeats: null,
      repeated_from_id: null,
      business_id: IDS.business,
      ends_at: starts + type.duration_in_minutes * 60_000,
      ...f,
    }];
  };
  const appointments = new Map([
    appt(A.tolvanArrived, { starts_at: at(d1, '10:00'), patient_id: PT.tolvan, practitioner_id: P.anna, appointment_type_id: AT.nybesok, patient_arrived: true, notes: 'Första besöket' }),
    appt(A.tolvanDidNotArrive, { starts_at: at(d2, '09:30'), patient_id: PT.tolvan, practitioner_id: P.erik, appointment_type_id: AT.aterbesok, did_not_arrive: true }),
    appt(A.svenCancelled, { starts_at: at(d2, '14:00'), patient_id: PT.svenSvensson, practitioner_id: P.anna, appointment_type_id: AT.nybesok, cancelled_at: at(d2, '08:00'), cancellation_reason: 30, cancellation_note: 'Förkyld' }),
  ]);

  const treatmentNotes = new Map([
    [IDS.treatmentNotes.tolvanFinal, {
      id: IDS.treatmentNotes.tolvanFinal,
      created_at: at(d1, '10:30'),
      updated_at: at(d1, '10:45'),
      deleted_at: null,
      draft: false,
      title: 'Standardbesök',
      author_name: 'Anna Lindqvist',
      patient_id: PT.tolvan,
      practitioner_id: P.anna,
      booking_id: A.tolvanArrived,
      attendee_id: null,
      treatment_note_template_id: TNT.standard,
      content: { sections: [{ name: 'Anamnes', questions: [{ name: 'Sökorsak', type: 'text', answer: 'Hosta sedan en vecka' }] }] },
    }],
  ]);

  // cliniko-api sections/settings.md "Get Settings": account (with its time zone label) and the
  // online bookings settings that sections/available_times.md "IMPORTANT EXTRA INFORMATION" says
  // the available-times endpoints respect.
  const settings = {
    account: { id: IDS.account, name: 'Vårdcentralen Tolvan AB', country: 'Sweden', time_zone: TIME_ZONE_LABEL, currency_symbol: 'kr', subdomain: 'tolvan', email_from: 'reception@tolvan.example', admin: { email: 'anna.lindqvist@tolvan.example', first_name: 'Anna', last_name: 'Lindqvist' } },
    calendar: { start_hour: 7, end_hour: 19, timeslot_height_in_pixels: 15, timeslot_size_in_minutes: 15, show_current_time_indicator: true, multiple_appointments_gap: false },
    online_bookings: {
      calendar_info: null,
      enabled: true,
      logo_url: null,
      max_appointments_per_day_segment: null, // "unlimited"
      min_hours_advance_required_to_book: 1, // "1 Hour"
      min_hours_notice_for_patient_cancellation: 0,
      notify_practitioner_by_email: false,
      notify_practitioner_by_sms: false,
      policy: null,
      practitioner_order: [P.anna, P.erik, P.maria],
      require_patient_address: false,
      show_appointment_duration: true,
      show_prices: false,
    },
    // "How far ahead bookings are offered": one of 28, 84, 182, 365 days; not a field of the
    // settings resource in the docs, so kept internal.
    booking_horizon_days: 84,
    reminders: { default_reminder_type: 'SMS & Email' },
  };

  return {
    today,
    users,
    apiKeys,
    businesses,
    practitioners,
    appointmentTypes,
    treatmentNoteTemplates,
    dailyAvailabilities,
    patients,
    appointments,
    treatmentNotes,
    attachments: new Map(),
    settings,
  };
}
