// The compiled validators of a manifest's schemas (its config and each JSON function's input and output), shared
// by every load whose manifest has the same schemas. A fresh Ajv and its compiles cost ~2.5 ms of a load's
// ~60 ms (two small schemas; measured in the thread-start bench's process), and a new version of a plugin mostly
// changes code, not its contract.
import type { Ajv, ValidateFunction } from 'ajv';
import { type ErrorSource, PlugbayError } from '../core/errors.js';
import type { Manifest } from '../core/manifest-schema.js';
import { compileSchema, createAjv } from '../core/schema.js';

export interface ManifestValidators {
  /** undefined: the manifest declares no config schema. */
  readonly config: ValidateFunction | undefined;
  /** By function name; bytes functions have none (the host checks only that they are bytes). */
  readonly functions: ReadonlyMap<string, { input: ValidateFunction; output: ValidateFunction }>;
}

/**
 * Keyed by the JSON of all the schemas together, never one by one: a `$ref` may name the `$id` of another schema
 * of the same manifest, which only the whole set pins down. Least recently used first; bounded, since each entry
 * keeps its Ajv and generated code alive after its versions are gone.
 */
const cache = new Map<string, ManifestValidators>();
const cacheSize = 64;

/**
 * The validators of `manifest`, compiled in one fresh Ajv of their own (an Ajv keeps the code of everything it
 * compiled: core/schema.ts) unless an earlier load compiled the same schemas. A schema Ajv cannot compile throws
 * PLUGBAY_MANIFEST_INVALID, naming its field.
 */
export function manifestValidators(manifest: Manifest, source: ErrorSource): ManifestValidators {
  const functions = Object.entries(manifest.functions)
    .filter(([, spec]) => spec.codec !== 'bytes')
    .map(([name, spec]) => [name, spec.input, spec.output] as const);
  const key = JSON.stringify([manifest.config ?? null, functions]);
  const cached = cache.get(key);
  if (cached !== undefined) {
    cache.delete(key);
    cache.set(key, cached);
    return cached;
  }
  // The manifest check validated these schemas against the meta-schema already.
  const ajv = createAjv({ validateSchema: false });
  const compiled: ManifestValidators = {
    config: manifest.config === undefined ? undefined : compile(ajv, manifest.config, 'config', source),
    functions: new Map(
      functions.map(([name, input, output]) => [
        name,
        {
          input: compile(ajv, input, `functions.${name}`, source),
          output: compile(ajv, output, `functions.${name}`, source),
        },
      ]),
    ),
  };
  cache.set(key, compiled);
  if (cache.size > cacheSize) cache.delete(cache.keys().next().value as string);
  return compiled;
}

function compile(ajv: Ajv, schema: unknown, field: string, source: ErrorSource): ValidateFunction {
  const compiled = compileSchema(ajv, schema);
  if ('error' in compiled)
    throw new PlugbayError('PLUGBAY_MANIFEST_INVALID', `${field}: ${compiled.error}`, source);
  return compiled.validate;
}
