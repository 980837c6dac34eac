import { type Static, Type } from '@sinclair/typebox';

// The manifest schema, written once here; schema/plugin.schema.json is generated from it (`npm run schema`)
// and a test keeps the two equal.

const Enum = <T extends string>(values: readonly T[]) => Type.Unsafe<T>({ type: 'string', enum: values });
const Range = (description: string) => Type.String({ minLength: 1, description });
// Embedded JSON Schemas are checked by compiling them (core/manifest.ts), which says more than a type rule could.
const JsonSchema = (description: string) => Type.Unsafe<Record<string, unknown> | boolean>({ description });

const FunctionSpec = Type.Object(
  {
    description: Type.Optional(Type.String()),
    // Required unless protocol is "go-plugin" (core/manifest.ts says so): there they are derived from the .proto.
    input: Type.Optional(
      JsonSchema(
        'JSON Schema of the input (required; go-plugin: derived from the request message, and one written here must be a narrowing of it)',
      ),
    ),
    output: Type.Optional(
      JsonSchema(
        'JSON Schema of the output (required; go-plugin: derived from the response message, and one written here must be a narrowing of it)',
      ),
    ),
    timeoutMs: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Per-call deadline for this function' }),
    ),
    idempotent: Type.Optional(Type.Boolean({ description: 'Safe to retry on a fallback version' })),
    examples: Type.Optional(
      Type.Array(
        Type.Object(
          { input: Type.Unknown(), output: Type.Optional(Type.Unknown()) },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
);

const Mount = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    guest: Type.String({ minLength: 1 }),
    readOnly: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const Permissions = Type.Object(
  {
    fs: Type.Optional(
      Type.Object(
        {
          read: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              description: 'Host paths to read (process tier), relative to the plugin folder unless absolute',
            }),
          ),
          write: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              description:
                'Host paths to write (process tier), relative to the plugin folder unless absolute',
            }),
          ),
          mounts: Type.Optional(
            Type.Array(Mount, { description: 'Host directories the wasm plugin sees at a guest path' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    net: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'Hosts (host or host:port) the plugin may reach',
      }),
    ),
    env: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), {
        description: 'Environment variables passed in',
      }),
    ),
    childProcess: Type.Optional(Type.Boolean({ description: 'Spawn child processes (process tier)' })),
    memoryMb: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 65536, description: 'Memory cap: a limit, applied as written' }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'What the plugin asks for; the operator grants it (docs/grants.md). Community and unsigned plugins get ' +
      'nothing outside their own folder, no env, network or child processes unless granted; a request that is ' +
      'not granted refuses the load (PLUGBAY_PERMISSION_DENIED)',
  },
);

export const manifestSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    name: Type.String({
      pattern: '^(@[a-z0-9][a-z0-9-]*/)?[a-z0-9][a-z0-9-]*$',
      maxLength: 214,
      description: 'Lowercase letters, digits and dashes, optionally @scope/',
    }),
    version: Type.String({ minLength: 1, description: 'A semver version' }),
    description: Type.Optional(Type.String()),
    runtime: Enum(['node', 'wasm', 'exec'] as const),
    entry: Type.String({ minLength: 1, description: 'Path of the code inside the plugin directory' }),
    files: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), {
        maxItems: 1000,
        description:
          'Globs (relative, "/"-separated) of the files that make up the plugin besides plugin.json, the entry and proto: what pack packs and sign signs. Default: everything but node_modules/, dot-files and folders, src/ and editor litter',
      }),
    ),
    engines: Type.Optional(
      Type.Object(
        {
          plugbay: Type.Optional(Range('semver range of plugbay')),
          node: Type.Optional(Range('semver range of Node.js')),
        },
        { additionalProperties: false },
      ),
    ),
    platform: Type.Optional(
      Type.Object(
        {
          os: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              description: 'process.platform values; !x excludes',
            }),
          ),
          cpu: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), { description: 'process.arch values; !x excludes' }),
          ),
          abi: Type.Optional(
            Type.String({ pattern: '^[0-9]+$', description: 'process.versions.modules of a native addon' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    implements: Type.Optional(
      Type.Record(Type.String({ minLength: 1 }), Range('semver range of the contract')),
    ),
    functions: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), FunctionSpec, {
        additionalProperties: false,
        description:
          'The functions and their schemas. Required, except with protocol "go-plugin": there they are the unary rpcs of service, derived from proto',
      }),
    ),
    permissions: Type.Optional(Permissions),
    config: Type.Optional(JsonSchema('JSON Schema of the config passed to start()')),
    protocol: Type.Optional(Enum(['plugbay', 'go-plugin'] as const)),
    handshake: Type.Optional(
      Type.Object(
        {
          magicCookieKey: Type.String({ minLength: 1 }),
          magicCookieValue: Type.String({ minLength: 1 }),
          protocolVersion: Type.Integer({ minimum: 1 }),
        },
        { additionalProperties: false },
      ),
    ),
    proto: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'go-plugin: the .proto file of service, relative to the plugin folder; its imports resolve against its folder, google/protobuf/* are built in',
      }),
    ),
    service: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z_][A-Za-z0-9_.]*$',
        description: 'go-plugin: the fully qualified service name, package included (e.g. "stock.Stock")',
      }),
    ),
    emitDefaults: Type.Optional(
      Type.Boolean({
        description:
          'go-plugin: outputs include fields at their default value (protojson EmitUnpopulated); default false: they are omitted',
      }),
    ),
  },
  { additionalProperties: false, patternProperties: { '^x-': {} } },
);

/** A plugin.json as written: go-plugin manifests may leave out functions and their schemas (derived later). */
export type RawManifest = Static<typeof manifestSchema>;
type RawFunctionSpec = Static<typeof FunctionSpec>;
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
