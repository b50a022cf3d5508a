// Seed additions for the vendor profiles. Every default seed resource keeps its id; the vendor
// profiles only add fields (service types, locations) and resources (more patients, EHR notes).
import { PNR } from '../seed.mjs';

// Which HealthcareService each practitioner's schedule offers (the default seed links none).
const SERVICE_OF = {
  'anna-lindqvist': 'tolvan-general',
  'erik-sandberg': 'tolvan-general',
  'maria-oberg': 'tolvan-follow-up',
};

// Patients sharing the family-name prefix "Tolv" with Tolvan Tolvansson, so that `family=tolv`
// matches six patients and a small `_count` (or FHIR_PEER_MAX_COUNT=2) needs several pages.
const PAGING_PATIENTS = [
  ['tolvgren-anders', 'Anders', 'Tolvgren', '198001012387'],
  ['tolvgren-beata', 'Beata', 'Tolvgren', '198505051113'],
  ['tolvgren-cecilia', 'Cecilia', 'Tolvgren', '199009092223'],
  ['tolvgren-david', 'David', 'Tolvgren', '199512313330'],
  ['tolvgren-eva', 'Eva', 'Tolvgren', '200102034444'],
];

/**
 * Returns the default seed with vendor additions.
 * @param {object[]} resources the default seed
 * @param {object} o
 * @param {(serviceId: string) => object} o.serviceCoding the vendor's coding for a HealthcareService
 * @param {(slot: object) => object} [o.slot] extra Slot fields
 * @param {(location: object) => object} [o.location] extra Location fields
 * @param {object[]} [o.extra] further resources to add
 */
export function vendorSeed(resources, { serviceCoding, slot = () => ({}), location = () => ({}), extra = [] }) {
  const services = new Map(resources.filter((r) => r.resourceType === 'HealthcareService').map((r) => [r.id, r]));
  const codingOf = (serviceId) => {
    const service = services.get(serviceId);
    return { coding: [serviceCoding(serviceId)], text: service.name };
  };
  const out = resources.map((r) => {
    switch (r.resourceType) {
      case 'HealthcareService':
        return { ...r, type: [codingOf(r.id)] };
      case 'Schedule': {
        const practitioner = r.id.replace(/^schedule-/, '');
        return { ...r, serviceType: [codingOf(SERVICE_OF[practitioner])] };
      }
      case 'Slot': {
        const practitioner = r.schedule.reference.replace(/^Schedule\/schedule-/, '');
        return { ...r, serviceType: [codingOf(SERVICE_OF[practitioner])], ...slot(r) };
      }
      case 'Location':
        return { ...r, ...location(r) };
      default:
        return r;
    }
  });
  for (const [id, given, family, pnr] of PAGING_PATIENTS) {
    out.push({
      resourceType: 'Patient',
      id,
      identifier: [{ system: PNR, value: pnr }],
      name: [{ family, given: [given] }],
      birthDate: `${pnr.slice(0, 4)}-${pnr.slice(4, 6)}-${pnr.slice(6, 8)}`,
      managingOrganization: { reference: 'Organization/tolvan-org' },
    });
  }
  return [...out, ...extra];
}

export const SERVICE_BY_PRACTITIONER = SERVICE_OF;
export const PAGING_PATIENT_IDS = PAGING_PATIENTS.map(([id]) => id);
