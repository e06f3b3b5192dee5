/**
 * Media types as headers carry them (RFC 9110 §8.3.1): `type/subtype` compared without case,
 * parameters after `;` ignored. The one parser of the codebase.
 */

/** The lower-cased `type/subtype` of a Content-Type, or undefined when there is none. */
export function mediaTypeOf(value: string | readonly string[] | undefined): string | undefined {
  const text = typeof value === 'string' ? value : value?.[0];
  if (text === undefined) return undefined;
  // Every proxied answer is asked this: no array built for the common value without parameters.
  const semicolon = text.indexOf(';');
  const essence = (semicolon === -1 ? text : text.slice(0, semicolon)).trim().toLowerCase();
  return essence === '' ? undefined : essence;
}

export function isJsonMediaType(value: string | readonly string[] | undefined): boolean {
  return mediaTypeOf(value) === 'application/json';
}

export function isFormMediaType(value: string | readonly string[] | undefined): boolean {
  return mediaTypeOf(value) === 'application/x-www-form-urlencoded';
}

export function isEventStreamMediaType(value: string | readonly string[] | undefined): boolean {
  return mediaTypeOf(value) === 'text/event-stream';
}

/** The media ranges an Accept (or other comma-separated list of media types) names, lower-cased. */
export function listedMediaTypes(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((item) => mediaTypeOf(item))
    .filter((t): t is string => t !== undefined);
}

/** Whether an Accept asks for a page (a browser navigating) rather than JSON. */
export function acceptsHtml(accept: string | undefined): boolean {
  return listedMediaTypes(accept).includes('text/html');
}
