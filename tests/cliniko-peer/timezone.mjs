// Calendar and time-zone arithmetic with nothing but Intl (no packages): local dates and wall-clock
// times in the account's time zone, converted to and from UTC instants (DST-aware).

const formatters = new Map();

function formatter(timeZone) {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when the runtime knows this IANA zone name. */
export function isTimeZone(name) {
  if (typeof name !== 'string' || !name) return false;
  try {
    formatter(name);
    return true;
  } catch {
    return false;
  }
}

/** Wall-clock fields of an instant in a zone. */
export function wallClock(timeZone, ms) {
  const out = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') out[p.type] = Number(p.value);
  }
  return { y: out.year, m: out.month, d: out.day, h: out.hour, mi: out.minute, s: out.second };
}

function offsetAt(timeZone, ms) {
  const w = wallClock(timeZone, ms);
  const asUtc = Date.UTC(w.y, w.m - 1, w.d, w.h, w.mi, w.s);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The UTC instant (ms) of a local date 'YYYY-MM-DD' and minutes after local midnight. */
export function zonedToUtc(timeZone, date, minutes = 0) {
  const [y, m, d] = date.split('-').map(Number);
  const guess = Date.UTC(y, m - 1, d, 0, minutes);
  const first = offsetAt(timeZone, guess - offsetAt(timeZone, guess));
  let result = guess - first;
  const second = offsetAt(timeZone, result);
  if (second !== first) result = guess - second;
  return result;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** The local calendar date 'YYYY-MM-DD' of an instant in a zone. */
export function localDate(timeZone, ms) {
  const w = wallClock(timeZone, ms);
  return `${pad(w.y, 4)}-${pad(w.m)}-${pad(w.d)}`;
}

/** 'YYYY-MM-DD' plus n days. */
export function addDays(date, n) {
  const [y, m, d] = date.split('-').map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + n));
  return `${pad(t.getUTCFullYear(), 4)}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
}

/** Whole days from date a to date b. */
export function daysBetween(a, b) {
  const [ay, am, ad] = a.split('-').map(Number);
  const [by, bm, bd] = b.split('-').map(Number);
  return Math.round((Date.UTC(by, bm - 1, bd) - Date.UTC(ay, am - 1, ad)) / 86400000);
}

/** ISO day of week, 1 = Monday .. 7 = Sunday. */
export function isoWeekday(date) {
  const [y, m, d] = date.split('-').map(Number);
  const wd = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
  return wd === 0 ? 7 : wd;
}

/** A strict 'YYYY-MM-DD' that names a real calendar day. */
export function isCalendarDate(s) {
  if (typeof s !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const [y, m, d] = s.split('-').map(Number);
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** 'HH:MM' -> minutes after midnight. */
export function minutesOf(hhmm) {
  const [h, m] = hhmm.split(':').map(Number);
  return h * 60 + m;
}

/** An instant as Cliniko prints it: UTC, whole seconds, 'Z'. */
export function isoSeconds(ms) {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
