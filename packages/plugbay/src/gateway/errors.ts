import type { FastifyError } from 'fastify';
import { type ErrorCode, errorCodes, PlugbayError } from '../core/errors.js';

/** The JSON body of every gateway error. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    plugin?: string;
    version?: string;
    details?: Record<string, unknown>;
  };
}

/** An error mapped to its HTTP status and JSON body. */
export interface HttpError {
  status: number;
  body: ErrorBody;
  /** True when the gateway or host broke (worth an error log line), not the caller or a plugin. */
  internal: boolean;
}

/**
 * Maps anything a route threw to the HTTP answer. PlugbayErrors take their code's status from the registry;
 * fastify's own 4xx errors (malformed JSON, body too large) become PLUGBAY_INVALID_INPUT with fastify's status,
 * because the registry has one status per code and these are transport-level refinements of "invalid input".
 */
export function httpErrorOf(err: unknown, plugin?: string): HttpError {
  if (err instanceof PlugbayError) {
    return {
      status: errorCodes[err.code].httpStatus,
      body: bodyOf(err.code, err.message, err.plugin ?? plugin, err.version, err.details),
      internal: err.code === 'PLUGBAY_INTERNAL',
    };
  }
  const status = (err as FastifyError | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const fastifyCode = (err as FastifyError).code;
    const message = fastifyMessages[fastifyCode] ?? (err as Error).message;
    return {
      status,
      body: bodyOf('PLUGBAY_INVALID_INPUT', message, plugin, undefined, { httpCode: fastifyCode }),
      internal: false,
    };
  }
  return {
    status: 500,
    body: bodyOf(
      'PLUGBAY_INTERNAL',
      err instanceof Error ? err.message : 'internal error',
      plugin,
      undefined,
      undefined,
    ),
    internal: true,
  };
}

// fastify's own texts assume the content type was JSON; every body is read as JSON here, whatever its type.
const fastifyMessages: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'request body is larger than the body limit',
  FST_ERR_CTP_INVALID_JSON_BODY: 'request body is not valid JSON',
};

function bodyOf(
  code: ErrorCode,
  message: string,
  plugin: string | undefined,
  version: string | undefined,
  details: Record<string, unknown> | undefined,
): ErrorBody {
  const error: ErrorBody['error'] = { code, message };
  if (plugin !== undefined) error.plugin = plugin;
  if (version !== undefined) error.version = version;
  if (details !== undefined) error.details = details;
  return { error };
}
