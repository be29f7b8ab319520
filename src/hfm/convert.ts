/**
 * hfm rules -> an annotated pfsteer.yaml. Pure: the text and the notes on what could not be
 * carried over exactly come out together, so the CLI can print the notes and the file carries
 * them too.
 *
 * What hfm does not know (the services pf redirects, each host's internal address per service)
 * becomes a quoted `FILL IN: ...` text where a value belongs: pfsteer refuses it there, so
 * `pfsteer check` names each place until it is filled in.
 */
import { nameProblem } from '../config/names.ts';
import { formatDuration } from '../config/duration.ts';
import type { SourcePosition } from '../errors.ts';
import { HFM_DEFAULTS, type HfmCommand, type HfmRule, type Located } from './rules.ts';

export interface ImportNote {
  pos?: SourcePosition;
  message: string;
}

export interface Converted {
  yaml: string;
  notes: ImportNote[];
  /** How many `FILL IN` places the file holds. */
  placeholders: number;
}

export const PLACEHOLDER = 'FILL IN';
/** The service the placeholders describe until the operator names and copies it. */
const SERVICE = 'main';

/** pfsteer's ranges (config/validate-*.ts), in ms. */
const LIMITS = { interval: [100, 3_600_000], timeout: [10, 3_600_000], killAfter: [0, 60_000] } as const;

interface Timing {
  interval: number;
  intervalFail: number;
  timeout: number;
  killAfter: number;
  rise: number;
  fall: number;
}

export function convertHfm(rules: readonly HfmRule[], source: string): Converted {
  const notes: ImportNote[] = [];
  // The hosts first: converting them produces the notes the header lists.
  const hostLines: string[] = [];
  let placeholders = 3;
  for (const [name, hostRules] of groupByHost(rules, notes)) {
    hostLines.push(`  ${yamlKey(name)}:`, '    addresses:', `      ${SERVICE}: ${placeholder(`${name}'s internal address for service ${SERVICE}, such as 10.0.1.11 or 10.0.1.11:8080`)}`);
    placeholders++;
    hostLines.push(...hostChecks(name, hostRules, notes));
  }
  const lines = [
    `# pfsteer configuration converted from ${source} by \`pfsteer import-hfm\`.`,
    `# Places marked "${PLACEHOLDER}" hold what hfm does not know; \`pfsteer check -c FILE\` names`,
    '# each of them until it is filled in. Notes on the conversion (read them before use):',
    ...renderNotes(notes, source),
    '',
    'driver: pf',
    'pf:',
    '  dialect: freebsd     # openbsd for OpenBSD pf (pass ... rdr-to rules)',
    '',
    'services:',
    "  # hfm does not describe the services: pf.conf's rdr rules and the change script do. One entry",
    `  # per group of external addresses and ports pf redirects to the haproxy hosts; rename \`${SERVICE}\``,
    '  # and copy it for each further service (each host then needs an address for each).',
    `  ${SERVICE}:`,
    `    interface: ${placeholder('the interface clients arrive on, such as em0')}`,
    `    external: ${placeholder('the pf table of the service addresses, such as <haproxy-ext-std>, or a list of addresses')}`,
    `    ports: ${placeholder('the ports as a list, such as [80, 443]')}`,
    '',
    'hosts:',
    ...hostLines,
  ];
  return { yaml: `${lines.join('\n')}\n`, notes, placeholders };
}

function renderNotes(notes: readonly ImportNote[], source: string): string[] {
  if (notes.length === 0) return ['#   (none: every rule converted exactly)'];
  return notes.map((n) => `#   ${n.pos ? `${source}:${n.pos.line}:${n.pos.col}: ` : ''}${n.message.replace(/\n/g, ' ')}`);
}

function placeholder(what: string): string {
  return JSON.stringify(`${PLACEHOLDER}: ${what}`);
}

/** Hosts in the order the file names them, with names pfsteer accepts. */
function groupByHost(rules: readonly HfmRule[], notes: ImportNote[]): Map<string, HfmRule[]> {
  const hosts = new Map<string, HfmRule[]>();
  const renamed = new Map<string, string>();
  for (const rule of rules) {
    let name = renamed.get(rule.host);
    if (name === undefined) {
      name = validName(rule.host, 'host', new Set(renamed.values()));
      if (name !== rule.host) notes.push({ pos: rule.hostPos, message: `host \`${rule.host}\` is not a valid pfsteer host name (letters, digits, \`_.-\`, at most 31 characters); written as \`${name}\`` });
      renamed.set(rule.host, name);
    }
    hosts.set(name, [...(hosts.get(name) ?? []), rule]);
  }
  return hosts;
}

function validName(text: string, kind: 'host' | 'check', taken: ReadonlySet<string>): string {
  if (nameProblem(kind, text) === undefined && !taken.has(text)) return text;
  const base = text.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 28) || kind;
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  return name;
}

function hostChecks(host: string, rules: readonly HfmRule[], notes: ImportNote[]): string[] {
  const lines: string[] = [];
  const checkNames = new Set<string>();
  const enabled = rules.filter((rule) => {
    const status = rule.settings.status;
    if (status?.value !== 'disabled') return true;
    notes.push({ pos: status.pos, message: `rule \`${host}/${rule.name}\` is disabled in hfm; not converted (add it under \`checks\` to run it)` });
    lines.push(`    # hfm rule ${rule.name} is disabled there and was not converted: ${rule.test.argv.join(' ')}`);
    return false;
  });
  if (enabled.length === 0) {
    notes.push({ pos: rules[0]!.hostPos, message: `host \`${host}\` has no enabled rule; pfsteer counts a host without checks as up` });
    return lines;
  }
  lines.push('    checks:');
  for (const rule of enabled) {
    const name = validName(rule.name, 'check', checkNames);
    checkNames.add(name);
    if (name !== rule.name) notes.push({ pos: rule.pos, message: `rule name \`${rule.name}\` is not a valid pfsteer check name; written as \`${name}\`` });
    lines.push(...checkLines(host, name, rule, notes));
  }
  lines.push(...hooks(host, enabled, notes));
  return lines;
}

function checkLines(host: string, name: string, rule: HfmRule, notes: ImportNote[]): string[] {
  const label = `\`${host}/${rule.name}\``;
  const timing = convertTiming(rule, label, notes);
  const status = rule.settings.status;
  if (status && status.value !== 'enabled') {
    notes.push({ pos: status.pos, message: `${label} has status \`${status.value}\`, which pfsteer has no equivalent for; converted as an ordinary check` });
  }
  const runs = rule.settings.counts.runs;
  if (runs && runs.value > 0) notes.push({ pos: runs.pos, message: `${label} sets runs=${runs.value}; pfsteer checks run for as long as the daemon does` });
  const delay = rule.settings.durations.start_delay;
  if (delay && delay.value > 0) notes.push({ pos: delay.pos, message: `${label} sets start_delay=${delay.text}; pfsteer starts each check at a random point of its first interval instead` });
  if (!rule.test.argv[0]!.startsWith('/')) {
    notes.push({ pos: rule.test.pos, message: `${label} runs \`${rule.test.argv[0]}\` by name: pfsteer looks it up in its own PATH (at boot /sbin:/bin:/usr/sbin:/usr/bin); give the absolute path if it lives elsewhere` });
  }
  const lines = [
    `      # hfm rule ${rule.name}`,
    '      - type: exec',
    `        name: ${yamlKey(name)}`,
    `        command: ${flowList(rule.test.argv)}`,
    `        interval: ${formatDuration(timing.interval)}`,
    `        timeout: ${formatDuration(timing.timeout)}`,
    `        kill_after: ${formatDuration(timing.killAfter)}`,
    `        rise: ${timing.rise}`,
    `        fall: ${timing.fall}`,
  ];
  if (timing.intervalFail !== timing.interval) {
    // hfm waits interval_fail after every failed run: while the host fails (fastinter) and once down (downinter).
    lines.push(`        fastinter: ${formatDuration(timing.intervalFail)}`, `        downinter: ${formatDuration(timing.intervalFail)}`);
  }
  return lines;
}

function convertTiming(rule: HfmRule, label: string, notes: ImportNote[]): Timing {
  const d = rule.settings.durations;
  const ms = (seconds: number) => Math.round(seconds * 1000);
  const clamp = (key: keyof typeof LIMITS, value: number, setting: Located<number> | undefined, what: string): number => {
    const [min, max] = LIMITS[key];
    const bounded = Math.min(max, Math.max(min, value));
    if (bounded !== value) notes.push({ pos: setting?.pos ?? rule.pos, message: `${label}: ${what} ${formatDuration(value)} is outside pfsteer's range ${formatDuration(min)}..${formatDuration(max)}; written as ${formatDuration(bounded)}` });
    return bounded;
  };
  for (const setting of Object.values(d)) {
    if (setting && /[0-9](k|m|g|kb|mb|gb)$/i.test(setting.text ?? '')) {
      notes.push({ pos: setting.pos, message: `${label}: \`${setting.text}\` is a libucl multiplier (m is mega, not minutes), so hfm reads it as ${setting.value} seconds; converted as such` });
    }
  }
  const interval = clamp('interval', ms(d.interval?.value ?? HFM_DEFAULTS.interval), d.interval, 'interval');
  const intervalFail = clamp('interval', ms(d.interval_fail?.value ?? interval / 1000), d.interval_fail, 'interval_fail');
  const timeoutInt = ms(d.timeout_int?.value ?? HFM_DEFAULTS.timeout_int);
  // hfm's own default: SIGKILL 3 s after the SIGINT deadline.
  const timeoutKill = d.timeout_kill ? ms(d.timeout_kill.value) : timeoutInt + 3000;
  let timeout = timeoutInt > 0 ? timeoutInt : timeoutKill;
  if (timeout === 0) {
    timeout = Math.floor(interval * 0.9);
    notes.push({ pos: rule.pos, message: `${label} has no deadline in hfm (timeout_int and timeout_kill are 0); pfsteer needs one: written as ${formatDuration(timeout)}` });
  } else if (timeout >= interval) {
    const wanted = timeout;
    timeout = Math.floor(interval * 0.9);
    notes.push({
      pos: d.timeout_int?.pos ?? rule.pos,
      message: `${label}: hfm lets the test run ${formatDuration(wanted)} (timeout_int), not less than its interval ${formatDuration(interval)}; pfsteer needs the timeout below the interval: written as ${formatDuration(timeout)} (raise interval instead if the test needs the full time)`,
    });
  }
  timeout = clamp('timeout', timeout, d.timeout_int, 'timeout_int');
  let killAfter = timeoutInt > 0 ? timeoutKill - timeoutInt : 0;
  if (killAfter < 0) {
    notes.push({ pos: d.timeout_kill?.pos ?? rule.pos, message: `${label}: timeout_kill comes before timeout_int in hfm; pfsteer sends SIGKILL at once after the SIGINT deadline (kill_after 0ms)` });
    killAfter = 0;
  }
  killAfter = clamp('killAfter', killAfter, d.timeout_kill, 'the time from SIGINT to SIGKILL');
  const rise = rule.settings.counts.change_success_debounce?.value ?? HFM_DEFAULTS.change_success_debounce;
  const fall = rule.settings.counts.change_fail_debounce?.value ?? HFM_DEFAULTS.change_fail_debounce;
  return { interval, intervalFail, timeout, killAfter, rise, fall };
}

/** hfm runs change scripts per rule; pfsteer per host, when all its checks agree. */
function hooks(host: string, rules: readonly HfmRule[], notes: ImportNote[]): string[] {
  const lines: string[] = [];
  for (const [key, pick, event] of [
    ['on_up', (r: HfmRule) => r.changeSuccess, 'change_success'],
    ['on_down', (r: HfmRule) => r.changeFail, 'change_fail'],
  ] as const) {
    const commands = rules.flatMap((rule) => {
      const command = pick(rule);
      return command ? [{ rule, command }] : [];
    });
    const first = commands[0];
    if (!first) continue;
    for (const other of commands.slice(1)) {
      if (sameArgv(other.command, first.command)) continue;
      notes.push({ pos: other.command.pos, message: `\`${host}/${other.rule.name}\` has its own ${event}; pfsteer runs one ${key} per host, the one of \`${first.rule.name}\`: merge them into one script` });
    }
    lines.push(`    ${key}: ${flowList(first.command.argv)}   # hfm ${event} of rule ${first.rule.name}`);
  }
  if (lines.length > 0) {
    notes.push({
      pos: rules[0]!.hostPos,
      message: `\`${host}\`'s change scripts are kept as on_up/on_down; pfsteer now steers pf itself, so a script that adds and removes hosts in pf tables is no longer needed once pf.conf hooks pfsteer's anchor`,
    });
  }
  return lines;
}

function sameArgv(a: HfmCommand, b: HfmCommand): boolean {
  return a.argv.length === b.argv.length && a.argv.every((arg, i) => arg === b.argv[i]);
}

/** JSON strings are YAML double-quoted scalars, so any argument survives as written. */
function flowList(items: readonly string[]): string {
  return `[${items.map((item) => JSON.stringify(item)).join(', ')}]`;
}

function yamlKey(name: string): string {
  return /^[A-Za-z][A-Za-z0-9_.-]*$/.test(name) && !/^(true|false|null|y|n|yes|no|on|off)$/i.test(name) ? name : JSON.stringify(name);
}
