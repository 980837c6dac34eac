import type { FastifyError } from 'fastify';
import type { Logger } from 'pino';
import { type ErrorCode, PlugbayError } from '../core/errors.js';

/**
 * The HTTP status of every error code. It lives here, not in the SDK's registry: plugins know codes, only the
 * gateway speaks HTTP. Typed as a Record so that a code added to the registry without a status does not compile.
 */
export const httpStatuses: Readonly<Record<ErrorCode, number>> = {
  PLUGBAY_MANIFEST_INVALID: 500,
  PLUGBAY_ENGINE_MISMATCH: 500,
  PLUGBAY_DUPLICATE_PLUGIN: 409,
  PLUGBAY_UNKNOWN_PLUGIN: 404,
  PLUGBAY_UNKNOWN_FUNCTION: 404,
  PLUGBAY_NO_INSTANCE: 503,
  PLUGBAY_VERSION_NOT_LOADED: 409,
  PLUGBAY_INVALID_INPUT: 400,
  PLUGBAY_INVALID_OUTPUT: 502,
  PLUGBAY_TIMEOUT: 504,
  // nginx's "client closed request": nobody reads it, but logs and metrics tell it apart from a server failure.
  PLUGBAY_CANCELLED: 499,
  PLUGBAY_PLUGIN_ERROR: 502,
  PLUGBAY_PLUGIN_CRASHED: 502,
  PLUGBAY_START_FAILED: 503,
  PLUGBAY_CLOSED: 503,
  PLUGBAY_INVALID_ARGUMENT: 400,
  PLUGBAY_PERMISSION_DENIED: 403,
  PLUGBAY_SIGNATURE_INVALID: 403,
  PLUGBAY_TIER_NOT_ALLOWED: 403,
  PLUGBAY_EXPORTS_UNDECLARED: 500,
  PLUGBAY_CONTRACT_MISMATCH: 500,
  PLUGBAY_ARTIFACT_INVALID: 500,
  PLUGBAY_REGISTRY_FAILED: 502,
  PLUGBAY_LOAD_FAILED: 500,
  PLUGBAY_FORBIDDEN_ORIGIN: 403,
  PLUGBAY_UNAUTHORIZED: 401,
  PLUGBAY_NOT_FOUND: 404,
  PLUGBAY_STATE_UNAVAILABLE: 503,
  PLUGBAY_ROLLOUT_CONFLICT: 409,
  PLUGBAY_INTERNAL: 500,
};

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
  /** `retry-after` (seconds) when the error says when to come back (`details.retryInMs`: a crash loop's retry). */
  headers?: Record<string, string>;
}

/**
 * Maps anything a route threw to the HTTP answer. PlugbayErrors take their code's status from httpStatuses;
 * fastify's own 4xx errors (malformed JSON, body too large) become PLUGBAY_INVALID_INPUT with fastify's status,
 * because the table has one status per code and these are transport-level refinements of "invalid input".
 */
export function httpErrorOf(err: unknown, plugin?: string): HttpError {
  if (err instanceof PlugbayError) {
    const mapped: HttpError = {
      status: httpStatuses[err.code],
      body: bodyOf(err.code, err.message, err.plugin ?? plugin, err.version, err.details),
      internal: err.code === 'PLUGBAY_INTERNAL',
    };
    const retryInMs = err.details?.retryInMs;
    if (typeof retryInMs === 'number' && Number.isFinite(retryInMs) && retryInMs >= 0)
      mapped.headers = { 'retry-after': String(Math.ceil(retryInMs / 1000)) };
    return mapped;
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

/**
 * The whole answer to an error, as the routes send it: status, headers and the JSON body; an internal error is
 * logged with the request's URL.
 */
export function errorAnswer(
  err: unknown,
  plugin: string | undefined,
  logger: Logger | undefined,
  url: string,
): { status: number; headers: Record<string, string>; body: string } {
  const mapped = httpErrorOf(err, plugin);
  if (mapped.internal) logger?.error({ err, url }, 'gateway: internal error');
  return {
    status: mapped.status,
    headers: { ...mapped.headers, 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(mapped.body),
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
