import { type Static, Type } from '@sinclair/typebox';

// The manifest schema, written once here; schema/plugin.schema.json is generated from it (`npm run schema`)
// and a test keeps the two equal.

const Enum = <T extends string>(values: readonly T[], description: string, examples: NoInfer<T>[]) =>
  Type.Unsafe<T>({ type: 'string', enum: values, description, examples });
const Range = (description: string, examples: string[]) =>
  Type.String({ minLength: 1, description, examples });
// Embedded JSON Schemas are checked by compiling them (core/manifest.ts), which says more than a type rule could.
const JsonSchema = (description: string, examples: unknown[]) =>
  Type.Unsafe<Record<string, unknown> | boolean>({ description, examples });

/** Where a wasm plugin's calls run (tiers/wasm/tier.ts). */
export const wasmRunModes = ['metered', 'worker', 'host-thread'] as const;

/** How a function's input and output travel: JSON values (the default) or raw bytes. */
export const codecs = ['json', 'bytes'] as const;

const FunctionSpec = Type.Object(
  {
    description: Type.Optional(
      Type.String({
        description: 'What the function does (shown by the dashboard and OpenAPI)',
        examples: ['Says hello.'],
      }),
    ),
    // Required unless protocol is "go-plugin" (core/manifest.ts says so): there they are derived from the .proto.
    input: Type.Optional(
      JsonSchema(
        'JSON Schema of the input (required; go-plugin: derived from the request message, and one written here must be a narrowing of it; with `codec: "bytes"`: documentation only, `{}` will do)',
        [{ type: 'object', properties: { name: { type: 'string' } }, required: ['name'] }],
      ),
    ),
    output: Type.Optional(
      JsonSchema(
        'JSON Schema of the output (required; go-plugin: derived from the response message, and one written here must be a narrowing of it; with `codec: "bytes"`: documentation only)',
        [{ type: 'string' }],
      ),
    ),
    timeoutMs: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Per-call deadline for this function', examples: [2000] }),
    ),
    idempotent: Type.Optional(
      Type.Boolean({ description: 'Safe to retry on a fallback version', examples: [true] }),
    ),
    codec: Type.Optional(
      Type.Unsafe<(typeof codecs)[number]>({
        type: 'string',
        enum: codecs,
        description:
          '`json` (default): input and output are JSON values checked by the schemas. `bytes`: the input is the raw ' +
          'request body and the output raw bytes (a Uint8Array in the library); wasm and exec plugins only',
        examples: ['bytes'],
      }),
    ),
    contentType: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "Content type of a `bytes` function's output at the gateway. Default application/octet-stream",
        examples: ['text/plain; charset=utf-8'],
      }),
    ),
    examples: Type.Optional(
      Type.Array(
        Type.Object(
          {
            input: Type.Unknown({ description: 'A sample input', examples: [{ name: 'Ada' }] }),
            output: Type.Optional(
              Type.Unknown({
                description: 'Its expected output (`plugbay test` compares when given)',
                examples: ['Hello, Ada!'],
              }),
            ),
          },
          { additionalProperties: false },
        ),
        {
          description: 'Sample calls: the dashboard and `plugbay test` use them',
          examples: [[{ input: { name: 'Ada' }, output: 'Hello, Ada!' }]],
        },
      ),
    ),
  },
  {
    additionalProperties: false,
    description: 'One function: its schemas, deadline, retry safety and how its bytes travel',
    examples: [{ input: { type: 'string' }, output: { type: 'string' }, timeoutMs: 1000 }],
  },
);

const Mount = Type.Object(
  {
    host: Type.String({
      minLength: 1,
      description: 'Host directory, relative to the plugin folder unless absolute',
      examples: ['data', '/var/lib/plugbay/shared'],
    }),
    guest: Type.String({
      minLength: 1,
      description: 'Absolute path where the plugin sees it (WASI)',
      examples: ['/data'],
    }),
    readOnly: Type.Optional(
      Type.Boolean({ description: 'Refuse writes, creation and deletion. Default false', examples: [true] }),
    ),
  },
  { additionalProperties: false, examples: [{ host: 'data', guest: '/data', readOnly: true }] },
);

const Permissions = Type.Object(
  {
    fs: Type.Optional(
      Type.Object(
        {
          read: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              description: 'Host paths to read (process tier), relative to the plugin folder unless absolute',
              examples: [['data', '/etc/ssl/certs']],
            }),
          ),
          write: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              description:
                'Host paths to write (process tier), relative to the plugin folder unless absolute',
              examples: [['/tmp/cache']],
            }),
          ),
          mounts: Type.Optional(
            Type.Array(Mount, {
              description: 'Host directories the wasm plugin sees at a guest path (wasm tier)',
              examples: [[{ host: 'data', guest: '/data', readOnly: true }]],
            }),
          ),
        },
        { additionalProperties: false, description: 'File system access', examples: [{ read: ['data'] }] },
      ),
    ),
    net: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'Hosts (host or host:port) the plugin may reach',
        examples: [['api.example.com', 'localhost:8080']],
      }),
    ),
    env: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), {
        description: 'Environment variables passed in',
        examples: [['TZ', 'LANG']],
      }),
    ),
    childProcess: Type.Optional(
      Type.Boolean({ description: 'Spawn child processes (process tier)', examples: [true] }),
    ),
    memoryMb: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 65536,
        description:
          'Memory cap: a limit, applied as written (wasm: the module memory maximum, default 256; process: the V8 heap or address space)',
        examples: [64],
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'What the plugin asks for; the operator grants it (docs/grants.md). Community and unsigned plugins get ' +
      'nothing outside their own folder, no env, network or child processes unless granted; a request that is ' +
      'not granted refuses the load (PLUGBAY_PERMISSION_DENIED)',
    examples: [{ env: ['TZ'], memoryMb: 64 }],
  },
);

export const manifestSchema = Type.Object(
  {
    $schema: Type.Optional(
      Type.String({
        description: 'For editors: the URL or path of this schema',
        examples: ['./node_modules/plugbay/schema/plugin.schema.json'],
      }),
    ),
    name: Type.String({
      pattern: '^(@[a-z0-9][a-z0-9-]*/)?[a-z0-9][a-z0-9-]*$',
      maxLength: 214,
      description: 'Lowercase letters, digits and dashes, optionally @scope/',
      examples: ['greeter', '@acme/billing'],
    }),
    version: Type.String({ minLength: 1, description: 'A semver version', examples: ['1.2.0'] }),
    description: Type.Optional(
      Type.String({ description: 'One line about the plugin', examples: ['Greets people by name.'] }),
    ),
    runtime: Enum(
      ['node', 'wasm', 'exec'] as const,
      'What the entry is: a JS module, a WebAssembly module, a native executable',
      ['node'],
    ),
    entry: Type.String({
      minLength: 1,
      description: 'Path of the code inside the plugin directory',
      examples: ['dist/plugin.js', 'plugin.wasm', 'bin/hash'],
    }),
    files: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), {
        maxItems: 1000,
        description:
          'Globs (relative, "/"-separated) of the files that make up the plugin besides plugin.json, the entry and proto: what pack packs and sign signs. Default: everything but node_modules/, dot-files and folders, src/ and editor litter',
        examples: [['dist/plugin.js', 'data/**']],
      }),
    ),
    engines: Type.Optional(
      Type.Object(
        {
          plugbay: Type.Optional(Range('semver range of plugbay', ['^0.1'])),
          node: Type.Optional(Range('semver range of Node.js', ['>=20'])),
        },
        {
          additionalProperties: false,
          description: 'Versions the plugin needs (checked at load)',
          examples: [{ plugbay: '^0.1', node: '>=20' }],
        },
      ),
    ),
    platform: Type.Optional(
      Type.Object(
        {
          os: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              description: 'process.platform values; !x excludes',
              examples: [['linux', 'darwin']],
            }),
          ),
          cpu: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              description: 'process.arch values; !x excludes',
              examples: [['x64', 'arm64']],
            }),
          ),
          abi: Type.Optional(
            Type.String({
              pattern: '^[0-9]+$',
              description: 'process.versions.modules of a native addon',
              examples: ['115'],
            }),
          ),
        },
        {
          additionalProperties: false,
          description: 'Where the plugin runs (checked at load)',
          examples: [{ os: ['linux'], cpu: ['x64'] }],
        },
      ),
    ),
    implements: Type.Optional(
      Type.Record(Type.String({ minLength: 1 }), Range('semver range of the contract', ['^1.0.0']), {
        description:
          'Contracts the plugin implements, by name, checked at load (docs/trust-and-contracts.md)',
        examples: [{ greeter: '^1.0.0' }],
      }),
    ),
    functions: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), FunctionSpec, {
        additionalProperties: false,
        description:
          'The functions callers may call, by name. Required, except with protocol "go-plugin": there they are the unary rpcs of service, derived from proto',
        examples: [
          {
            greet: {
              input: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
              output: { type: 'string' },
            },
          },
        ],
      }),
    ),
    permissions: Type.Optional(Permissions),
    config: Type.Optional(
      JsonSchema('JSON Schema of the config passed to start()', [
        { type: 'object', properties: { greeting: { type: 'string' } } },
      ]),
    ),
    protocol: Type.Optional(
      Enum(
        ['plugbay', 'go-plugin'] as const,
        'exec only: plugbay.v1.Plugin over gRPC (`plugbay`, default), or any go-plugin gRPC service (`go-plugin`)',
        ['go-plugin'],
      ),
    ),
    handshake: Type.Optional(
      Type.Object(
        {
          magicCookieKey: Type.String({
            minLength: 1,
            description: 'Env var name of the magic cookie',
            examples: ['BASIC_PLUGIN'],
          }),
          magicCookieValue: Type.String({
            minLength: 1,
            description: 'Its value',
            examples: ['hello'],
          }),
          protocolVersion: Type.Integer({ minimum: 1, description: 'App protocol version', examples: [1] }),
        },
        {
          additionalProperties: false,
          description: "exec only: go-plugin's HandshakeConfig",
          examples: [{ magicCookieKey: 'BASIC_PLUGIN', magicCookieValue: 'hello', protocolVersion: 1 }],
        },
      ),
    ),
    proto: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'go-plugin: the .proto file of service, relative to the plugin folder; its imports resolve against its folder, google/protobuf/* are built in',
        examples: ['proto/kv.proto'],
      }),
    ),
    service: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z_][A-Za-z0-9_.]*$',
        description: 'go-plugin: the fully qualified service name, package included (e.g. "stock.Stock")',
        examples: ['stock.Stock'],
      }),
    ),
    wasm: Type.Optional(
      Type.Object(
        {
          run: Type.Optional(
            Enum(
              wasmRunModes,
              'Where calls run. `metered` (default): in the host thread, the module rewritten to check the ' +
                "call's deadline as it runs (PLUGBAY_TIMEOUT); a call blocks the host's event loop while it runs, " +
                'so a function whose calls may take longer than 10 ms belongs in `worker`: a worker thread, ' +
                'ended when a call overruns. `host-thread`: no CPU cap, only when the operator runs the wasm tier ' +
                'with `run: "host-thread"`',
              ['worker'],
            ),
          ),
        },
        {
          additionalProperties: false,
          description: 'wasm only: how the module runs',
          examples: [{ run: 'worker' }],
        },
      ),
    ),
    emitDefaults: Type.Optional(
      Type.Boolean({
        description:
          'go-plugin: outputs include fields at their default value (protojson EmitUnpopulated); default false: they are omitted',
        examples: [true],
      }),
    ),
  },
  {
    additionalProperties: false,
    patternProperties: { '^x-': {} },
    description: "Keys starting with `x-` are free for tools (e.g. `x-sha256`: the wasm module's hex sha256)",
  },
);

/** A plugin.json as written: go-plugin manifests may leave out functions and their schemas (derived later). */
export type RawManifest = Static<typeof manifestSchema>;
export type RawFunctionSpec = Static<typeof FunctionSpec>;
/** A function as the host sees it: both schemas present (written, built or derived from a .proto). */
export type FunctionSpec = Omit<RawFunctionSpec, 'input' | 'output'> & {
  input: Record<string, unknown> | boolean;
  output: Record<string, unknown> | boolean;
};
/** A checked manifest: `functions` always present (for go-plugin, completed from the .proto at discovery). */
export type Manifest = Omit<RawManifest, 'functions'> & { functions: Record<string, FunctionSpec> };
export type Permissions = Static<typeof Permissions>;
/** The `permissions` schema alone (the gateway's answers show requested and granted permissions with it). */
export const permissionsSchema = Permissions;
