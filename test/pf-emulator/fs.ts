/**
 * node:fs for the emulator, which runs once per pfctl call. Not `import ... from 'node:fs'`:
 * fs's ES module namespace also loads fs/promises, some 3 ms of every call.
 */
export const fs = process.getBuiltinModule('node:fs');
