import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';
import { PLACEHOLDER } from '../../src/hfm/convert.ts';
import { importHfm } from '../../src/hfm/import.ts';

const fixture = fileURLToPath(new URL('../fixtures/hfm/hfm.conf', import.meta.url));
const cli = ['src/cli/main.ts'];
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfsteer-hfm-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function problems(text: string): ConfigError {
  try {
    importHfm(text, 'hfm.conf');
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail('expected the hfm file to be refused');
}

test('the fixture converts to a config whose only problems are the placeholders', async () => {
  const converted = importHfm(await readFile(fixture, 'utf8'), 'hfm.conf');
  assert.equal(converted.placeholders, 5);
  let error: unknown;
  try {
    parseConfig(converted.yaml, 'out.yaml');
  } catch (caught) {
    error = caught;
  }
  assert.ok(error instanceof ConfigError);
  const lines = converted.yaml.split('\n');
  assert.equal(error.issues.length, converted.placeholders);
  for (const issue of error.issues) assert.match(lines[issue.pos!.line - 1]!, new RegExp(`"${PLACEHOLDER}: `), `${issue.code} at line ${issue.pos?.line}`);
});

test('filled in, the converted config keeps hfm\'s commands, deadlines and debounces', async () => {
  const { yaml } = importHfm(await readFile(fixture, 'utf8'), 'hfm.conf');
  const filled = yaml
    .replace(/interface: "FILL IN[^"]*"/, 'interface: em0')
    .replace(/external: "FILL IN[^"]*"/, 'external: <haproxy-ext-std>')
    .replace(/ports: "FILL IN[^"]*"/, 'ports: [80, 443]')
    .replace(/(lb1's[^"]*)?main: "FILL IN: lb1[^"]*"/, 'main: 10.0.1.11')
    .replace(/main: "FILL IN: lb2[^"]*"/, 'main: 10.0.1.12');
  const config = parseConfig(filled, 'out.yaml');
  assert.deepEqual(config.hosts.map((h) => h.name), ['lb1', 'lb2']);
  const [lb1, lb2] = config.hosts;
  assert.equal(lb1!.checks.length, 1);
  // lb2's ssh rule is disabled in hfm and stays out.
  assert.equal(lb2!.checks.length, 1);
  const check = lb2!.checks[0]!;
  assert.equal(check.type, 'exec');
  assert.ok(check.type === 'exec');
  assert.deepEqual(check.command, ['fetch', '--no-verify-hostname', '--no-verify-peer', '--no-sslv3', '-o', '/dev/null', '-T1', '-q', 'https://lb2-service/haproxy_check']);
  assert.equal(check.name, 'haproxy');
  assert.equal(check.interval, 1000);
  // timeout_int 1s is not below the 1s interval pfsteer requires: 90% of it, with a note.
  assert.equal(check.timeout, 900);
  // timeout_kill 2s from the start is 1s after timeout_int.
  assert.equal(check.killAfter, 1000);
  assert.equal(check.rise, 1);
  assert.equal(check.fall, 2);
  assert.equal(check.fastinter, 500);
  assert.equal(check.downinter, 500);
  assert.equal(lb1!.checks[0]!.fall, 1);
  assert.equal(lb1!.checks[0]!.fastinter, 1000);
  assert.deepEqual(lb2!.onUp?.argv, ['haproxy_change', 'up', 'lb2']);
  assert.deepEqual(lb2!.onDown?.argv, ['haproxy_change', 'down', 'lb2']);
});

test('what has no exact equivalent is noted with its position', async () => {
  const { notes, yaml } = importHfm(await readFile(fixture, 'utf8'), 'hfm.conf');
  const disabled = notes.find((n) => n.message.includes('lb2/ssh'));
  assert.deepEqual(disabled?.pos, { line: 48, col: 16 });
  assert.ok(notes.some((n) => n.message.includes('timeout_int') && n.pos?.line === 4));
  assert.ok(notes.some((n) => n.message.includes('`fetch` by name')));
  // Every note is in the file too.
  for (const note of notes) assert.ok(yaml.includes(note.message), note.message);
});

test('settings inherit closest first, with hfm\'s defaults and older key names', () => {
  const { yaml } = importHfm(
    `interval = 10s
timeout_int = 2s
h {
  interval = 5s
  fail_interval = 3s
  a { test = "/bin/true"; timeout_int = 4s; timeout_kill = 4500ms; change_success_debounce = 3 }
  b { test = "/bin/true"; interval = 20s; status = "always-fail"; runs = 1; start_delay = 1s }
}
solo { test = "/bin/false" }
`,
    'hfm.conf',
  );
  const config = parseConfig(yaml.replaceAll(/"FILL IN[^"]*"/g, (m) => (m.includes('interface') ? 'em0' : m.includes('external') ? '[192.0.2.1]' : m.includes('ports') ? '[80]' : '10.0.0.1')), 'x.yaml');
  const [a, b] = config.hosts[0]!.checks;
  assert.deepEqual([a!.interval, a!.timeout, a!.rise, a!.fall, a!.fastinter], [5000, 4000, 3, 1, 3000]);
  assert.ok(a!.type === 'exec' && a!.killAfter === 500);
  assert.deepEqual([b!.interval, b!.timeout, b!.fastinter], [20_000, 2000, 3000]);
  // A rule at the top level is its own host; hfm's defaults: interval 1s, timeout_int 1s (+3s to SIGKILL).
  const solo = config.hosts[1]!;
  assert.equal(solo.name, 'solo');
  const check = solo.checks[0]!;
  assert.deepEqual([check.interval, check.timeout], [10_000, 2000]);
  assert.ok(check.type === 'exec' && check.killAfter === 3000);
  const { notes } = importHfm('h { b { test = "/bin/true"; status = "always-fail"; runs = 1; start_delay = 1s } }', 'hfm.conf');
  assert.ok(notes.some((n) => n.message.includes('always-fail')));
  assert.ok(notes.some((n) => n.message.includes('runs=1')));
  assert.ok(notes.some((n) => n.message.includes('start_delay')));
});

test('what hfm itself refuses is refused with its position', () => {
  const codes = (text: string) => problems(text).issues.map((i) => [i.code, i.pos?.line, i.pos?.col]);
  assert.deepEqual(codes('h {\n  r { test = "x"; intervall = 1s }\n}\n'), [['hfm-unknown-key', 2, 19]]);
  assert.deepEqual(codes('h {\n  r { test = "x"; interval = "1s" }\n}\n'), [['hfm-type', 2, 30]]);
  assert.deepEqual(codes('h { r { test = "x"; runs = 70000 } }'), [['hfm-range', 1, 28]]);
  assert.deepEqual(codes('h { r { test = "x"; change_fail_debounce = 0 } }'), [['hfm-range', 1, 44]]);
  assert.deepEqual(codes('h { r { test = "x"; status = "sometimes" } }'), [['hfm-status', 1, 30]]);
  assert.deepEqual(codes('h { r { test = "x"; inner { test = "y" } } }'), [['hfm-nested-rule', 1, 21]]);
  assert.deepEqual(codes('h { r { interval = 1s } }'), [['hfm-missing-test', 1, 5]]);
  assert.deepEqual(codes('test = "x"\n'), [['hfm-top-level-test', 1, 1]]);
  assert.deepEqual(codes('h { r { test = "x"; test_arguments = [1] } }'), [['hfm-type', 1, 39]]);
  assert.deepEqual(codes('interval = 1s\n'), [['hfm-no-rules', 1, 1]]);
  assert.deepEqual(codes('h { r { test = "x" }\n'), [['ucl-syntax', 2, 1]]);
});

test('names pfsteer cannot take are rewritten, with a note', () => {
  const { yaml, notes } = importHfm('"web server" { "check #1" { test = "/bin/true" } }', 'hfm.conf');
  assert.match(yaml, /^ {2}web-server:$/m);
  assert.match(yaml, /name: check--1$/m);
  assert.equal(notes.filter((n) => n.message.includes('not a valid pfsteer')).length, 2);
});

test('pfsteer import-hfm: stdout or --output, located errors, no overwrite without --force', async () => {
  const out = join(dir, 'pfsteer.yaml');
  const run = await execa('node', [...cli, 'import-hfm', fixture, '-o', out], { reject: false });
  assert.equal(run.exitCode, 0, run.stderr);
  assert.match(run.stderr, /hfm\.conf:48:16: note: rule `lb2\/ssh` is disabled/);
  const check = await execa('node', [...cli, 'check', '-c', out], { reject: false });
  assert.equal(check.exitCode, 2);
  const located = check.stderr.split('\n').filter((line) => /^\S+:\d+:\d+: /.test(line));
  assert.equal(located.length, 5);
  for (const line of located) {
    const lineNo = Number(line.split(':')[1]);
    assert.match((await readFile(out, 'utf8')).split('\n')[lineNo - 1]!, /FILL IN/);
  }
  const again = await execa('node', [...cli, 'import-hfm', fixture, '-o', out], { reject: false });
  assert.equal(again.exitCode, 2);
  assert.match(again.stderr, /exists; pass --force/);
  assert.equal((await execa('node', [...cli, 'import-hfm', fixture, '-o', out, '--force'], { reject: false })).exitCode, 0);
  const stdout = await execa('node', [...cli, 'import-hfm', fixture], { reject: false });
  assert.equal(stdout.stdout, (await readFile(out, 'utf8')).trimEnd());
  const bad = join(dir, 'bad.conf');
  await writeFile(bad, 'lb1 {\n  haproxy {\n    tset = "fetch"\n  }\n}\n');
  const refused = await execa('node', [...cli, 'import-hfm', bad], { reject: false });
  assert.equal(refused.exitCode, 2);
  assert.match(refused.stderr, /bad\.conf:2:3: hfm-missing-test: [^\n]*\n[^]*bad\.conf:3:5: hfm-unknown-key: [^\n]*did you mean `test`/);
  assert.equal(refused.stdout, '');
});
