import type { ServerResponse } from 'node:http';
import {
  STORAGE_UNAVAILABLE_HEADERS,
  STORAGE_UNAVAILABLE_MESSAGE,
  STORAGE_UNAVAILABLE_STATUS,
  STORAGE_UNAVAILABLE_TITLE,
} from '../core/unavailable.js';
import { renderError } from './error-page.js';
import type { SafeHtml } from './html.js';
import { sendPage } from './respond.js';

/** The short page a browser gets while storage is unreachable; reloading it is the retry. */
export function renderUnavailable(): SafeHtml {
  return renderError({ title: STORAGE_UNAVAILABLE_TITLE, message: STORAGE_UNAVAILABLE_MESSAGE });
}

export function sendUnavailablePage(res: ServerResponse): void {
  sendPage(res, STORAGE_UNAVAILABLE_STATUS, renderUnavailable(), {
    headers: STORAGE_UNAVAILABLE_HEADERS,
  });
}
