/**
 * JSON parsing that refuses what parsers disagree on. `JSON.parse` keeps the last of duplicate
 * keys while other parsers keep the first or fail (RFC 8259 §4: names "SHOULD be unique", and
 * behaviour otherwise is unpredictable), so a gateway judging `{"name":"read","name":"drop"}` by
 * one reading could forward a request the server reads the other way. `__proto__`,
 * `constructor` and `prototype` keys are refused too: nothing in MCP needs them and they are the
 * usual prototype-pollution vectors in code downstream.
 *
 * Validity is `JSON.parse`'s (strict RFC 8259); the key scan then runs once over the text with
 * an explicit stack, so it is linear and deep nesting cannot overflow the call stack.
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
  const problem = scanKeys(text, options.maxDepth ?? Infinity);
  return problem ?? { ok: true, value };
}

/** Decodes UTF-8 strictly (invalid sequences and a BOM are refused) then parses strictly. */
export function parseStrictJsonBytes(bytes: Uint8Array, options: StrictJsonOptions = {}) {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return { ok: false, kind: 'syntax', message: 'body is not valid UTF-8' } as const;
  }
  return parseStrictJson(text, options);
}

type Frame = { keys: Set<string>; expectKey: boolean } | null; // null: an array

/** The text is valid JSON here, so the scan only tracks structure and object keys. */
function scanKeys(text: string, maxDepth: number): StrictJsonResult | null {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      const top = stack[stack.length - 1];
      if (top && top.expectKey) {
        const raw = text.slice(i, end + 1);
        const key = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (FORBIDDEN_KEYS.has(key)) {
          return {
            ok: false,
            kind: 'forbidden-key',
            message: `key ${JSON.stringify(key)} is not allowed`,
          };
        }
        if (top.keys.has(key)) {
          return {
            ok: false,
            kind: 'duplicate-key',
            message: `duplicate key ${JSON.stringify(key)}`,
          };
        }
        top.keys.add(key);
        top.expectKey = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) {
        return { ok: false, kind: 'depth', message: `nesting deeper than ${maxDepth}` };
      }
      stack.push(c === 0x7b ? { keys: new Set(), expectKey: true } : null);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top) top.expectKey = true;
    }
  }
  return null;
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
