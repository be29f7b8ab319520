/**
 * Keys that used to mean something, or mean something in the tools pfsteer replaces (hfm,
 * haproxy), mapped to the key to use now. Such a key fails with a hint naming its successor
 * rather than a bare "unknown key".
 */
export const RENAMED_KEYS: ReadonlyMap<string, string> = new Map([
  ['timeout_int', 'timeout'],
  ['timeout_kill', 'kill_after'],
  ['inter', 'interval'],
]);

/**
 * Values a key used to take, with what to write now and why. `policy.kill_states_on_down` was a
 * boolean; `true` killed states on every down, including a host that fails its monitor on
 * purpose to drain. Mapping it silently to either new value would either keep cutting planned
 * drains or change what the operator chose, so the old value fails and says which to pick.
 */
export const RENAMED_VALUES: ReadonlyMap<string, ReadonlyMap<string, string>> = new Map([
  [
    'policy.kill_states_on_down',
    new Map([
      ['true', '`always` does what `true` did (it also cuts the live connections of a host drained through its monitor); `unreachable`, the default, kills only when the checks cannot reach the host'],
      ['false', '`never` does what `false` did; `unreachable`, the default, kills only when the checks cannot reach the host'],
    ]),
  ],
]);
