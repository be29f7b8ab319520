/**
 * The emulator's ruleset optimizer against real pfctl's: every case of optimize-corpus.ts is
 * loaded into a fresh emulated pf (`pfctl [-o LEVEL] -a pfsteer -f FILE`, in-process) and read
 * back (`-s rules`, FreeBSD `-s nat` and `-s rules`, and `-t T -T show` for every automatic
 * table), and compared with what the real builds print for it with `-nv`: the same rules in the
 * same order and the same automatic tables. Live against the builds where they exist, else
 * against the answers recorded in fixtures/optimize-corpus.json.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runOrUsage } from '../pf-emulator/cli.ts';
import type { Os } from '../pf-emulator/grammar.ts';
import { Store } from '../pf-emulator/store.ts';
import type { OptimizeCase, PrintAnswer, RecordedOptimizeCase } from './optimize-corpus.ts';
import { askPfctl, findPfctl, handCases, OPTIMIZE_FIXTURE, optimizeCases } from './optimize-corpus.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Rules in order and automatic tables (entries sorted: pf keeps them in a radix tree), names numbered by first use. */
interface Loaded {
  rules: string[];
  tables: Record<string, string[]>;
}

/** Automatic table names, the -n form (`__automatic_0`) and the loaded one (`__automatic_1a2b3c_0`), become AUTO0, AUTO1... by first use in the rules. */
function numbered(rules: string[], tables: Record<string, string[]>): Loaded {
  const names = new Map<string, string>();
  const renamed = rules.map((r) => r.replace(/__automatic_[0-9a-f_]+/g, (n) => names.get(n) ?? (names.set(n, `AUTO${names.size}`), `AUTO${names.size - 1}`)));
  const out: Record<string, string[]> = {};
  for (const [name, entries] of Object.entries(tables)) {
    const to = names.get(name);
    assert.ok(to, `automatic table ${name} no rule uses`);
    out[to] = [...entries].sort();
  }
  return { rules: renamed, tables: out };
}

/** What the real -nv printed, minus the file's own tables; FreeBSD's filter rules without the `flags S/SA keep state` the emulator does not print. */
function fromPrintout(os: Os, stdout: string): Loaded {
  const rules: string[] = [];
  const tables: Record<string, string[]> = {};
  for (const line of stdout.split('\n').filter(Boolean)) {
    const table = /^table <(__automatic_\d+)> const \{ (.*) \}$/.exec(line);
    if (table) tables[table[1]!] = table[2]!.split(' ');
    else if (!line.startsWith('table <')) rules.push(os === 'freebsd' ? line.replace(' flags S/SA keep state', '') : line);
  }
  return numbered(rules, tables);
}

function emulatorStore(os: Os): Store {
  const dir = mkdtempSync(join(tmpdir(), 'pfsteer-optimize-emu-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'os'), os);
  return new Store(dir);
}

/** The emulator's load of the case and what it reads back; the refusal's text when it refuses. */
function emulatorLoad(c: OptimizeCase): Loaded | { refused: string } {
  const store = emulatorStore(c.os);
  const pfctl = (argv: string[], input = ''): string => {
    const r = runOrUsage(argv, () => input, store);
    if (r.code !== 0) throw Object.assign(new Error(r.stderr), { stderr: r.stderr });
    return r.stdout;
  };
  try {
    pfctl([...(c.level === undefined ? [] : ['-o', c.level]), '-a', 'pfsteer', '-f', '-'], c.text);
  } catch (error) {
    return { refused: (error as { stderr: string }).stderr };
  }
  const shown = (c.os === 'freebsd' ? ['nat', 'rules'] : ['rules']).flatMap((what) => pfctl(['-a', 'pfsteer', '-s', what]).split('\n').filter(Boolean));
  const tables: Record<string, string[]> = {};
  for (const name of new Set(shown.flatMap((r) => r.match(/__automatic_[0-9a-f]+_\d+/g) ?? []))) {
    tables[name] = pfctl(['-a', 'pfsteer', '-t', name, '-T', 'show']).split('\n').map((l) => l.trim()).filter(Boolean);
  }
  return numbered(shown, tables);
}

function recorded(): RecordedOptimizeCase[] {
  return JSON.parse(readFileSync(OPTIMIZE_FIXTURE, 'utf8')) as RecordedOptimizeCase[];
}

/** The cases with the real answers: live where the builds are, recorded otherwise. */
function answered(): { cases: Array<OptimizeCase & PrintAnswer>; live: boolean } {
  const bins = { freebsd: findPfctl('freebsd'), openbsd: findPfctl('openbsd') };
  if (bins.freebsd && bins.openbsd) return { cases: optimizeCases().map((c) => ({ ...c, ...askPfctl(bins[c.os]!, c) })), live: true };
  return { cases: recorded(), live: false };
}

test('the emulator loads what real pfctl -nv prints, at -o none, -o basic and by default', () => {
  const { cases } = answered();
  for (const c of cases) {
    assert.equal(c.exit, 0, `${c.name}: real pfctl refused it`);
    assert.deepEqual(emulatorLoad(c), fromPrintout(c.os, c.stdout), c.name);
  }
});

test('the recorded answers are what the corpus holds now', () => {
  const now = optimizeCases();
  assert.deepEqual(
    recorded().map(({ exit: _exit, stdout: _stdout, ...c }) => c),
    now,
  );
});

test('live: the real builds still print what the fixture recorded', { skip: findPfctl('freebsd') && findPfctl('openbsd') ? false : 'pfctl builds not found next to pfparse' }, () => {
  for (const c of recorded()) assert.deepEqual(askPfctl(findPfctl(c.os)!, c), { exit: c.exit, stdout: c.stdout }, c.name);
});

test('seven destinations load as one rule over a const automatic table, listed by -s Tables', () => {
  const c = handCases().find((x) => x.name === 'seven destinations, one rule (openbsd, no -o)')!;
  const store = emulatorStore('openbsd');
  assert.equal(runOrUsage(['-a', 'pfsteer', '-f', '-'], () => c.text, store).code, 0);
  const tables = runOrUsage(['-a', 'pfsteer', '-s', 'Tables', '-v'], () => '', store).stdout;
  assert.match(tables, /^c-a-r--\t__automatic_[0-9a-f]{1,8}_0\tpfsteer\n$/);
  const rules = runOrUsage(['-a', 'pfsteer', '-s', 'rules'], () => '', store).stdout;
  assert.match(rules, /^pass in quick on em0 inet proto tcp from <lb1-v4> to <__automatic_[0-9a-f]{1,8}_0> port = 80 flags S\/SA rdr-to 10\.0\.1\.1\n$/);
});
