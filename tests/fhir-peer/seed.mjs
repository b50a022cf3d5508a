// The Vardbro sandbox data (SandboxSeeder.cs, "Vårdcentralen Tolvan") as FHIR R4 resources.
export const HSA = 'urn:oid:1.2.752.29.4.19';
export const PNR = 'urn:oid:1.2.752.129.2.1.3.1';
const TIME_ZONE = 'Europe/Stockholm';
const ORG = { reference: 'Organization/tolvan-org' };
const LOCATION = { reference: 'Location/tolvan' };

const practitioners = [
  ['anna-lindqvist', 'Anna', 'Lindqvist', 'SE2321000131-E000000000101', 'Läkare'],
  ['erik-sandberg', 'Erik', 'Sandberg', 'SE2321000131-E000000000102', 'Sjuksköterska'],
  ['maria-oberg', 'Maria', 'Öberg', 'SE2321000131-E000000000103', 'Psykolog'],
];

const patients = [
  ['tolvan-tolvansson', 'Tolvan', 'Tolvansson', '191212121212'],
  ['lars-strom', 'Lars', 'Ström', '197110021834'],
  ['karin-akesson', 'Karin', 'Åkesson', '194010126672'],
  ['sven-nystrom', 'Sven', 'Nyström', '195003042222'],
];

export function seedStartDate() {
  const date = process.env.FHIR_PEER_START_DATE || new Date().toISOString().slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(date))) {
    throw new Error(`FHIR_PEER_START_DATE must be YYYY-MM-DD, got ${date}`);
  }
  return date;
}

/** The UTC offset ("+01:00") in force in Stockholm at midday of a UTC-midnight Date. */
function stockholmOffset(day) {
  const noon = new Date(day.getTime() + 12 * 3600_000);
  const name = new Intl.DateTimeFormat('en', { timeZone: TIME_ZONE, timeZoneName: 'longOffset' })
    .formatToParts(noon)
    .find((p) => p.type === 'timeZoneName').value; // "GMT+01:00"
  return name === 'GMT' ? '+00:00' : name.slice(3);
}

function slots(practitionerId, startDate) {
  const out = [];
  const first = new Date(`${startDate}T00:00:00Z`);
  for (let d = 0; d < 31; d++) {
    const day = new Date(first.getTime() + d * 86400_000);
    const weekday = day.getUTCDay();
    if (weekday === 0 || weekday === 6) continue;
    const date = day.toISOString().slice(0, 10);
    const offset = stockholmOffset(day);
    for (let minutes = 8 * 60; minutes < 16 * 60; minutes += 30) {
      const hhmm = (m) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
      out.push({
        resourceType: 'Slot',
        id: `slot-${practitionerId}-${date.replaceAll('-', '')}-${hhmm(minutes).replace(':', '')}`,
        schedule: { reference: `Schedule/schedule-${practitionerId}` },
        status: 'free',
        start: `${date}T${hhmm(minutes)}:00${offset}`,
        end: `${date}T${hhmm(minutes + 30)}:00${offset}`,
      });
    }
  }
  return out;
}

export function seedResources(startDate = seedStartDate()) {
  const resources = [
    { resourceType: 'Organization', id: 'tolvan-org', active: true, name: 'Vårdcentralen Tolvan AB' },
    {
      resourceType: 'Location',
      id: 'tolvan',
      status: 'active',
      name: 'Vårdcentralen Tolvan',
      address: { line: ['Tolvansgatan 1'], postalCode: '123 45', city: 'Tolvstad', country: 'SE' },
      managingOrganization: ORG,
      extension: [{ url: 'urn:vardbro:fhir:time-zone', valueString: TIME_ZONE }],
    },
  ];
  const service = (id, name, comment, minutes) => ({
    resourceType: 'HealthcareService',
    id,
    active: true,
    name,
    comment,
    providedBy: ORG,
    location: [LOCATION],
    extension: [{ url: 'urn:vardbro:fhir:duration-minutes', valueInteger: minutes }],
  });
  resources.push(
    service('tolvan-general', 'General Consultation', 'A general consultation with a practitioner.', 30),
    service('tolvan-follow-up', 'Follow-up Visit', 'A short follow-up of an earlier visit.', 15)
  );
  for (const [id, given, family, hsaId, role] of practitioners) {
    resources.push(
      {
        resourceType: 'Practitioner',
        id,
        active: true,
        identifier: [{ system: HSA, value: hsaId }],
        name: [{ family, given: [given] }],
      },
      {
        resourceType: 'PractitionerRole',
        id: `role-${id}`,
        active: true,
        practitioner: { reference: `Practitioner/${id}` },
        organization: ORG,
        location: [LOCATION],
        code: [{ text: role }],
      },
      {
        resourceType: 'Schedule',
        id: `schedule-${id}`,
        active: true,
        actor: [{ reference: `Practitioner/${id}` }, LOCATION],
      },
      ...slots(id, startDate)
    );
  }
  for (const [id, given, family, pnr] of patients) {
    resources.push({
      resourceType: 'Patient',
      id,
      identifier: [{ system: PNR, value: pnr }],
      name: [{ family, given: [given] }],
      birthDate: `${pnr.slice(0, 4)}-${pnr.slice(4, 6)}-${pnr.slice(6, 8)}`,
      managingOrganization: ORG,
    });
  }
  Object.assign(resources.find((r) => r.id === 'tolvan-tolvansson'), {
    gender: 'male',
    telecom: [
      { system: 'phone', value: '+46001234567' },
      { system: 'email', value: 'Tolvan.Tolvansson@example.com' },
    ],
  });
  return resources;
}

/** Loads the seed; a profile's `transform` may add fields and resources (ids stay the same). */
export async function loadSeed(repo, startDate, transform = (resources) => resources) {
  const resources = transform(seedResources(startDate));
  for (const resource of resources) {
    await repo.createResource(resource); // MemoryRepository keeps the id it is given
  }
  return resources.length;
}
