/**
 * The HTTP gateway: plugin calls and status over fastify. It owns no plugin logic; every call goes through
 * `host.callDetailed`, and the host's error codes decide the HTTP status.
 */

import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { Type } from '@sinclair/typebox';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchema,
  type FastifySchemaCompiler,
} from 'fastify';
import type { Logger } from 'pino';
import semver from 'semver';
import { PlugbayError } from '../core/errors.js';
import { OptionChecker } from '../core/options.js';
import type { Diagnostic } from '../core/types.js';
import type { PluginHost, VersionStatus } from '../host/types.js';
import { adminRoutes } from './admin.js';
import { adminTokenProblem, isLoopback, requireAdminToken } from './admin-auth.js';
import { CallRoute, callHeaders } from './call-route.js';
import { registerDashboard } from './dashboard/routes.js';
import { errorAnswer, httpErrorOf } from './errors.js';
import { type FleetReport, registerFleetRoute, soloFleet } from './fleet.js';
import { registerObserveRoutes } from './observe-routes.js';
import { documentedManifests, openApiDocument } from './openapi.js';
import { createOriginPolicy, isHostName, originOf } from './origin.js';
import {
  adminErrors,
  commonErrors,
  type DocumentedSchema,
  errorRef,
  gatewayValidation,
  pluginsReportSchema,
} from './schemas.js';

export interface GatewayOptions {
  /** The host whose plugins are served. The gateway never closes it. */
  host: PluginHost;
  /** TCP port; 0 picks a free one. Default 7070. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1 (loopback only). */
  hostname?: string;
  /** Largest request body in bytes; bigger bodies get 413. Default 1 MiB. */
  bodyLimit?: number;
  /**
   * Web origins (`https://ops.example.com`) whose pages may send calls and admin changes besides the gateway's own
   * (see origin.ts). Default: none.
   */
  allowOrigins?: string[];
  /**
   * `Host` names accepted besides IP addresses, `localhost` and the listen address; the `Host` check (against DNS
   * rebinding) holds on every listen address, so a gateway reached by a DNS name needs it here. Default: none.
   */
  allowHosts?: string[];
  /** Largest deadline a caller may ask for with `x-plugbay-timeout-ms`; more is 400. Default 60000. */
  maxTimeoutMs?: number;
  /**
   * Bearer token the admin API asks for (`authorization: Bearer <token>`, compared in constant time): at least 16
   * printable ASCII characters. Required when any listener is beyond loopback. Default: none (the admin API is
   * open to whoever reaches a loopback port).
   */
  adminToken?: string;
  /**
   * Serves the admin API, with the status routes, /metrics and the dashboard, on a listener of its own at this port
   * (0 picks a free one); the traffic listener then serves calls and health only. Default: none (one listener).
   */
  adminPort?: number;
  /** Interface of the admin listener (with `adminPort`). Default 127.0.0.1. */
  adminHostname?: string;
  /**
   * How long close() lets requests in flight finish before it closes every connection still open (a call still
   * running is cancelled, a body still arriving is cut). Default 10000.
   */
  shutdownTimeoutMs?: number;
  /** Logs gateway events and internal errors. Default: silent. */
  logger?: Logger;
  /**
   * What `GET /v1/fleet` answers: the gateways sharing the state (`plugbay serve` reports the PostgreSQL
   * heartbeats, fleet.ts). Default: this gateway alone, on a `memory` state.
   */
  fleet?: () => FleetReport;
}

/** Where a listener is bound. */
export interface GatewayAddress {
  url: string;
  hostname: string;
  port: number;
}

export interface Gateway {
  /**
   * The fastify instance of the traffic listener, e.g. for `gateway.fastify.inject(...)` in tests. Calls on its
   * sockets are served in front of it (call-route.ts): hooks added here see every other request, and calls made
   * through inject(), but not those.
   */
  readonly fastify: FastifyInstance;
  /** The fastify instance serving the admin API: `fastify` itself unless `adminPort` is set. */
  readonly adminFastify: FastifyInstance;
  /**
   * Starts listening; resolves with the address really bound (the port, when 0 was asked for), and the admin
   * API's (the same address unless `adminPort` is set).
   */
  listen(): Promise<GatewayAddress & { admin: GatewayAddress }>;
  /** `/readyz` answers 200 only while ready; `plugbay serve` sets it once the plugins are loaded. */
  setReady(ready: boolean): void;
  /**
   * Stops accepting connections and waits for in-flight requests up to `shutdownTimeoutMs`, then closes the
   * connections still open. Idempotent; leaves the host open.
   */
  close(): Promise<void>;
  /** Every route registered, with its schema (the API reference is generated from these). */
  routes(): GatewayRoute[];
}

/** A registered route as fastify's onRoute hook saw it. `HEAD` routes are fastify's automatic twins of `GET`. */
export interface GatewayRoute {
  method: string;
  url: string;
  schema: FastifySchema | undefined;
}

/** Default of `maxTimeoutMs`: twice the default call deadline, and nginx's default `proxy_read_timeout`. */
export const defaultMaxTimeoutMs = 60_000;

/** Default of `shutdownTimeoutMs`: Kubernetes gives a pod 30 s after SIGTERM; this leaves time to stop plugins. */
export const defaultShutdownTimeoutMs = 10_000;

export { callHeaders, resultHeaders } from './call-route.js';

export function createGateway(options: GatewayOptions): Gateway {
  const config = normalise(options);
  const { host } = config;
  let ready = false;
  let closing: Promise<void> | undefined;
  const isClosing = () => closing !== undefined;
  const routes: GatewayRoute[] = [];
  const calls = new CallRoute({
    host,
    maxTimeoutMs: config.maxTimeoutMs,
    bodyLimit: config.bodyLimit,
    logger: config.logger,
    isClosing,
  });
  const traffic = createListener(config, config.hostname, routes, isClosing, calls);
  const admin =
    config.adminPort === undefined
      ? traffic
      : createListener(config, config.adminHostname, routes, isClosing);

  // Calls read their body as bytes: a `bytes` function gets them unchanged, the host parses them for a JSON one
  // (CallOptions.rawInput). Which it is depends on the version the call is routed to, known only inside the host.
  // On the traffic listener's sockets, calls are served in front of fastify (call-route.ts); this route answers
  // the same way for what fastify gets (inject(), an odd request), and lists the route with its schema.
  traffic.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    const asBytes = (_request: unknown, body: string | Buffer, done: (err: null, body: unknown) => void) =>
      done(null, body);
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, asBytes);
    scope.post<{ Params: { plugin: string; fn: string } }>(
      '/v1/call/:plugin/:fn',
      { schema: callSchema, validatorCompiler: documentationOnly },
      async (request, reply) => {
        // No body at all (`curl -X POST`) is an empty one: `{}` for a JSON function.
        const body = request.body instanceof Uint8Array ? request.body : noBody;
        const { plugin, fn } = request.params;
        const answer = await calls.answer(plugin, fn, request.headers, body, request.raw.socket, request.url);
        return reply.code(answer.status).headers(answer.headers).send(answer.body);
      },
    );
  });

  // The admin API: changes, and the reads that show the plugins' inside (status, stats, metrics, audit). With a
  // token, every route of this scope asks for it; the dashboard's static files (no data) do not.
  admin.register(async (scope) => {
    if (config.adminToken !== undefined) scope.addHook('onRequest', requireAdminToken(config.adminToken));
    await scope.register(adminRoutes, { host });
    scope.get('/v1/plugins', { schema: pluginsSchema }, async () =>
      pluginsReport(host.versions(), host.diagnostics()),
    );
    registerFleetRoute(
      scope,
      config.fleet ?? soloFleet('memory', () => (traffic.server.listening ? addressOf(traffic).url : '')),
    );
    registerObserveRoutes(scope, host);
  });
  registerDashboard(admin);

  for (const app of new Set([traffic, admin])) {
    app.get('/v1/openapi.json', { schema: openApiSchema }, async (request) =>
      openApiDocument(documentedManifests(host), { serverUrl: `${request.protocol}://${request.host}` }),
    );
    app.get('/healthz', { schema: healthSchema }, async () => ({ status: 'ok' }));
    app.get('/readyz', { schema: readySchema }, async (_request, reply) => {
      if (ready && closing === undefined) {
        const failed = everyPluginFailed(host);
        return failed === undefined ? { status: 'ready' } : reply.code(503).send(failed);
      }
      return reply.code(503).send({ status: closing === undefined ? 'loading' : 'closing' });
    });
  }

  return {
    fastify: traffic,
    adminFastify: admin,
    async listen() {
      const bound = await listenOn(traffic, config.port, config.hostname);
      if (admin === traffic) return { ...bound, admin: bound };
      try {
        return { ...bound, admin: await listenOn(admin, config.adminPort ?? 0, config.adminHostname) };
      } catch (err) {
        await traffic.close();
        throw err;
      }
    },
    setReady(value) {
      ready = value;
    },
    close() {
      closing ??= closeWithin([...new Set([traffic, admin])], config.shutdownTimeoutMs, config.logger);
      return closing;
    },
    routes: () => [...routes],
  };
}

/**
 * One fastify listener with what every route shares: the origin checks, JSON bodies, `connection: close` while
 * closing, the error body. Routes are added by createGateway.
 */
function createListener(
  config: GatewayConfig,
  hostname: string,
  routes: GatewayRoute[],
  isClosing: () => boolean,
  calls?: CallRoute,
): FastifyInstance {
  const sendError = (err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const plugin = (request.params as { plugin?: string } | undefined)?.plugin;
    const answer = errorAnswer(err, plugin, config.logger, request.url);
    return reply.code(answer.status).headers(answer.headers).send(answer.body);
  };
  // Before anything is parsed: a cross-site or rebound request never reaches a route (origin.ts).
  const originPolicy = createOriginPolicy({
    listenHostname: hostname,
    allowOrigins: config.allowOrigins,
    allowHosts: config.allowHosts,
  });
  // return503OnClosing off: while closing, a request already on its way over a kept-alive connection is still
  // served (the host is open until the gateway has closed), answered with `connection: close` (onSend below).
  const fastify = Fastify({
    logger: false,
    bodyLimit: config.bodyLimit,
    return503OnClosing: false,
    schemaErrorFormatter: gatewayValidation.schemaErrorFormatter,
    // The router's own refusals (a malformed percent-encoding, a path parameter over 100 characters) get the
    // gateway's error body too, not fastify's.
    frameworkErrors: (error, request, reply) => sendError(error, request, reply as FastifyReply),
  });
  if (calls !== undefined) {
    // The call route in front of fastify's request listener (call-route.ts), on the server fastify made: its
    // timeouts stay, and the extra server of a `localhost` listener (::1 beside 127.0.0.1) keeps fastify's alone.
    const server = fastify.server;
    const [handler] = server.listeners('request') as Parameters<CallRoute['front']>[1][];
    if (handler !== undefined) {
      server.removeListener('request', handler);
      server.on('request', calls.front(originPolicy, handler));
    }
  }
  fastify.setValidatorCompiler(gatewayValidation.validatorCompiler);
  fastify.setSerializerCompiler(gatewayValidation.serializerCompiler);
  // Both listeners serve /healthz and /readyz: the reference lists each route once.
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (!routes.some((r) => r.method === method && r.url === route.url))
        routes.push({ method, url: route.url, schema: route.schema });
    }
  });

  fastify.addHook('onRequest', (request, _reply, done) => {
    done(originPolicy.check(request.method, request.headers));
  });

  // Every body is JSON, whatever the content type says (so `curl -d` works on calls; admin changes insist on
  // application/json: admin.ts), and an empty body is `{}`.
  // fastify's parser refuses __proto__/constructor poisoning.
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    if (typeof body === 'string' && body.trim() === '') done(null, {});
    else parseJson(request, body as string, done);
  });

  // While closing, answers end their connection: a keep-alive socket would hold close() until its idle timeout.
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (isClosing()) reply.header('connection', 'close');
    done(null, payload);
  });

  fastify.setErrorHandler(sendError);

  fastify.setNotFoundHandler((request, reply) => {
    const err = new PlugbayError('PLUGBAY_NOT_FOUND', `no route ${request.method} ${request.url}`, {
      details: { method: request.method, url: request.url },
    });
    const mapped = httpErrorOf(err);
    return reply.code(mapped.status).send(mapped.body);
  });
  return fastify;
}

async function listenOn(fastify: FastifyInstance, port: number, host: string): Promise<GatewayAddress> {
  await fastify.listen({ port, host });
  return addressOf(fastify);
}

function addressOf(fastify: FastifyInstance): GatewayAddress {
  const address = fastify.server.address() as AddressInfo;
  const hostname = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `http://${hostname}:${address.port}`, hostname: address.address, port: address.port };
}

/**
 * Stops accepting connections (idle keep-alive ones close at once) and waits for the requests in flight; past
 * `graceMs`, closes every connection still open: a call still running is cancelled (its connection's signal), a
 * client still sending its body is cut. Without that bound, one slow client holds the process forever.
 */
async function closeWithin(apps: FastifyInstance[], graceMs: number, logger: Logger | undefined) {
  const timer = setTimeout(() => {
    logger?.warn({ shutdownTimeoutMs: graceMs }, 'shutdown grace over: closing the connections still open');
    for (const app of apps) app.server.closeAllConnections();
  }, graceMs);
  try {
    await Promise.all(apps.map((app) => app.close()));
  } finally {
    clearTimeout(timer);
  }
}

const callSchema: DocumentedSchema = {
  tags: ['Calls'],
  summary: 'Call a function of a plugin',
  description:
    'The body is the function input as JSON, whatever the content type says (no body or an empty one is `{}`); ' +
    'the host checks it against the function\'s input schema. A function with `codec: "bytes"` gets the body\'s ' +
    "raw bytes instead and answers raw bytes typed by its manifest's `contentType`. The call is routed to one version (pin, experiment, " +
    'canary, stable, fallback: docs/routing.md) and runs under a deadline. If the client hangs up, the call is ' +
    'cancelled (the plugin sees PLUGBAY_CANCELLED). The answer names who served it in `x-plugbay-served-by` ' +
    '(`<plugin>@<version>`) and `x-plugbay-arm` (`pinned`, `stable`, `canary`, `experiment:<name>:<variant>`, ' +
    '`fallback`).',
  params: Type.Object({
    plugin: Type.String({ description: 'Plugin name', examples: ['greeter'] }),
    fn: Type.String({ description: 'Function name', examples: ['greet'] }),
  }),
  headers: Type.Object({
    [callHeaders.version]: Type.Optional(
      Type.String({ description: 'Pin the call to an exact version or a semver range (`^1.2.0`)' }),
    ),
    [callHeaders.key]: Type.Optional(
      Type.String({
        description: 'Routing key (user, tenant): makes canary and experiment assignment sticky',
      }),
    ),
    [callHeaders.timeoutMs]: Type.Optional(
      Type.String({
        description:
          "Deadline in ms, a positive integer up to the gateway's `--max-timeout-ms` (default 60000); else the " +
          "function's own `timeoutMs` applies",
      }),
    ),
    [callHeaders.traceparent]: Type.Optional(
      Type.String({ description: 'W3C trace context; the call and its logs join that trace' }),
    ),
  }),
  body: Type.Unknown({
    description: 'The function\'s input as JSON, or the raw bytes of a function with `codec: "bytes"`',
    examples: [{ name: 'Ada' }],
  }),
  response: {
    200: Type.Unknown({
      description:
        "The function's output, as JSON (a string output is a JSON string); for a `bytes` function the raw " +
        "bytes, typed by the manifest's `contentType` (default application/octet-stream)",
    }),
    400: errorRef(
      'PLUGBAY_INVALID_INPUT (input refused by the schema, malformed JSON), PLUGBAY_INVALID_ARGUMENT (a bad ' +
        'header, a timeout above the cap, a version pin that is neither a version nor a range)',
    ),
    403: errorRef(
      'PLUGBAY_PERMISSION_DENIED (the plugin used a permission it was not granted), PLUGBAY_FORBIDDEN_ORIGIN (a ' +
        'cross-site request from a web page, or a Host the gateway does not serve)',
    ),
    404: errorRef('PLUGBAY_UNKNOWN_PLUGIN, PLUGBAY_UNKNOWN_FUNCTION'),
    413: errorRef('PLUGBAY_INVALID_INPUT: the body is larger than the body limit'),
    499: errorRef('PLUGBAY_CANCELLED: the client closed the connection (nobody reads it)'),
    502: errorRef(
      'PLUGBAY_PLUGIN_ERROR, PLUGBAY_INVALID_OUTPUT, PLUGBAY_PLUGIN_CRASHED (the process or worker died during the ' +
        'call, or the version the route chose is in a crash loop: `details.state` "crashloop", `details.retryInMs` ' +
        'and a `Retry-After` header; retryable)',
    ),
    503: errorRef(
      'PLUGBAY_NO_INSTANCE (no version can answer: none ready, none matching the pin, circuits open; `details.skipped` says ' +
        'why), PLUGBAY_CLOSED (retryable)',
    ),
    504: errorRef('PLUGBAY_TIMEOUT (retryable)'),
    500: commonErrors[500],
  },
};

const noBody = new Uint8Array(0);

/**
 * The call route's params, headers and body schemas document the API, but none of them can refuse a request:
 * params and header values always arrive as strings (Node joins a repeated header), and the body is any bytes
 * (the host checks the input against the function's schema). So no validator is made: fastify skips the
 * validation step of a route whose schemas compiled to nothing (three validator calls per request).
 */
const documentationOnly = (() => undefined) as unknown as FastifySchemaCompiler<unknown>;

const openApiSchema: DocumentedSchema = {
  tags: ['Calls'],
  summary: 'OpenAPI 3.1 document of the loaded functions',
  description:
    'One `POST /v1/call/{plugin}/{fn}` operation per function of the plugins loaded now, with its input and output ' +
    'schemas and the error answers by status. Follows loads and unloads. `plugbay client --url` generates a typed ' +
    'client from it.',
  response: { 200: Type.Object({}, { additionalProperties: true }), ...commonErrors },
};

const pluginsSchema: DocumentedSchema = {
  tags: ['Status and health'],
  summary: 'Every plugin: loaded versions and diagnostics',
  description:
    'Loaded versions grouped by plugin (tier, state, circuit, functions, in-flight calls, signature status and ' +
    'trust level), each plugin with the problems found in it; problems that belong to no plugin apart.',
  response: { 200: pluginsReportSchema, ...adminErrors },
};

const healthSchema: DocumentedSchema = {
  tags: ['Status and health'],
  summary: 'Liveness',
  description:
    'Answers 200 while the process serves HTTP, whatever the plugins do. Use it as a liveness probe.',
  response: { 200: Type.Object({ status: Type.Literal('ok') }), ...commonErrors },
};

/**
 * `/readyz`'s answer when no version is loaded and at least one plugin was rejected: a gateway that can answer
 * no call is not ready. It says which plugins and why (the code; the messages, which name server paths, stay in
 * the logs). Undefined otherwise: an empty plugins folder is ready (plugins may arrive later).
 */
function everyPluginFailed(host: PluginHost) {
  if (host.versions().length > 0) return undefined;
  const errors = host.diagnostics().filter((d) => d.severity === 'error');
  if (errors.length === 0) return undefined;
  return {
    status: 'failed' as const,
    reason: 'no plugin loaded: every plugin was rejected (the gateway log says why)',
    rejected: errors.map((d) => ({ plugin: d.plugin ?? basename(d.dir), code: d.code })),
  };
}

const readySchema: DocumentedSchema = {
  tags: ['Status and health'],
  summary: 'Readiness',
  description:
    '200 once `plugbay serve` has loaded the plugins directory (broken plugins are skipped, not waited for); ' +
    '503 while loading, from the first shutdown signal on, and while no plugin is loaded because every one was ' +
    'rejected (`failed`, with each rejected plugin and its code; ready again once a version loads). An empty ' +
    'plugins directory is ready. Use it as a readiness probe.',
  response: {
    200: Type.Object({ status: Type.Literal('ready') }),
    503: Type.Union([
      Type.Object({ status: Type.Union([Type.Literal('loading'), Type.Literal('closing')]) }),
      Type.Object({
        status: Type.Literal('failed'),
        reason: Type.String(),
        rejected: Type.Array(Type.Object({ plugin: Type.String(), code: Type.String() })),
      }),
    ]),
    ...commonErrors,
  },
};

type GatewayConfig = Required<Omit<GatewayOptions, 'logger' | 'adminToken' | 'adminPort' | 'fleet'>> &
  Pick<GatewayOptions, 'logger' | 'adminToken' | 'adminPort' | 'fleet'>;

function normalise(options: GatewayOptions): GatewayConfig {
  const check = new OptionChecker('createGateway');
  if (typeof options?.host?.callDetailed !== 'function') check.fail('host', 'must be a PluginHost');
  const port = options.port ?? 7070;
  check.integer('port', port, 0, 65535);
  const hostname = options.hostname ?? '127.0.0.1';
  check.nonEmptyString('hostname', hostname);
  const bodyLimit = options.bodyLimit ?? 1024 * 1024;
  check.positiveInteger('bodyLimit', bodyLimit);
  const maxTimeoutMs = options.maxTimeoutMs ?? defaultMaxTimeoutMs;
  check.positiveInteger('maxTimeoutMs', maxTimeoutMs);
  const allowOrigins = stringList(
    check,
    'allowOrigins',
    options.allowOrigins,
    originOf,
    'an http(s) origin such as https://ops.example.com (no path)',
  );
  const allowHosts = stringList(
    check,
    'allowHosts',
    options.allowHosts,
    (text) => (isHostName(text) ? text.toLowerCase() : undefined),
    'a host name without port',
  );
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? defaultShutdownTimeoutMs;
  check.integer('shutdownTimeoutMs', shutdownTimeoutMs, 0);
  const { adminToken, adminPort } = options;
  const tokenRule = adminToken === undefined ? undefined : adminTokenProblem(adminToken);
  if (tokenRule !== undefined) check.fail('adminToken', `must be ${tokenRule}`);
  check.integer('adminPort', adminPort, 0, 65535);
  if (adminPort !== undefined && adminPort !== 0 && adminPort === port)
    check.fail('adminPort', 'must differ from options.port');
  if (options.adminHostname !== undefined && adminPort === undefined)
    check.fail('adminHostname', 'needs options.adminPort (without it the admin API is on the one listener)');
  const adminHostname = options.adminHostname ?? '127.0.0.1';
  check.nonEmptyString('adminHostname', adminHostname);
  // One rule, whichever listener it is: nothing is reachable from the network without the token.
  const exposed = [hostname, ...(adminPort === undefined ? [] : [adminHostname])].filter(
    (name) => typeof name === 'string' && name !== '' && !isLoopback(name), // a bad name is refused above
  );
  if (adminToken === undefined && exposed.length > 0)
    check.fail('adminToken', `is required when the gateway listens beyond loopback (${exposed.join(', ')})`);
  if (options.fleet !== undefined && typeof options.fleet !== 'function')
    check.fail('fleet', 'must be a function');
  check.done();
  return {
    host: options.host,
    port,
    hostname,
    bodyLimit,
    maxTimeoutMs,
    allowOrigins,
    allowHosts,
    adminHostname,
    shutdownTimeoutMs,
    ...(adminToken === undefined ? {} : { adminToken }),
    ...(adminPort === undefined ? {} : { adminPort }),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.fleet === undefined ? {} : { fleet: options.fleet }),
  };
}

/** A list of strings, each read by `read`; one that reads as undefined is refused as not being `what`. */
function stringList(
  check: OptionChecker,
  name: string,
  value: unknown,
  read: (text: string) => string | undefined,
  what: string,
): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    check.fail(name, 'must be an array of strings');
    return [];
  }
  const list: string[] = [];
  value.forEach((text: unknown, i) => {
    const item = typeof text === 'string' ? read(text) : undefined;
    if (item === undefined) check.fail(`${name}[${i}]`, `must be ${what}, got "${String(text)}"`);
    else list.push(item);
  });
  return list;
}

/** `GET /v1/plugins`: loaded versions grouped by plugin, each plugin with its diagnostics; the rest apart. */
export function pluginsReport(versions: VersionStatus[], diagnostics: Diagnostic[]) {
  const byName = new Map<string, { name: string; versions: object[]; diagnostics: Diagnostic[] }>();
  const entry = (name: string) => {
    let e = byName.get(name);
    if (e === undefined) {
      e = { name, versions: [], diagnostics: [] };
      byName.set(name, e);
    }
    return e;
  };
  const sorted = [...versions].sort((a, b) => semver.compare(a.version, b.version));
  for (const v of sorted) {
    entry(v.plugin).versions.push({
      version: v.version,
      tier: v.tier,
      state: v.state,
      circuit: v.circuit,
      // Why the circuit is open and what the crash loop is (present only then).
      ...(v.circuitReason === undefined ? {} : { circuitReason: v.circuitReason }),
      ...(v.crashloop === undefined ? {} : { crashloop: v.crashloop }),
      functions: v.functions,
      inflight: v.inflight,
      warnings: v.warnings,
      // Signature status at load (valid, unsigned under warn/allowUnsigned, or off), trust level and key id.
      trust: v.trust,
      undeclaredExports: v.undeclaredExports,
      // What the manifest asks for and what the operator granted (docs/grants.md).
      permissions: v.permissions,
      // The content address of the bytes this version runs from (the host's artifact store).
      digest: v.digest,
    });
  }
  const unattributed: Diagnostic[] = [];
  for (const d of diagnostics) {
    if (d.plugin === undefined) unattributed.push(d);
    else entry(d.plugin).diagnostics.push(d);
  }
  const plugins = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  return { plugins, diagnostics: unattributed };
}
