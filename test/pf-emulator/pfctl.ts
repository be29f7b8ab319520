#!/usr/bin/env node
// Every pfctl call is a new process; caching the compiled modules (and their stripped types)
// between calls halves the emulator's start-up.
import { enableCompileCache } from 'node:module';

enableCompileCache();
await import('./cli.ts');
