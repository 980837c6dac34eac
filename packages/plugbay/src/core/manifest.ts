import type { ErrorObject } from 'ajv';
import semver from 'semver';
import { type Manifest, manifestSchema, type RawFunctionSpec, type RawManifest } from './manifest-schema.js';
import { createAjv, pointerToField, schemaProblem, violationsOf } from './schema.js';
import { didYouMean } from './suggest.js';

export type { FunctionSpec, Manifest, RawManifest } from './manifest-schema.js';
export { manifestSchema } from './manifest-schema.js';

/** One broken manifest rule: the field (dotted path), the rule, and what is wrong. */
export interface ManifestProblem {
  field: string;
  rule: string;
  message: string;
}

const ajv = createAjv({ allErrors: true });
const validateShape = ajv.compile<RawManifest>(manifestSchema);

/**
 * Checks a parsed plugin.json against the manifest schema and the rules a schema cannot say (semver versions and
 * ranges, embedded JSON Schemas, entry path form). Returns every problem, not just the first. A go-plugin manifest
 * may leave out `functions` and either schema of a function: they come from its .proto when the plugin is checked
 * (tiers/process/proto-manifest.ts); until then a missing schema is simply absent.
 */
export function validateManifest(
  raw: unknown,
): { manifest: Manifest; problems: [] } | { problems: ManifestProblem[] } {
  if (!validateShape(raw)) {
    const errors = validateShape.errors ?? [];
    // violationsOf maps Ajv's errors one to one: the i-th violation is the i-th error.
    const problems = violationsOf(errors).map((v, i) => ({
      field: pointerToField(v.pointer) || '(root)',
      rule: v.rule,
      message: v.message + typoHint(errors[i]!, raw),
    }));
    return { problems: dedupe(problems) };
  }
  const m = raw;
  const problems: ManifestProblem[] = [];
  if (semver.valid(m.version) === null) {
    problems.push({
      field: 'version',
      rule: 'semver',
      message: `must be a semver version, got "${m.version}"`,
    });
  }
  for (const [key, range] of Object.entries(m.engines ?? {})) {
    if (range !== undefined && semver.validRange(range) === null) {
      problems.push({
        field: `engines.${key}`,
        rule: 'semver-range',
        message: `must be a semver range, got "${range}"`,
      });
    }
  }
  for (const [contract, range] of Object.entries(m.implements ?? {})) {
    if (semver.validRange(range) === null) {
      problems.push({
        field: `implements.${contract}`,
        rule: 'semver-range',
        message: `must be a semver range, got "${range}"`,
      });
    }
  }
  const derived = m.protocol === 'go-plugin';
  if (m.functions === undefined && !derived) {
    problems.push({ field: 'functions', rule: 'required', message: 'is required' });
  }
  for (const [fn, spec] of Object.entries(m.functions ?? {})) {
    problems.push(...codecProblems(m, fn, spec));
    for (const side of ['input', 'output'] as const) {
      if (spec[side] === undefined) {
        if (!derived) {
          const message = 'is required (only go-plugin functions derive their schemas from the .proto)';
          problems.push({ field: `functions.${fn}.${side}`, rule: 'required', message });
        }
        continue;
      }
      const problem = schemaProblem(ajv, spec[side]);
      if (problem !== undefined)
        problems.push({ field: `functions.${fn}.${side}`, rule: 'json-schema', message: problem });
    }
  }
  if (m.config !== undefined) {
    const problem = schemaProblem(ajv, m.config);
    if (problem !== undefined) problems.push({ field: 'config', rule: 'json-schema', message: problem });
  }
  const entryProblem = entryFormProblem(m.entry);
  if (entryProblem !== undefined)
    problems.push({ field: 'entry', rule: 'inside-plugin-dir', message: entryProblem });
  for (const [i, glob] of (m.files ?? []).entries()) {
    const problem = fileGlobProblem(glob);
    if (problem !== undefined)
      problems.push({ field: `files[${i}]`, rule: 'relative-glob', message: problem });
  }
  if (m.protocol === 'go-plugin') {
    for (const field of ['proto', 'service', 'handshake'] as const) {
      if (m[field] === undefined)
        problems.push({ field, rule: 'required', message: 'is required when protocol is "go-plugin"' });
    }
  }
  if (m.runtime !== 'exec') {
    for (const field of ['protocol', 'handshake', 'proto', 'service', 'emitDefaults'] as const) {
      if (m[field] !== undefined)
        problems.push({ field, rule: 'runtime', message: 'is only allowed when runtime is "exec"' });
    }
  }
  if (m.runtime !== 'wasm' && m.wasm !== undefined) {
    problems.push({ field: 'wasm', rule: 'runtime', message: 'is only allowed when runtime is "wasm"' });
  }
  if (m.runtime === 'exec' && m.protocol !== 'go-plugin' && m.emitDefaults !== undefined) {
    problems.push({
      field: 'emitDefaults',
      rule: 'protocol',
      message: 'is only allowed when protocol is "go-plugin"',
    });
  }
  if (problems.length > 0) return { problems };
  return { manifest: { ...m, functions: (m.functions ?? {}) as Manifest['functions'] }, problems: [] };
}

/**
 * Raw bytes travel where the ABI is bytes already: an Extism-style wasm export, or an exec plugin speaking
 * plugbay.v1 (CallRequest.input and CallResponse.output are `bytes`). A JS handler takes values, and a go-plugin
 * method takes a protobuf message.
 */
function codecProblems(m: RawManifest, fn: string, spec: RawFunctionSpec): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  if (spec.codec === 'bytes') {
    if (m.runtime === 'node')
      problems.push({
        field: `functions.${fn}.codec`,
        rule: 'runtime',
        message: 'codec "bytes" is for wasm and exec plugins (a node plugin takes and returns JSON values)',
      });
    else if (m.protocol === 'go-plugin')
      problems.push({
        field: `functions.${fn}.codec`,
        rule: 'protocol',
        message: 'codec "bytes" does not apply to protocol "go-plugin" (its methods take protobuf messages)',
      });
  } else if (spec.contentType !== undefined) {
    problems.push({
      field: `functions.${fn}.contentType`,
      rule: 'codec',
      message: 'is only allowed when codec is "bytes" (JSON answers are application/json)',
    });
  }
  return problems;
}

/**
 * " (did you mean "runtime"?)" for a property the schema does not know but nearly does, or a value nearly one of
 * an enum's; '' otherwise.
 */
function typoHint(error: ErrorObject, raw: unknown): string {
  if (error.keyword === 'additionalProperties') {
    const property = (error.params as { additionalProperty: string }).additionalProperty;
    const parent = schemaAt(error.schemaPath.replace(/\/additionalProperties$/, ''));
    return didYouMean(property, Object.keys(parent?.properties ?? {}));
  }
  if (error.keyword === 'enum') {
    const value = valueAt(raw, error.instancePath);
    const allowed = (error.params as { allowedValues: unknown[] }).allowedValues.map(String);
    return typeof value === 'string' ? didYouMean(value, allowed) : '';
  }
  return '';
}

/** The manifest schema's node at a `#/…` schema path (Ajv's `schemaPath`). */
function schemaAt(path: string): { properties?: Record<string, unknown> } | undefined {
  let node: unknown = manifestSchema;
  for (const segment of path
    .replace(/^#\/?/, '')
    .split('/')
    .filter((s) => s !== '')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[segment.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  return node !== null && typeof node === 'object' ? node : undefined;
}

function valueAt(raw: unknown, pointer: string): unknown {
  let node = raw;
  for (const segment of pointer.split('/').slice(1)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[segment.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  return node;
}

/** The entry must be a relative path that stays inside the plugin directory (symlinks are checked on disk later). */
function entryFormProblem(entry: string): string | undefined {
  if (entry.startsWith('/') || /^[A-Za-z]:[\\/]/.test(entry) || entry.startsWith('\\')) {
    return `must be a relative path inside the plugin directory, got absolute path "${entry}"`;
  }
  if (entry.split(/[\\/]/).includes('..')) return `must not contain "..", got "${entry}"`;
  if (entry.includes('\0')) return 'must not contain NUL bytes';
  return undefined;
}

/** A `files` glob names paths inside the plugin directory: relative, '/'-separated, no '..', no negation. */
function fileGlobProblem(glob: string): string | undefined {
  if (glob.startsWith('/') || /^[A-Za-z]:[\\/]/.test(glob)) return `must be relative, got "${glob}"`;
  if (glob.includes('\\')) return `must use "/" as separator, got "${glob}"`;
  if (glob.startsWith('!')) return `must not be a negation, got "${glob}"`;
  if (glob.split('/').includes('..')) return `must not contain "..", got "${glob}"`;
  if (glob.includes('\0')) return 'must not contain NUL bytes';
  return undefined;
}

function dedupe(problems: ManifestProblem[]): ManifestProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.field}\0${p.rule}\0${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
