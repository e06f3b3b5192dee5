import type { DataSourceObjectResponse, PageObjectResponse } from '@notionhq/client';
import { plainText } from './rich-text.js';

type PropertyValue = PageObjectResponse['properties'][string];
type DateValue = { start: string; end: string | null; time_zone?: string | null } | null;
type UserLike = { id: string; name?: string | null; object?: string };

export const UNTITLED = 'Untitled';

/**
 * A page's title. Every page has exactly one `title` property, whatever it is called
 * ("title" for plain pages, "Name", "Task"… for database rows).
 */
export function pageTitle(page: Pick<PageObjectResponse, 'properties'>): string {
  for (const value of Object.values(page.properties)) {
    if (value.type === 'title') return plainText(value.title).trim() || UNTITLED;
  }
  return UNTITLED;
}

export function dataSourceTitle(source: Pick<DataSourceObjectResponse, 'title'>): string {
  return plainText(source.title).trim() || UNTITLED;
}

/** Name of the title property in a page's or data source's property map. */
export function titlePropertyName(
  properties: Record<string, { type: string }>,
): string | undefined {
  return Object.entries(properties).find(([, p]) => p.type === 'title')?.[0];
}

/**
 * The page's properties other than the title, as strings (the `fetch` contract's
 * `metadata`). Empty values are left out; a checkbox is always "true" or "false".
 */
export function propertiesMetadata(page: Pick<PageObjectResponse, 'properties'>) {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(page.properties)) {
    if (value.type === 'title') continue;
    const text = propertyToString(value);
    if (text !== '') out[name] = text;
  }
  return out;
}

/** One property value as a single line of text. */
export function propertyToString(value: PropertyValue): string {
  switch (value.type) {
    case 'title':
      return plainText(value.title);
    case 'rich_text':
      return plainText(value.rich_text);
    case 'number':
      return value.number === null ? '' : String(value.number);
    case 'select':
      return value.select?.name ?? '';
    case 'status':
      return value.status?.name ?? '';
    case 'multi_select':
      return list(value.multi_select.map((o) => o.name));
    case 'date':
      return dateToString(value.date);
    case 'people':
      return list(value.people.map((p) => userName(p as UserLike)));
    case 'relation':
      return list(value.relation.map((r) => r.id));
    case 'checkbox':
      return String(value.checkbox);
    case 'url':
      return value.url ?? '';
    case 'email':
      return value.email ?? '';
    case 'phone_number':
      return value.phone_number ?? '';
    case 'files':
      return list(value.files.map((f) => f.name || (f.type === 'external' ? f.external.url : '')));
    case 'created_time':
      return value.created_time;
    case 'last_edited_time':
      return value.last_edited_time;
    case 'created_by':
      return userName(value.created_by);
    case 'last_edited_by':
      return userName(value.last_edited_by);
    case 'formula':
      return formulaToString(value.formula);
    case 'rollup':
      return rollupToString(value.rollup);
    case 'unique_id':
      return uniqueIdToString(value.unique_id);
    case 'verification':
      return verificationToString(value.verification);
    case 'place':
      return value.place
        ? (value.place.name ?? value.place.address ?? `${value.place.lat}, ${value.place.lon}`)
        : '';
    case 'button':
      return '';
    default:
      return '';
  }
}

function list(items: string[]): string {
  return items.filter((s) => s !== '').join(', ');
}

function dateToString(date: DateValue): string {
  if (!date) return '';
  return date.end ? `${date.start} → ${date.end}` : date.start;
}

function userName(user: UserLike): string {
  return user.name ?? user.id;
}

function formulaToString(formula: Extract<PropertyValue, { type: 'formula' }>['formula']): string {
  switch (formula.type) {
    case 'string':
      return formula.string ?? '';
    case 'number':
      return formula.number === null ? '' : String(formula.number);
    case 'boolean':
      return formula.boolean === null ? '' : String(formula.boolean);
    case 'date':
      return dateToString(formula.date);
    default:
      return '';
  }
}

function rollupToString(rollup: Extract<PropertyValue, { type: 'rollup' }>['rollup']): string {
  switch (rollup.type) {
    case 'number':
      return rollup.number === null ? '' : String(rollup.number);
    case 'date':
      return dateToString(rollup.date);
    case 'array':
      return list(
        rollup.array.map((item) => propertyToString({ id: '', ...item } as PropertyValue)),
      );
    default:
      return '';
  }
}

function uniqueIdToString(id: { prefix: string | null; number: number | null }): string {
  if (id.number === null) return '';
  return id.prefix ? `${id.prefix}-${id.number}` : String(id.number);
}

function verificationToString(
  v: Extract<PropertyValue, { type: 'verification' }>['verification'],
): string {
  if (!v) return '';
  return v.state === 'unverified' || !v.date ? v.state : `${v.state} (${dateToString(v.date)})`;
}
