#!/usr/bin/env node
// The documented entry (README): the same emulator as pfctl.js, which enables the compile cache
// before any TypeScript loads. Started as a .ts file, node strips this one file first, so a call
// through here costs some 30 ms more than through pfctl.js.
import './pfctl.js';
