// Reads the README's tour ("## A five-minute tour with the sandbox" up to the next "## " heading) and
// either writes it out as one bash script (`extract`) or checks the captured answers (`check`).
// In the tour's ```sh blocks a command is a line (plus the lines its trailing backslashes continue);
// a `# → expected` line right after it is the answer it must give. In an expectation `…` (or `...`)
// and a `<placeholder>` stand for any text; runs of white space compare as one space.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';

const [mode, readme, dir, baseUrl] = process.argv.slice(2);

function steps() {
  const text = readFileSync(readme, 'utf8');
  const start = text.indexOf('## A five-minute tour with the sandbox');
  if (start < 0) throw new Error('the README has no tour section');
  const end = text.indexOf('\n## ', start + 3);
  const lines = text.slice(start, end < 0 ? undefined : end).split('\n');
  const result = [];
  let inBlock = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!inBlock) { inBlock = line.trim() === '```sh'; continue; }
    if (line.trim() === '```') { inBlock = false; continue; }
    const expectation = line.match(/^#\s*→\s?(.*)$/);
    if (expectation) {
      const last = result.at(-1);
      if (!last || last.expected !== undefined) throw new Error(`README line "${line}" expects an answer of no command`);
      last.expected = expectation[1];
      continue;
    }
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    let command = line;
    while (/\\$/.test(command.split('\n').at(-1)) && i + 1 < lines.length) command += '\n' + lines[++i];
    result.push({ command });
  }
  return result;
}

const pattern = expected => new RegExp('^' + expected.trim().replace(/\s+/g, ' ')
  .split(/(…|\.\.\.|<[^<>\s]+>)/)
  .map((part, i) => (i % 2 ? '[\\s\\S]*?' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
  .join('') + '$');

const all = steps();
if (mode === 'extract') {
  const script = ['set -o pipefail'];
  all.forEach((step, i) => {
    const command = step.command.replaceAll('http://localhost:8080', baseUrl);
    script.push(`{\n${command}\n} >"${dir}/${i}.out" 2>&1; echo $? >"${dir}/${i}.rc"`);
  });
  writeFileSync(`${dir}/tour.sh`, script.join('\n') + '\n');
  console.log(all.length);
} else {
  let passed = 0, failed = 0;
  all.forEach((step, i) => {
    const out = existsSync(`${dir}/${i}.out`) ? readFileSync(`${dir}/${i}.out`, 'utf8') : '(not run)';
    const rc = existsSync(`${dir}/${i}.rc`) ? readFileSync(`${dir}/${i}.rc`, 'utf8').trim() : '?';
    const expected = step.expected?.replaceAll('http://localhost:8080', baseUrl);
    const problems = [];
    if (rc !== '0') problems.push(`exit status ${rc}`);
    if (expected !== undefined && !pattern(expected).test(out.trim().replace(/\s+/g, ' '))) problems.push(`expected: ${expected}`);
    if (problems.length) {
      failed++;
      console.log(`FAIL ${step.command.split('\n')[0]}\n     ${problems.join('\n     ')}\n     got:      ${out.trim().slice(0, 2000)}`);
    } else if (expected !== undefined) {
      passed++;
    }
  });
  console.log(`readme-tour: ${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
}
