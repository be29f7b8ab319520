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
