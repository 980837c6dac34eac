import { readFile, writeFile } from 'node:fs/promises';
import semver from 'semver';
import { PlugbayError } from '../core/errors.js';
import type { Manifest } from '../core/manifest.js';

/** A JSON Schema as it appears in a manifest: an object or a boolean. */
export type JsonSchema = Record<string, unknown> | boolean;

/** The functions of a plugin (or a named contract) with their schemas: what `contract diff` compares. */
export interface ContractSnapshot {
  name: string;
  version: string;
  functions: Record<string, { input: JsonSchema; output: JsonSchema }>;
}

/** The snapshot of a manifest: name, version, and each function's input and output schema. */
export function snapshotOf(manifest: Pick<Manifest, 'name' | 'version' | 'functions'>): ContractSnapshot {
  const functions: ContractSnapshot['functions'] = {};
  for (const name of Object.keys(manifest.functions).sort()) {
    const spec = manifest.functions[name]!;
    defineEntry(functions, name, { input: spec.input, output: spec.output });
  }
  return { name: manifest.name, version: manifest.version, functions };
}

/** Stable text of a snapshot (keys sorted at every level, 2-space indent) so that snapshots diff well in git. */
export function snapshotToJson(snapshot: ContractSnapshot): string {
  return `${JSON.stringify(sortKeys(snapshot), null, 2)}\n`;
}

/** Checks the shape of a parsed snapshot; PLUGBAY_INVALID_ARGUMENT names the field. */
export function parseSnapshot(raw: unknown, source = 'snapshot'): ContractSnapshot {
  const fail = (field: string, rule: string): never => {
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `${source}: ${field} ${rule}`, {
      details: { field, source },
    });
  };
  if (!isObject(raw)) return fail('(root)', 'must be an object');
  if (typeof raw.name !== 'string' || raw.name === '') fail('name', 'must be a non-empty string');
  if (typeof raw.version !== 'string' || semver.valid(raw.version) === null)
    fail('version', 'must be a semver version');
  if (!isObject(raw.functions)) return fail('functions', 'must be an object');
  const functions: ContractSnapshot['functions'] = {};
  for (const [name, spec] of Object.entries(raw.functions)) {
    if (!isObject(spec)) return fail(`functions.${name}`, 'must be an object');
    for (const side of ['input', 'output'] as const) {
      const schema = spec[side];
      if (typeof schema !== 'boolean' && !isObject(schema))
        fail(`functions.${name}.${side}`, 'must be a JSON Schema');
    }
    defineEntry(functions, name, { input: spec.input as JsonSchema, output: spec.output as JsonSchema });
  }
  return { name: raw.name as string, version: raw.version as string, functions };
}

export async function readSnapshotFile(path: string): Promise<ContractSnapshot> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new PlugbayError(
      'PLUGBAY_INVALID_ARGUMENT',
      `cannot read snapshot ${path}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return parseSnapshot(raw, path);
}

export async function writeSnapshotFile(path: string, snapshot: ContractSnapshot): Promise<void> {
  await writeFile(path, snapshotToJson(snapshot));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    defineEntry(out, key, sortKeys(value[key]));
  }
  return out;
}

/** Sets an own property even for a key like `__proto__` (plain assignment would change the prototype). */
function defineEntry(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
