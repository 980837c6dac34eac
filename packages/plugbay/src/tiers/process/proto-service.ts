/**
 * A go-plugin plugin's own service, read from its .proto with protobufjs (reflection, no generated code): its unary
 * rpcs are the plugin's functions, each with a strict JSON ↔ protobuf codec (proto-json.ts) and JSON Schemas
 * derived from the messages (proto-schema.ts). Files are read through a callback so that discovery reads them from
 * the bytes it verified and the tier from the host's store.
 */
import path from 'node:path';
import protobuf from 'protobufjs';
import { type ErrorSource, PlugbayError } from '../../core/errors.js';
import { messageFromJson, messageToJson, ProtoJsonError } from './proto-json.js';

/** One unary rpc: its gRPC path and its messages. */
export interface ProtoMethod {
  name: string;
  path: string;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
}

export interface ProtoService {
  /** Fully qualified, without the leading dot (`stock.Stock`). */
  name: string;
  methods: Map<string, ProtoMethod>;
}

/** Reads a file of the plugin by its path relative to the plugin folder ('/'-separated); undefined when absent. */
export type ReadPluginFile = (relative: string) => string | undefined;

/** A problem with the proto or service of a manifest: the field and rule it breaks. */
export class ProtoLoadError extends Error {
  constructor(
    readonly field: 'proto' | 'service',
    readonly rule: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/**
 * Parses `protoFile` (relative to the plugin folder) and its imports. Imports resolve against the folder of
 * `protoFile` (as `protoc -I <that folder>`), google/protobuf/* against the definitions protobufjs bundles.
 */
export function parseProto(protoFile: string, read: ReadPluginFile): protobuf.Root {
  const root = new protobuf.Root();
  const includeDir = path.posix.dirname(path.posix.normalize(protoFile));
  const seen = new Set<string>();
  const load = (name: string, file: string, importedBy: string | undefined) => {
    if (seen.has(file)) return;
    seen.add(file);
    const bundled = file.startsWith('google/protobuf/') ? protobuf.common.get(file) : null;
    if (bundled) {
      root.addJSON(bundled.nested ?? {});
      return;
    }
    if (file.startsWith('../') || file === '..' || path.posix.isAbsolute(file)) {
      const by = importedBy === undefined ? '' : ` (imported by ${importedBy})`;
      throw new ProtoLoadError('proto', 'inside-plugin-dir', `${name}${by} is outside the plugin folder`);
    }
    const source = read(file);
    if (source === undefined) {
      const by = importedBy === undefined ? '' : ` (imported by ${importedBy})`;
      throw new ProtoLoadError('proto', 'exists', `file ${file}${by} does not exist in the plugin folder`);
    }
    let parsed: protobuf.IParserResult;
    try {
      parsed = protobuf.parse(source, root, { keepCase: true, alternateCommentMode: true });
    } catch (err) {
      throw new ProtoLoadError('proto', 'syntax', `${name}: ${(err as Error).message}`);
    }
    for (const imp of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) {
      const target = imp.startsWith('google/protobuf/') ? imp : path.posix.join(includeDir, imp);
      load(imp, target, name);
    }
  };
  load(protoFile, path.posix.normalize(protoFile), undefined);
  try {
    root.resolveAll();
  } catch (err) {
    throw new ProtoLoadError('proto', 'resolvable', `${protoFile}: ${(err as Error).message}`);
  }
  return root;
}

/** The service named in the manifest; an unqualified name that matches one service says which was meant. */
export function serviceOf(root: protobuf.Root, name: string, protoFile: string): ProtoService {
  const all = servicesIn(root);
  const found = all.find((s) => s.fullName === `.${name}`);
  if (found === undefined) {
    const names = all.map((s) => s.fullName.slice(1));
    const near = names.filter((n) => n.endsWith(`.${name}`) || n.toLowerCase() === name.toLowerCase());
    const hint =
      near.length > 0 ? `; did you mean ${near.join(' or ')}? (service must be fully qualified)` : '';
    throw new ProtoLoadError(
      'service',
      'defined',
      `service ${name} is not defined in ${path.posix.basename(protoFile)}${hint}`,
      { services: names, ...(near.length > 0 ? { didYouMean: near } : {}) },
    );
  }
  const methods = new Map<string, ProtoMethod>();
  for (const m of found.methodsArray) {
    if (m.requestStream || m.responseStream) continue; // streaming rpcs are not functions
    m.resolve();
    methods.set(m.name, {
      name: m.name,
      path: `/${name}/${m.name}`,
      requestType: m.resolvedRequestType as protobuf.Type,
      responseType: m.resolvedResponseType as protobuf.Type,
    });
  }
  return { name, methods };
}

function servicesIn(ns: protobuf.NamespaceBase): protobuf.Service[] {
  const out: protobuf.Service[] = [];
  for (const child of ns.nestedArray) {
    if (child instanceof protobuf.Service) out.push(child);
    if (child instanceof protobuf.Namespace) out.push(...servicesIn(child));
  }
  return out;
}

/** Reads and resolves a go-plugin manifest's `proto` and `service` in one step. */
export function readService(protoFile: string, service: string, read: ReadPluginFile): ProtoService {
  return serviceOf(parseProto(protoFile, read), service, protoFile);
}

/** What the transport needs of one rpc: its path and how JSON becomes request bytes and response bytes JSON. */
export interface Method {
  path: string;
  serialize: (json: unknown) => Buffer;
  deserialize: (bytes: Buffer) => unknown;
}

export interface CodecOptions {
  /** Output includes fields at their default value (manifest `emitDefaults`). */
  emitDefaults: boolean;
  source: ErrorSource;
}

/**
 * The codec of one rpc. serialize throws PLUGBAY_INVALID_INPUT and deserialize PLUGBAY_INVALID_OUTPUT, both naming
 * the field (`details.field`, and `details.violations` as the host's schema check gives them).
 */
export function codecOf(method: ProtoMethod, options: CodecOptions): Method {
  const { requestType, responseType } = method;
  const toJson = { emitDefaults: options.emitDefaults };
  return {
    path: method.path,
    serialize(json) {
      try {
        const bytes = requestType.encode(messageFromJson(requestType, json ?? {})).finish();
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength); // a view, not a copy
      } catch (err) {
        throw mappingError('PLUGBAY_INVALID_INPUT', method, err, options.source);
      }
    },
    deserialize(bytes) {
      try {
        const decoded = responseType.decode(bytes) as unknown as Record<string, unknown>;
        return messageToJson(responseType, decoded, toJson);
      } catch (err) {
        throw mappingError('PLUGBAY_INVALID_OUTPUT', method, err, options.source);
      }
    },
  };
}

function mappingError(
  code: 'PLUGBAY_INVALID_INPUT' | 'PLUGBAY_INVALID_OUTPUT',
  method: ProtoMethod,
  err: unknown,
  source: ErrorSource,
): PlugbayError {
  const side = code === 'PLUGBAY_INVALID_INPUT' ? 'input' : 'output';
  const type = side === 'input' ? method.requestType : method.responseType;
  if (err instanceof ProtoJsonError) {
    return new PlugbayError(code, `${side} of ${method.name} does not fit ${type.name}: ${err.message}`, {
      ...source,
      details: {
        function: method.name,
        field: err.path,
        violations: [{ pointer: err.pointer, rule: err.rule, message: err.reason }],
      },
    });
  }
  // protobufjs' own failures: a response that is not a valid encoding of the message.
  return new PlugbayError(
    code,
    `${side} of ${method.name} is not a valid ${type.name}: ${(err as Error).message}`,
    {
      ...source,
      cause: err,
      details: { function: method.name, rule: 'wire' },
    },
  );
}
