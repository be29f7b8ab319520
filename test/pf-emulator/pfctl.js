#!/usr/bin/env -S node --min-semi-space-size=4
// The executable tests, benches and the demo run (PFCTL_EMULATOR). Every pfctl call is a new
// process, and this file is JavaScript so that node need not load its TypeScript stripper to read
// it: the compile cache is on before the first .ts module is imported, so the emulator's modules
// come from the cache already stripped and compiled, and the stripper never loads (a call
// 60 -> 30 ms on a 2-CPU machine, about 20 of which is node's own start-up). The larger young
// generation spares a load of a 1000-prefix anchor the scavenges its parse would cause (-2.5 ms).
import { enableCompileCache } from 'node:module';

enableCompileCache();
await import('./cli.ts');
