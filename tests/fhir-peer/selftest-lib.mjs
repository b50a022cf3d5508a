// Small helpers for the profile selftests (selftest-oracle.mjs, selftest-epic.mjs).
export const PNR = 'urn:oid:1.2.752.129.2.1.3.1';
export const FHIR = 'application/fhir+json';
export const q = encodeURIComponent;

export function peer(port) {
  const root = `http://127.0.0.1:${port}`;
  const base = `${root}/fhir/R4`;
  let passed = 0;
  let failed = 0;
  const check = (name, ok, detail = '') => {
    if (ok) passed++;
    else failed++;
    console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${ok || !detail ? '' : ` -- ${detail}`}`);
    return ok;
  };
  async function fhir(method, path, body, headers = {}) {
    const res = await fetch(path.startsWith('http') ? path : base + path, {
      method,
      headers: { accept: FHIR, ...(body !== undefined ? { 'content-type': FHIR } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const raw = Buffer.from(await res.arrayBuffer());
    let parsed;
    const type = res.headers.get('content-type') ?? '';
    if (raw.length && type.includes('json')) parsed = JSON.parse(raw.toString('utf8'));
    return { status: res.status, headers: res.headers, body: parsed, raw };
  }
  const control = async (path, method = 'POST') => {
    const res = await fetch(root + path, { method });
    return { status: res.status, body: await res.json() };
  };
  /** Follows Bundle.link[next] unchanged until the end; returns {pages, resources}. */
  async function allPages(path) {
    const pages = [];
    let url = path;
    while (url && pages.length < 100) {
      const r = await fhir('GET', url);
      if (r.status !== 200) return { pages, resources: [], error: r };
      pages.push(r.body);
      url = r.body.link?.find((l) => l.relation === 'next')?.url;
    }
    const resources = pages.flatMap((b) => (b.entry ?? []).filter((e) => e.search?.mode !== 'include').map((e) => e.resource));
    return { pages, resources };
  }
  return {
    base,
    check,
    fhir,
    get: (path, headers) => fhir('GET', path, undefined, headers),
    control,
    allPages,
    summary() {
      console.log(`${passed} passed, ${failed} failed`);
      return failed;
    },
  };
}

export const ids = (bundle) => (bundle?.entry ?? []).filter((e) => e.search?.mode !== 'outcome').map((e) => e.resource.id);
export const isOutcome = (r, status) => r.status === status && r.body?.resourceType === 'OperationOutcome';
export const link = (bundle, relation) => bundle?.link?.find((l) => l.relation === relation)?.url;
