// Profile selection: `start.sh PORT [PROFILE]` or FHIR_PEER_PROFILE. "default" is the peer as it
// always was; a profile may seed extra data, answer requests before the default handling (or leave
// them to it by returning undefined), describe itself in /metadata, and add control endpoints.
import { ehrControl } from './ehr-control.mjs';

export const PROFILES = ['default', 'oracle', 'epic'];

export async function loadProfile(name) {
  switch (name) {
    case 'default':
      return { name, control: ehrControl() };
    case 'oracle':
      return (await import('./oracle.mjs')).createProfile();
    case 'epic':
      return (await import('./epic.mjs')).createProfile();
    default:
      throw new Error(`Unknown profile "${name}"; one of: ${PROFILES.join(', ')}`);
  }
}
