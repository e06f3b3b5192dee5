// Load with `node --import <this file> …` and PORTCULLIS_TEST_MODULE_LOG=FILE: every module the
// process resolves through import (ESM, and the CommonJS packages it imports) is appended to
// FILE, one URL a line. For tests of what a command loads.
import { register } from 'node:module';

register('./module-log-hooks.mjs', import.meta.url, {
  data: { file: process.env.PORTCULLIS_TEST_MODULE_LOG },
});
