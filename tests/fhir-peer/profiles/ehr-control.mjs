// Control endpoints that act "as the clinic's own EHR user interface would": they change data
// outside the FHIR API (new version, meta.lastUpdated bumped), e.g. for change-feed tests that
// poll with _lastUpdated. Available in every profile; they add routes and change no existing one.
import { outcome, readOrNull } from './common.mjs';
import { RELEASING_STATUSES, appointmentForSlot, releaseSlots } from './scheduling.mjs';

const APPOINTMENT_STATUSES = ['proposed', 'pending', 'booked', 'arrived', 'fulfilled', 'cancelled', 'noshow',
  'entered-in-error', 'checked-in', 'waitlist'];

/** The default way to store a changed resource: Medplum's update (new uuid version, lastUpdated now). */
export const defaultSave = (repo, resource) => (resource.id ? repo.updateResource(resource) : repo.createResource(resource));

/**
 * @param {(repo, resource) => Promise<object>} save how the profile stores a version
 * @returns {(req, url, ctx) => Promise<[number, object]> | undefined} handles the routes below, else undefined
 */
export function ehrControl(save = defaultSave) {
  return (req, url, { repo, exclusive }) => {
    const q = url.searchParams;
    const route = `${req.method} ${url.pathname}`;
    const required = { 'POST /__control/ehr/appointment-status': ['id', 'status'], 'POST /__control/ehr/book': ['slot', 'patient'] }[route];
    const missing = required?.find((name) => !q.get(name));
    if (missing) return [400, outcome('required', `${missing} is required`)];
    const need = (name) => q.get(name);
    switch (route) {
      // POST /__control/ehr/appointment-status?id=ID&status=STATUS[&comment=TEXT]
      case 'POST /__control/ehr/appointment-status': {
        const id = need('id');
        const status = need('status');
        if (!APPOINTMENT_STATUSES.includes(status)) return [400, outcome('invalid', `Unknown Appointment status: ${status}`)];
        return exclusive(async () => {
          const appointment = await readOrNull(repo(), 'Appointment', id);
          if (!appointment) return [404, outcome('not-found', `No Appointment/${id}`)];
          const changed = { ...appointment, status, ...(q.has('comment') ? { comment: q.get('comment') } : {}) };
          if (RELEASING_STATUSES.includes(status)) await releaseSlots(repo(), changed, save);
          const saved = await save(repo(), changed);
          return [200, { id, status, versionId: saved.meta.versionId, lastUpdated: saved.meta.lastUpdated }];
        });
      }
      // POST /__control/ehr/book?slot=SLOT_ID&patient=PATIENT_ID -- the clinic books a slot itself
      case 'POST /__control/ehr/book': {
        const slotId = need('slot');
        const patientId = need('patient');
        return exclusive(async () => {
          const slot = await readOrNull(repo(), 'Slot', slotId);
          if (!slot) return [404, outcome('not-found', `No Slot/${slotId}`)];
          if (!(await readOrNull(repo(), 'Patient', patientId))) return [404, outcome('not-found', `No Patient/${patientId}`)];
          if (slot.status !== 'free') return [409, outcome('conflict', `Slot/${slotId} is ${slot.status}`)];
          const appointment = await save(repo(), await appointmentForSlot(repo(), slot, `Patient/${patientId}`));
          await save(repo(), { ...slot, status: 'busy' });
          return [200, { appointment: appointment.id, slot: slotId, versionId: appointment.meta.versionId }];
        });
      }
      default:
        return undefined;
    }
  };
}
