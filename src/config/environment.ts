/**
 * What `check` can only see on the machine it runs on. These are warnings, not errors: a config
 * is often checked on another machine than the firewall that will run it.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import type { ConfigIssue } from '../errors.ts';
import type { Config } from './model.ts';

/** Whether the group file (the one the daemon reads to chown its socket) lists `name`. */
export async function groupExists(name: string, groupFile = '/etc/group'): Promise<boolean> {
  const text = await readFile(groupFile, 'utf8').catch(() => '');
  return text.split('\n').some((line) => line.split(':')[0] === name);
}

/** Warnings about `config` (parsed from `text`) on this machine, located like errors. */
export async function localWarnings(config: Config, text: string, groupFile?: string): Promise<ConfigIssue[]> {
  const group = config.control.group;
  if (group === undefined || (await groupExists(group, groupFile))) return [];
  const lines = new LineCounter();
  const node = parseDocument(text, { lineCounter: lines, uniqueKeys: false }).getIn(['control', 'group'], true) as { range?: [number, number, number] } | undefined;
  const message =
    `\`control.group\` names "${group}", which this machine's ${groupFile ?? '/etc/group'} does not have; ` +
    '`pfsteer run` stops here when it cannot give the socket that group. A warning, since this may not be the firewall: make sure the group exists there';
  return [{ code: 'unknown-group', message, ...(node?.range ? { pos: lines.linePos(node.range[0]) } : {}) }];
}
