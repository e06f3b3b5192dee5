import {
  APIErrorCode,
  APIResponseError,
  RequestTimeoutError,
  UnknownHTTPResponseError,
} from '@notionhq/client';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { ToolError } from '../../core/errors.js';
import { toolError } from '../tool-result.js';
import { isSlowDown, retryAfterMs } from './retry.js';

export const NOT_CONNECTED = 'notion_not_connected';

/**
 * Turns what a tool call threw into a result the model can act on. Notion's own errors keep
 * Notion's code and message ("Status codes"); anything unexpected becomes a generic error and
 * a log line, so internals never reach the caller.
 */
export function notionToolError(err: unknown, logger: Logger): CallToolResult {
  if (err instanceof ToolError) return toolError(err.code, err.message, err.details);
  if (APIResponseError.isAPIResponseError(err)) return fromApiError(err, logger);
  if (RequestTimeoutError.isRequestTimeoutError(err)) {
    logger.warn('notion: request timed out');
    return toolError('notion_timeout', 'Notion did not answer in time. Try again.');
  }
  if (UnknownHTTPResponseError.isUnknownHTTPResponseError(err)) {
    logger.warn({ status: err.status }, 'notion: unexpected response');
    return toolError('notion_error', `Notion answered with HTTP ${err.status}.`, {
      status: err.status,
    });
  }
  logger.error({ err }, 'notion: tool call failed');
  return toolError('internal_error', 'The Notion request could not be completed.');
}

function fromApiError(err: APIResponseError, logger: Logger): CallToolResult {
  logger.info(
    { notion_code: err.code, status: err.status, notion_request_id: err.request_id },
    'notion: API error',
  );
  if (err.code === APIErrorCode.Unauthorized) {
    return toolError(
      NOT_CONNECTED,
      'Notion rejected the access token (it may have been revoked or expired). Connect Notion again, then retry.',
      { notion_code: err.code },
    );
  }
  if (isSlowDown(err)) {
    const wait = retryAfterMs(err);
    const reason = err.additional_data?.rate_limit_reason;
    return toolError(
      err.code,
      err.code === APIErrorCode.RateLimited
        ? `Notion is rate limiting requests: ${err.message}`
        : `Notion is overloaded: ${err.message}`,
      {
        status: err.status,
        ...(wait !== undefined ? { retry_after_seconds: Math.ceil(wait / 1000) } : {}),
        ...(typeof reason === 'string' ? { rate_limit_reason: reason } : {}),
      },
    );
  }
  return toolError(err.code, `Notion: ${err.message}`, { status: err.status });
}
