/** `policy.kill_states_on_down`: its values, its default, and the old boolean refused with a hint. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';

const config = (policy: string) => `${policy}
services:
  web: {interface: em0, external: <web-ext>, ports: [443]}
hosts:
  lb1: {addresses: {web: 10.0.1.11}}
`;

test('kill_states_on_down defaults to unreachable and takes unreachable, always or never', () => {
  assert.equal(parseConfig(config(''), 'x.yaml').policy.killStatesOnDown, 'unreachable');
  for (const value of ['unreachable', 'always', 'never']) {
    assert.equal(parseConfig(config(`policy: {kill_states_on_down: ${value}}`), 'x.yaml').policy.killStatesOnDown, value);
  }
});

test('the old boolean fails at its value and names the value that does what it did', () => {
  for (const [old, successor] of [['true', 'always'], ['false', 'never']] as const) {
    try {
      parseConfig(config(`policy: {kill_states_on_down: ${old}}`), 'x.yaml');
      assert.fail('loaded');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.issues.map((i) => [i.code, i.pos?.line, i.pos?.col]), [['renamed-value', 1, 31]]);
      assert.match(error.issues[0]!.message, new RegExp(`\`${successor}\` does what \`${old}\` did`));
    }
  }
  try {
    parseConfig(config('policy: {kill_states_on_down: true}'), 'x.yaml');
  } catch (error) {
    assert.equal(
      (error as ConfigError).issues[0]!.message,
      '`policy.kill_states_on_down` takes unreachable, always, never now, got true: `always` does what `true` did (it also cuts the live connections of a host drained through its monitor); `unreachable`, the default, kills only when the checks cannot reach the host',
    );
  }
});
