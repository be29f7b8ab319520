/**
 * The demo's world in one temporary folder: the config, the control socket, the state file and,
 * for the pf driver, an emulated pf (test/pf-emulator) that the daemon's real pf driver reaches
 * through the emulator's pfctl. Nothing here opens /dev/pf.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PFCTL_EMULATOR, PfEmulator } from '../../test/pf-emulator/emulator.ts';
import type { Backend } from './backends.ts';

export type DemoDriver = 'pf' | 'memory';

export const BUCKETS = 64;

/** pf.conf of the emulated firewall: the table the service names and pfsteer's anchor point. */
const MAIN_RULESET = `table <haproxy-ext-std> { 192.0.2.10 }
rdr-anchor "pfsteer"
`;

export interface Scene {
  dir: string;
  configFile: string;
  socket: string;
  driver: DemoDriver;
  emulator: PfEmulator | undefined;
  /** Environment the daemon needs on top of ours. */
  env: Record<string, string>;
  remove(): Promise<void>;
}

function renderConfig(dir: string, driver: DemoDriver, backends: readonly Backend[]): string {
  const hosts = backends
    .map((b, i) => `  ${b.name}:\n    addresses: {std: 10.0.1.${11 + i}}\n    checks:\n      - {type: http, name: haproxy, address: 127.0.0.1, port: ${b.port}, path: /haproxy_check}\n`)
    .join('');
  // Each emulated pfctl call is a Node process; more of them at once hides their start-up time.
  const pf = driver === 'pf' ? `pf: {pfctl: ${JSON.stringify(PFCTL_EMULATOR)}, concurrency: 8}\n` : '';
  return `# Written by examples/demo: three local stand-ins for haproxy, checked twice a second.
defaults: {interval: 500ms, timeout: 300ms, fall: 2, rise: 2, jitter: 0ms}
buckets: {count: ${BUCKETS}}
driver: ${driver}
${pf}control: {socket: ${JSON.stringify(join(dir, 'control.sock'))}, mode: "0600"}
daemon: {state_file: ${JSON.stringify(join(dir, 'state.json'))}, coalesce: 20ms, drift_interval: 30s}
services:
  std: {interface: em0, external: <haproxy-ext-std>, ports: [80, 443]}
hosts:
${hosts}`;
}

export async function createScene(driver: DemoDriver, backends: readonly Backend[]): Promise<Scene> {
  const dir = await mkdtemp(join(tmpdir(), 'pfsteer-demo-'));
  const emulator = driver === 'pf' ? new PfEmulator('freebsd', join(dir, 'pf')) : undefined;
  emulator?.loadMain(MAIN_RULESET);
  const configFile = join(dir, 'pfsteer.yaml');
  await writeFile(configFile, renderConfig(dir, driver, backends));
  return {
    dir,
    configFile,
    socket: join(dir, 'control.sock'),
    driver,
    emulator,
    env: emulator ? emulator.env() : {},
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
