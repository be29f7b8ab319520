#!/usr/bin/env -S node --min-semi-space-size=4 --no-concurrent-recompilation
// The executable tests, benches and the demo run (PFCTL_EMULATOR). Every pfctl call is a new
// process. This file is JavaScript so that node need not load its TypeScript stripper to read it:
// with the compile cache on before the first .ts import, the emulator's modules come from the
// cache already stripped and the stripper never loads (some 30 ms of CPU per call). The node
// options suit a process that lives ~40 ms: a young generation large enough that parsing an
// anchor of 1000 prefixes needs no scavenge, and V8's optimizing compiles on the main thread,
// since background ones cost more CPU than they save here (-1.5 and -4.5 ms of CPU per load).
import { enableCompileCache } from 'node:module';

enableCompileCache();
const { main } = await import('./cli.ts');
main();
