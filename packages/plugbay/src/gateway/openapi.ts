/**
 * `GET /v1/openapi.json`: an OpenAPI 3.1 document of every function the host has loaded, built on each request
 * from the versions loaded at that moment (so it follows loads, unloads and swaps without any bookkeeping).
 * One operation per function (`POST /v1/call/{plugin}/{fn}`), with the manifest's input and output schemas and
 * one error response per HTTP status of the code table (errors.ts `httpStatuses`). `plugbay client --url` reads it.
 */
import semver from 'semver';
import type { ErrorCode } from '../core/errors.js';
import type { FunctionSpec, Manifest } from '../core/manifest.js';
import type { PluginHost, VersionStatus } from '../host/types.js';
import { httpStatuses } from './errors.js';
import { errorSchema } from './schemas.js';
import { callHeaders, resultHeaders } from './server.js';

/** The OpenAPI document, typed loosely: it is JSON for other tools. */
export type OpenApiDocument = Record<string, unknown> & {
  paths: Record<string, Record<string, OpenApiOperation>>;
};

/** What plugbay puts in an operation, besides the standard fields: `x-plugbay-*` say where it came from. */
export interface OpenApiOperation {
  operationId: string;
  'x-plugbay-plugin': string;
  'x-plugbay-function': string;
  'x-plugbay-version': string;
  'x-plugbay-codec': 'json' | 'bytes';
  [key: string]: unknown;
}

/** The version whose manifest documents a plugin: the route's stable when loaded, else the newest release. */
export function documentedVersion(host: PluginHost, name: string, versions: VersionStatus[]): string {
  const stable = host.route(name)?.stable;
  if (stable !== undefined && versions.some((v) => v.version === stable)) return stable;
  const sorted = versions.map((v) => v.version).sort(semver.rcompare);
  return sorted.find((v) => semver.prerelease(v) === null) ?? sorted[0]!;
}

/** The manifests the document is built from: one per plugin name, sorted by name. */
export function documentedManifests(host: PluginHost): Manifest[] {
  const byName = new Map<string, VersionStatus[]>();
  for (const v of host.versions()) byName.set(v.plugin, [...(byName.get(v.plugin) ?? []), v]);
  const out: Manifest[] = [];
  for (const name of [...byName.keys()].sort()) {
    const manifest = host.manifest(name, documentedVersion(host, name, byName.get(name)!));
    if (manifest !== undefined) out.push(manifest);
  }
  return out;
}

export interface OpenApiOptions {
  /** `servers[0].url`; omitted when unknown. */
  serverUrl?: string;
}

export function openApiDocument(
  manifests: readonly Manifest[],
  options: OpenApiOptions = {},
): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const manifest of manifests) {
    for (const fn of Object.keys(manifest.functions).sort()) {
      const path = `/v1/call/${encodeURIComponent(manifest.name)}/${encodeURIComponent(fn)}`;
      paths[path] = { post: operationOf(manifest, fn, manifest.functions[fn]!) };
    }
  }
  return {
    openapi: '3.1.0',
    // Manifests carry draft-07 schemas (what the host's Ajv checks); say so rather than pretend 2020-12.
    jsonSchemaDialect: 'http://json-schema.org/draft-07/schema#',
    info: {
      title: 'plugbay gateway: plugin functions',
      version: '1',
      description:
        'Every function of the plugins loaded when this document was requested. A plugin is documented by its ' +
        "route's stable version when loaded, else its newest release; a call may be routed to another version " +
        '(canary, experiment, pin: docs/routing.md).',
    },
    ...(options.serverUrl === undefined ? {} : { servers: [{ url: options.serverUrl }] }),
    paths,
    components: {
      schemas: { PlugbayError: errorBodySchema() },
      responses: errorResponses(),
      parameters: headerParameters(),
    },
  };
}

function operationOf(manifest: Manifest, fn: string, spec: FunctionSpec): OpenApiOperation {
  const bytes = spec.codec === 'bytes';
  const contentType = spec.contentType ?? 'application/octet-stream';
  const operation: OpenApiOperation = {
    operationId: `${manifest.name}.${fn}`,
    summary: `${manifest.name}.${fn}`,
    tags: [manifest.name],
    'x-plugbay-plugin': manifest.name,
    'x-plugbay-function': fn,
    'x-plugbay-version': manifest.version,
    'x-plugbay-codec': bytes ? 'bytes' : 'json',
    parameters: Object.keys(callHeaders).map((key) => ({ $ref: `#/components/parameters/${key}` })),
    requestBody: bytes
      ? {
          description: 'The raw input bytes, passed to the plugin unchanged',
          required: false,
          content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: '*/*' } } },
        }
      : {
          description: 'The input as JSON (no body or a blank one is `{}`)',
          required: false,
          content: { 'application/json': { schema: embedded(spec.input, manifest, fn, 'input') } },
        },
    responses: {
      200: {
        description: bytes ? `The output bytes (${contentType})` : 'The output as JSON',
        headers: {
          [resultHeaders.servedBy]: {
            description: '`<plugin>@<version>` that answered',
            schema: { type: 'string' },
          },
          [resultHeaders.arm]: { description: 'The routing arm that chose it', schema: { type: 'string' } },
        },
        content: bytes
          ? { [contentType]: { schema: { type: 'string', contentMediaType: contentType } } }
          : { 'application/json': { schema: embedded(spec.output, manifest, fn, 'output') } },
      },
      ...Object.fromEntries(
        errorStatuses().map((status) => [String(status), { $ref: `#/components/responses/E${status}` }]),
      ),
    },
  };
  const description = [manifest.description, spec.description].filter(Boolean).join(' — ');
  if (description !== '') operation.description = description;
  if (spec.examples?.[0] !== undefined && !bytes)
    (operation.requestBody as { content: Record<string, Record<string, unknown>> }).content[
      'application/json'
    ]!.example = spec.examples[0].input;
  return operation;
}

/**
 * A manifest schema placed inside the document. A `$ref` like `#/definitions/x` means the schema's own root, but
 * inside an OpenAPI document `#` is the document's: an `$id` makes the schema its own resource again (JSON Schema's
 * base-URI rule, which OpenAPI 3.1 follows), so its refs resolve where they did.
 */
function embedded(schema: unknown, manifest: Manifest, fn: string, side: string): unknown {
  if (typeof schema !== 'object' || schema === null || '$id' in schema) return schema;
  if (!JSON.stringify(schema).includes('"$ref":"#')) return schema;
  return { $id: `urn:plugbay:${manifest.name}:${manifest.version}:${fn}:${side}`, ...schema };
}

/** Every HTTP status an error code maps to, ascending. */
export function errorStatuses(): number[] {
  return [...new Set(Object.values(httpStatuses))].sort((a, b) => a - b);
}

function errorResponses(): Record<string, object> {
  const out: Record<string, object> = {};
  for (const status of errorStatuses()) {
    const codes = (Object.keys(httpStatuses) as ErrorCode[]).filter((c) => httpStatuses[c] === status);
    out[`E${status}`] = {
      description: codes.join(', '),
      content: { 'application/json': { schema: { $ref: '#/components/schemas/PlugbayError' } } },
    };
  }
  return out;
}

/** The error body schema as plain JSON, without its TypeBox `$id` (the component's name is its id here). */
function errorBodySchema(): object {
  const { $id: _id, ...schema } = JSON.parse(JSON.stringify(errorSchema)) as Record<string, unknown>;
  return schema;
}

const headerDescriptions: Record<keyof typeof callHeaders, string> = {
  key: 'Routing key (user, tenant): makes canary and experiment assignment sticky',
  version: 'Pin the call to an exact version or a semver range (`^1.2.0`)',
  timeoutMs: "Deadline in ms (a positive integer up to the gateway's --max-timeout-ms)",
  traceparent: 'W3C trace context',
};

function headerParameters(): Record<string, object> {
  const out: Record<string, object> = {};
  for (const [key, name] of Object.entries(callHeaders) as [keyof typeof callHeaders, string][]) {
    out[key] = {
      name,
      in: 'header',
      required: false,
      description: headerDescriptions[key],
      schema: key === 'timeoutMs' ? { type: 'string', pattern: '^[0-9]+$' } : { type: 'string' },
    };
  }
  return out;
}
