// Slot and Appointment helpers shared by the vendor profiles and the EHR control endpoints.
import { readOrNull, refId } from './common.mjs';

export const SCHEDULING_LOCATION = 'https://fhir-ehr.cerner.com/r4/StructureDefinition/scheduling-location';

/** The Practitioner and Location a Slot belongs to, from its Schedule (and a scheduling-location extension). */
export async function slotActors(repo, slot) {
  const schedule = await readOrNull(repo, 'Schedule', refId(slot.schedule?.reference, 'Schedule'));
  const actors = schedule?.actor ?? [];
  const practitioner = actors.find((a) => a.reference?.startsWith('Practitioner/'));
  const extLocation = slot.extension?.find((e) => e.url === SCHEDULING_LOCATION)?.valueReference;
  const location = extLocation ?? actors.find((a) => a.reference?.startsWith('Location/'));
  return { schedule, practitioner, location };
}

const display = async (repo, reference) => {
  const [type, id] = reference.split('/');
  const r = await readOrNull(repo, type, id);
  if (!r) return undefined;
  const n = r.name?.[0];
  if (typeof r.name === 'string') return r.name;
  return n ? [n.family, (n.given ?? []).join(' ')].filter(Boolean).join(', ') : undefined;
};

/**
 * A booked Appointment for one Slot: start/end/serviceType from the Slot, the Patient, and the
 * Practitioner and Location of the Slot's Schedule as participants.
 */
export async function appointmentForSlot(repo, slot, patientRef, { status = 'booked', participantStatus = 'accepted', extra = {} } = {}) {
  const { practitioner, location } = await slotActors(repo, slot);
  const participant = [];
  const add = async (reference) => {
    if (!reference) return;
    participant.push({ actor: { reference, display: await display(repo, reference) }, required: 'required', status: participantStatus });
  };
  await add(patientRef);
  await add(practitioner?.reference);
  await add(location?.reference);
  return {
    resourceType: 'Appointment',
    status,
    ...(slot.serviceType ? { serviceType: slot.serviceType } : {}),
    ...(slot.serviceType?.[0]?.text ? { description: slot.serviceType[0].text } : {}),
    start: slot.start,
    end: slot.end,
    minutesDuration: Math.round((Date.parse(slot.end) - Date.parse(slot.start)) / 60_000),
    slot: [{ reference: `Slot/${slot.id}` }],
    participant,
    ...extra,
  };
}

/** Slot ids an Appointment holds. */
export const slotIdsOf = (appointment) => (appointment.slot ?? []).map((s) => refId(s.reference, 'Slot')).filter(Boolean);

/** Marks the Appointment's slots free again (a cancelled or no-show appointment releases its time). */
export async function releaseSlots(repo, appointment, save) {
  for (const id of slotIdsOf(appointment)) {
    const slot = await readOrNull(repo, 'Slot', id);
    if (slot && slot.status !== 'free') await save(repo, { ...slot, status: 'free' });
  }
}

export const RELEASING_STATUSES = ['cancelled', 'noshow', 'entered-in-error'];
