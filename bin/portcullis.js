#!/usr/bin/env node
// The CLI is compiled to dist/ by `npm ci` (the `prepare` script).
// The young generation is capped before the CLI's modules load: loading them is what first
// grows it (src/cli/young-generation.ts).
import { capYoungGeneration } from '../dist/src/cli/young-generation.js';

capYoungGeneration(process.env.NODE_OPTIONS, process.execArgv);
const { main } = await import('../dist/src/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
