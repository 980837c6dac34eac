/**
 * `plugbay client`: a typed TypeScript client of the gateway's call API, generated from an OpenAPI document as
 * openapi.ts writes it (from a plugins folder, or fetched from a running gateway). The types come from the
 * manifests' JSON Schemas through json-schema-to-typescript; nothing is typed by hand. The client has no
 * dependency: `fetch` and one error class.
 */
import type { OpenApiDocument, OpenApiOperation } from './openapi.js';

/** One function as the client sees it. */
interface ClientFunction {
  plugin: string;
  fn: string;
  path: string;
  codec: 'json' | 'bytes';
  input: unknown;
  output: unknown;
  description: string | undefined;
}

/** The functions an OpenAPI document of plugbay's describes (operations marked with `x-plugbay-*`). */
export function clientFunctions(document: OpenApiDocument): ClientFunction[] {
  const out: ClientFunction[] = [];
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    const op = item.post as OpenApiOperation | undefined;
    if (op === undefined || typeof op['x-plugbay-plugin'] !== 'string') continue;
    const body = op.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined;
    const ok = (op.responses as Record<string, { content?: Record<string, { schema?: unknown }> }>)?.['200'];
    out.push({
      plugin: op['x-plugbay-plugin'],
      fn: op['x-plugbay-function'],
      path,
      codec: op['x-plugbay-codec'] === 'bytes' ? 'bytes' : 'json',
      input: body?.content?.['application/json']?.schema ?? {},
      output: ok?.content?.['application/json']?.schema ?? {},
      description: typeof op.description === 'string' ? op.description : undefined,
    });
  }
  return out.sort((a, b) => a.plugin.localeCompare(b.plugin) || a.fn.localeCompare(b.fn));
}

/** `hello-world` / `@acme/x` / `get_name` → `HelloWorld` / `AcmeX` / `GetName`. */
export function pascalCase(text: string): string {
  return text
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}

/** The TypeScript source of a client for every function of `document`. */
export async function generateClient(document: OpenApiDocument): Promise<string> {
  const { compile } = await import('json-schema-to-typescript');
  const functions = clientFunctions(document);
  const types: string[] = [];
  const methods = new Map<string, string[]>();
  for (const f of functions) {
    const prefix = `${pascalCase(f.plugin)}${pascalCase(f.fn)}`;
    let inputType = 'Uint8Array';
    let outputType = 'Uint8Array';
    if (f.codec === 'json') {
      inputType = `${prefix}Input`;
      outputType = `${prefix}Output`;
      for (const [name, schema] of [
        [inputType, f.input],
        [outputType, f.output],
      ] as const) {
        types.push(await typeOf(compile, schema, name, prefix));
      }
    }
    const doc = f.description === undefined ? '' : `    /** ${f.description.replaceAll('*/', '*\\/')} */\n`;
    const list = methods.get(f.plugin) ?? [];
    list.push(
      `${doc}    ${JSON.stringify(f.fn)}: (input: ${inputType}, options?: CallOptions): Promise<${outputType}> =>\n` +
        `      call(${JSON.stringify(f.path)}, ${JSON.stringify(f.codec)}, input, options) as Promise<${outputType}>,`,
    );
    methods.set(f.plugin, list);
  }
  const plugins = [...methods.entries()]
    .map(([plugin, list]) => `  ${JSON.stringify(plugin)}: {\n${list.join('\n')}\n  },`)
    .join('\n');
  return `${header}\n${types.join('\n')}\n${runtime}
/** A client of every function: \`client.<plugin>.<fn>(input)\` posts to the gateway at \`baseUrl\`. */
export function createClient(baseUrl: string, clientOptions: ClientOptions = {}) {
  const call = caller(baseUrl, clientOptions);
  return {
${plugins}
  };
}

export type Client = ReturnType<typeof createClient>;
`;
}

type Compile = typeof import('json-schema-to-typescript').compile;

/**
 * One schema as a named type. Titles and definitions inside it get the function's prefix, so that two functions
 * with an `Item` each do not declare the same name twice.
 */
async function typeOf(compile: Compile, schema: unknown, name: string, prefix: string): Promise<string> {
  const root =
    typeof schema === 'boolean' || schema === undefined
      ? { title: name }
      : { ...(schema as Record<string, unknown>), title: name };
  return compile(root as Parameters<Compile>[0], name, {
    bannerComment: '',
    additionalProperties: true,
    declareExternallyReferenced: true,
    unknownAny: true,
    format: true,
    strictIndexSignatures: false,
    customName: (s, key) => {
      // A dereferenced `$ref` arrives with its name as `$id` (`#/definitions/item` → `Item`); a URI `$id` is no name.
      const id = typeof s.$id === 'string' && !s.$id.includes(':') ? s.$id : undefined;
      const title = typeof s.title === 'string' ? s.title : (key ?? id);
      if (title === undefined || title === name) return undefined;
      return `${prefix}${pascalCase(title)}`;
    },
  });
}

const header = `// Generated by \`plugbay client\` from the plugins' manifests: do not edit, generate again.
/* eslint-disable */`;

const runtime = `
/** Options of one call; the gateway reads them as headers. */
export interface CallOptions {
  /** Routing key (user, tenant): sticky canary and experiment assignment (x-plugbay-key). */
  key?: string;
  /** Exact version or semver range to pin the call to (x-plugbay-version). */
  version?: string;
  /** Deadline in ms (x-plugbay-timeout-ms). */
  timeoutMs?: number;
  /** W3C trace context. */
  traceparent?: string;
  signal?: AbortSignal;
}

export interface ClientOptions {
  /** Headers sent with every call. */
  headers?: Record<string, string>;
  /** The fetch to use. Default: globalThis.fetch. */
  fetch?: typeof fetch;
}

/** A refused or failed call: the gateway's error body, with the HTTP status. */
export class PlugbayCallError extends Error {
  readonly code: string;
  readonly status: number;
  readonly plugin: string | undefined;
  readonly version: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  constructor(status: number, body: { code?: string; message?: string; plugin?: string; version?: string; details?: Record<string, unknown> }) {
    super(body.message ?? \`HTTP \${status}\`);
    this.name = 'PlugbayCallError';
    this.code = body.code ?? 'PLUGBAY_INTERNAL';
    this.status = status;
    this.plugin = body.plugin;
    this.version = body.version;
    this.details = body.details;
  }
}

function caller(baseUrl: string, clientOptions: ClientOptions) {
  const base = baseUrl.replace(/\\/+$/, '');
  const doFetch = clientOptions.fetch ?? globalThis.fetch;
  return async (path: string, codec: 'json' | 'bytes', input: unknown, options: CallOptions = {}): Promise<unknown> => {
    const headers: Record<string, string> = {
      ...clientOptions.headers,
      'content-type': codec === 'bytes' ? 'application/octet-stream' : 'application/json',
    };
    if (options.key !== undefined) headers['x-plugbay-key'] = options.key;
    if (options.version !== undefined) headers['x-plugbay-version'] = options.version;
    if (options.timeoutMs !== undefined) headers['x-plugbay-timeout-ms'] = String(options.timeoutMs);
    if (options.traceparent !== undefined) headers.traceparent = options.traceparent;
    const res = await doFetch(base + path, {
      method: 'POST',
      headers,
      // a copy: fetch's types take only ArrayBuffer-backed views
      body: codec === 'bytes' ? new Uint8Array(input as Uint8Array) : JSON.stringify(input ?? {}),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    if (!res.ok) {
      let body: { error?: ConstructorParameters<typeof PlugbayCallError>[1] } = {};
      try {
        body = (await res.json()) as typeof body;
      } catch {
        // not JSON: a proxy's page; the status says enough
      }
      throw new PlugbayCallError(res.status, body.error ?? {});
    }
    if (codec === 'bytes') return new Uint8Array(await res.arrayBuffer());
    return res.json();
  };
}
`;
