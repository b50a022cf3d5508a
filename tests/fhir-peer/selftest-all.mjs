// Starts the peer once per profile (start.sh PORT PROFILE, on a free port), runs that profile's
// selftest against it, stops it, and reports: node selftest-all.mjs [default|oracle|oracle-cap|epic ...]
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const RUNS = {
  default: { profile: 'default', test: 'selftest.mjs' },
  oracle: { profile: 'oracle', test: 'selftest-oracle.mjs' },
  'oracle-cap': { profile: 'oracle', test: 'selftest-oracle.mjs', env: { FHIR_PEER_MAX_COUNT: '2' }, args: ['2'] },
  epic: { profile: 'epic', test: 'selftest-epic.mjs' },
};
const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(RUNS);

const freePort = () => new Promise((resolve, reject) => {
  const srv = createServer();
  srv.on('error', reject);
  srv.listen(0, '127.0.0.1', () => {
    const { port } = srv.address();
    srv.close(() => resolve(port));
  });
});

function startPeer(profile, env) {
  return new Promise(async (resolve, reject) => {
    const port = await freePort();
    const child = spawn('bash', [join(here, 'start.sh'), String(port), profile], {
      env: { ...process.env, FHIR_PEER_PROFILE: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.stdout.on('data', (d) => {
      if (String(d).includes('fhir-peer listening')) resolve({ child, port });
    });
    child.on('exit', (code) => reject(new Error(`peer (${profile}) exited ${code}: ${err}`)));
  });
}

const run = (file, args) => new Promise((resolve) => {
  const child = spawn(process.execPath, [join(here, file), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
  child.on('exit', (code) => resolve({ code, last: out.trim().split('\n').pop() }));
});

const results = [];
for (const name of wanted) {
  const spec = RUNS[name];
  if (!spec) {
    console.error(`unknown run ${name}; one of ${Object.keys(RUNS).join(', ')}`);
    process.exit(2);
  }
  console.log(`=== ${name} (profile ${spec.profile}${spec.env ? `, ${JSON.stringify(spec.env)}` : ''})`);
  const { child, port } = await startPeer(spec.profile, spec.env ?? {});
  const { code, last } = await run(spec.test, [String(port), ...(spec.args ?? [])]);
  child.removeAllListeners('exit');
  child.kill('SIGTERM'); // start.sh execs node, so this is the peer itself
  await new Promise((resolve) => child.once('exit', resolve));
  results.push({ name, code, last });
}
console.log('=== summary');
for (const { name, code, last } of results) console.log(`${code === 0 ? 'OK  ' : 'FAIL'} ${name}: ${last}`);
process.exit(results.every((x) => x.code === 0) ? 0 : 1);
