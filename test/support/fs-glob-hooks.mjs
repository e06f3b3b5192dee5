// Module resolve hook (registered by fs-glob-register.mjs): when the MCP conformance package
// imports `fs`, it gets fs-glob-shim.mjs instead, which adds the `globSync` Node 20 lacks.
// Every other importer, and the shim itself, gets the real `node:fs`.
const SHIM_URL = new URL('./fs-glob-shim.mjs', import.meta.url).href;
const CONFORMANCE_PACKAGE = '/node_modules/@modelcontextprotocol/conformance/';

export async function resolve(specifier, context, nextResolve) {
  if (
    (specifier === 'fs' || specifier === 'node:fs') &&
    context.parentURL?.includes(CONFORMANCE_PACKAGE)
  ) {
    return { url: SHIM_URL, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
