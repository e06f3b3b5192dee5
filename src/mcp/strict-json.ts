/**
 * JSON parsing that refuses what parsers disagree on. `JSON.parse` keeps the last of duplicate
 * keys while other parsers keep the first or fail (RFC 8259 §4: names "SHOULD be unique", and
 * behaviour otherwise is unpredictable), so a gateway judging `{"name":"read","name":"drop"}` by
 * one reading could forward a request the server reads the other way. `__proto__`,
 * `constructor` and `prototype` keys are refused too: nothing in MCP needs them and they are the
 * usual prototype-pollution vectors in code downstream.
 *
 * Validity is `JSON.parse`'s (strict RFC 8259). The checks then run on every request, so the
 * common case is cheap: one walk over the parsed value (forbidden keys, depth, and how many keys
 * its objects hold) and one pass over the text counting the strings that are keys; fewer keys
 * parsed than written means a duplicate, and only then does a key-by-key scan name it. Both
 * use explicit stacks: linear, and deep nesting cannot overflow the call stack.
 */

export type StrictJsonResult =
  | { readonly ok: true; readonly value: unknown }
  | {
      readonly ok: false;
      readonly kind: 'syntax' | 'duplicate-key' | 'forbidden-key' | 'depth';
      readonly message: string;
    };

export interface StrictJsonOptions {
  /** Deepest allowed nesting of arrays and objects. */
  readonly maxDepth?: number;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Parses `text` as JSON, refusing duplicate and forbidden keys at any depth. */
export function parseStrictJson(text: string, options: StrictJsonOptions = {}): StrictJsonResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, kind: 'syntax', message: (err as Error).message };
  }
  if (value === null || typeof value !== 'object') return { ok: true, value };
  const walked = walkParsed(value, options.maxDepth ?? Infinity);
  if (typeof walked !== 'number') return walked;
  if (walked !== countWrittenKeys(text)) return findDuplicateKey(text);
  return { ok: true, value };
}

/** Decodes UTF-8 strictly (invalid sequences and a BOM are refused) then parses strictly. */
export function parseStrictJsonBytes(bytes: Uint8Array, options: StrictJsonOptions = {}) {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return { ok: false, kind: 'syntax', message: 'body is not valid UTF-8' } as const;
  }
  return parseStrictJson(text, options);
}

/** Not streaming, so it keeps no state between calls. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The keys of every object in `root`, counted, or the first forbidden key or excess depth.
 * `JSON.parse` makes every key an own enumerable property, `__proto__` included.
 */
function walkParsed(root: object, maxDepth: number): number | StrictJsonResult {
  let keys = 0;
  const pending: unknown[] = [root];
  const depths: number[] = [1];
  while (pending.length > 0) {
    const value = pending.pop() as Record<string, unknown> | unknown[];
    const depth = depths.pop()!;
    if (depth > maxDepth) {
      return { ok: false, kind: 'depth', message: `nesting deeper than ${maxDepth}` };
    }
    if (Array.isArray(value)) {
      for (const item of value) {
        if (item !== null && typeof item === 'object') {
          pending.push(item);
          depths.push(depth + 1);
        }
      }
      continue;
    }
    for (const key in value) {
      keys++;
      if (FORBIDDEN_KEYS.has(key)) {
        return {
          ok: false,
          kind: 'forbidden-key',
          message: `key ${JSON.stringify(key)} is not allowed`,
        };
      }
      const item = value[key];
      if (item !== null && typeof item === 'object') {
        pending.push(item);
        depths.push(depth + 1);
      }
    }
  }
  return keys;
}

/** In valid JSON a string is a key exactly when the next character past blanks is `:`. */
function countWrittenKeys(text: string): number {
  let keys = 0;
  for (let q = text.indexOf('"'); q !== -1; q = text.indexOf('"', q + 1)) {
    q = stringEnd(text, q);
    let next = q + 1;
    let c = text.charCodeAt(next);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++next);
    if (c === 0x3a /* : */) keys++;
  }
  return keys;
}

/**
 * The duplicate the key counts found, named. The text is valid JSON with no forbidden key and
 * no excess depth here, so the scan only tracks structure and object keys.
 */
function findDuplicateKey(text: string): StrictJsonResult {
  const stack: (Set<string> | null)[] = []; // null: an array
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      const keys = stack[stack.length - 1];
      if (keys && expectKey) {
        const raw = text.slice(i, end + 1);
        const key = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (keys.has(key)) {
          return {
            ok: false,
            kind: 'duplicate-key',
            message: `duplicate key ${JSON.stringify(key)}`,
          };
        }
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push(c === 0x7b ? new Set() : null);
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] != null;
    }
  }
  // Unreachable while the counts are right; answered as a duplicate all the same (fail closed).
  return { ok: false, kind: 'duplicate-key', message: 'duplicate key' };
}

/** Index of the quote closing the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const q = text.indexOf('"', i);
    // Count the backslashes right before the quote: an odd number escapes it.
    let b = q - 1;
    while (text.charCodeAt(b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q;
    i = q + 1;
  }
}
