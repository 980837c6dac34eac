import type { ErrorObject, ValidateFunction } from 'ajv';
import { Ajv } from 'ajv';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import formatLimitModule from 'ajv-formats/dist/limit.js';

// ajv-formats is CommonJS with a default export; under NodeNext the callable sits on .default.
const formatLimit = formatLimitModule as unknown as { default: (ajv: Ajv) => Ajv };

/**
 * The one Ajv setup of plugbay: function schemas, manifests and configs are all checked through it.
 * `validateSchema: false` is for schemas already checked against the meta-schema (schemaProblem) by another Ajv:
 * a fresh Ajv checking one compiles the meta-schema first, ~10 ms.
 */
export function createAjv(options: { allErrors?: boolean; validateSchema?: boolean } = {}): Ajv {
  const ajv = new Ajv({
    allErrors: options.allErrors ?? false,
    validateSchema: options.validateSchema ?? true,
    strict: false,
    coerceTypes: false,
    useDefaults: false,
    // What ajv-formats' addFormats(ajv) adds, in half the time (a host makes one Ajv per plugin it loads): the
    // formats through the option, which takes the table as it is, and the formatMaximum/Minimum keywords.
    formats: fullFormats,
  });
  formatLimit.default(ajv);
  return ajv;
}

/** One broken rule, with the JSON pointer of the offending value. */
export interface SchemaViolation {
  /** JSON pointer into the validated value, e.g. `/items/0/name` ('' for the root). */
  pointer: string;
  /** The JSON Schema keyword that failed, e.g. `type`, `required`, `minLength`. */
  rule: string;
  message: string;
}

/** Turns Ajv's errors into violations; `required` and `additionalProperties` point at the property itself. */
export function violationsOf(errors: ErrorObject[] | null | undefined): SchemaViolation[] {
  return (errors ?? []).map((e) => {
    const params = e.params as { missingProperty?: string; additionalProperty?: string };
    if (e.keyword === 'required' && params.missingProperty !== undefined) {
      return {
        pointer: `${e.instancePath}/${escapePointer(params.missingProperty)}`,
        rule: 'required',
        message: 'is required',
      };
    }
    if (e.keyword === 'additionalProperties' && params.additionalProperty !== undefined) {
      return {
        pointer: `${e.instancePath}/${escapePointer(params.additionalProperty)}`,
        rule: 'additionalProperties',
        message: 'is not allowed here',
      };
    }
    return { pointer: e.instancePath, rule: e.keyword, message: e.message ?? `breaks ${e.keyword}` };
  });
}

/**
 * Compiles a schema the plugin supplied; returns the reason when it is not a valid JSON Schema (checked against
 * the meta-schema unless `ajv` was made with `validateSchema: false`).
 */
export function compileSchema(ajv: Ajv, schema: unknown): { validate: ValidateFunction } | { error: string } {
  if (typeof schema === 'boolean') return { validate: ajv.compile(schema) };
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    return { error: 'must be a JSON Schema object' };
  }
  if (ajv.opts.validateSchema !== false && !ajv.validateSchema(schema as object)) {
    return { error: `must be a valid JSON Schema: ${ajv.errorsText(ajv.errors, { dataVar: 'schema' })}` };
  }
  try {
    return { validate: ajv.compile(schema as object) };
  } catch (err) {
    return { error: `must be a valid JSON Schema: ${(err as Error).message}` };
  }
}

/**
 * Says why `schema` is not a valid JSON Schema (checked against the meta-schema), or undefined when it is.
 * It does not compile: an Ajv instance keeps the generated code of everything it ever compiled (in its code
 * scope, even after removeSchema), so code compiled for a plugin lives in an Ajv of its own (host/validators.ts
 * keeps the most recent sets of a manifest's schemas compiled, a bounded number).
 */
export function schemaProblem(ajv: Ajv, schema: unknown): string | undefined {
  if (typeof schema === 'boolean') return undefined;
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema))
    return 'must be a JSON Schema object';
  let valid: boolean;
  try {
    valid = ajv.validateSchema(schema as object) as boolean;
  } catch (err) {
    // Ajv throws rather than answers for a `$schema` it has no meta-schema for (2020-12, a non-string …)
    return `must be a valid JSON Schema: ${(err as Error).message}`;
  }
  if (!valid) return `must be a valid JSON Schema: ${ajv.errorsText(ajv.errors, { dataVar: 'schema' })}`;
  return undefined;
}

/** One JSON pointer segment (RFC 6901: `~` as `~0`, `/` as `~1`). */
export function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** `/functions/resize/input` → `functions.resize.input`. */
export function pointerToField(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
    .join('.');
}
