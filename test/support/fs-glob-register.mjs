// Load with `node --import <this file> …/conformance/dist/index.js` on Node 20: the suite
// imports `globSync` from `fs`, which Node 20 does not have, and crashes at import without it.
import { register } from 'node:module';

register('./fs-glob-hooks.mjs', import.meta.url);
