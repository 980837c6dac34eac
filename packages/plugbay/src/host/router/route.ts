import { type Static, Type } from '@sinclair/typebox';
import semver from 'semver';
import { createAjv, pointerToField, violationsOf } from '../../core/schema.js';

const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]*$';
const Version = (description: string) => Type.String({ minLength: 1, description });
const Percent = (description: string) => Type.Integer({ minimum: 0, maximum: 100, description });

const Experiment = Type.Object(
  {
    name: Type.String({
      pattern: NAME_PATTERN,
      maxLength: 64,
      description: 'Unique in the route; salts the hash',
    }),
    variants: Type.Record(Type.String(), Version('Exact version serving the variant'), {
      minProperties: 1,
      propertyNames: { pattern: NAME_PATTERN },
      description: 'Variant name → version, e.g. { "A": "1.0.0", "B": "1.1.0" }',
    }),
    split: Type.Optional(
      Type.Record(Type.String(), Percent('Share of the experiment, in percent'), {
        propertyNames: { pattern: NAME_PATTERN },
        description: 'Variant name → percent, summing to 100. Default: equal shares',
      }),
    ),
    match: Type.Optional(
      Type.Object(
        {
          keyPrefix: Type.Optional(
            Type.String({ minLength: 1, description: 'Only keys starting with this' }),
          ),
        },
        { additionalProperties: false, description: 'Which calls enter the experiment. Default: every call' },
      ),
    ),
  },
  { additionalProperties: false },
);

/** JSON Schema of a route (the body of `PUT /v1/routes/:plugin`). */
export const routeSchema = Type.Object(
  {
    stable: Type.Optional(
      Version('Version answering calls no other arm takes. Default: highest non-prerelease'),
    ),
    canary: Type.Optional(
      Type.Object(
        {
          version: Version('Exact version of the canary'),
          percent: Percent('Share of keys sent to the canary'),
        },
        { additionalProperties: false },
      ),
    ),
    experiments: Type.Optional(Type.Array(Experiment, { description: 'A/B tests, tried in order' })),
    fallback: Type.Optional(
      Type.Array(Version('Exact version'), {
        uniqueItems: true,
        description: 'Versions tried in order when the chosen one is unavailable',
      }),
    ),
  },
  { additionalProperties: false, title: 'plugbay route' },
);

/**
 * Which version of one plugin answers a call. Arms are tried in order: pinned (by the call) → experiment variant
 * → canary → stable; an unavailable choice falls to `stable`, then through `fallback`.
 */
export type Route = Static<typeof routeSchema>;
export type RouteExperiment = Static<typeof Experiment>;

/**
 * One broken route rule. `kind` says what is wrong: `invalid` (the route itself is wrong) or `conflict` (the route
 * is fine but names a version that is not loaded). Callers map kinds to error codes; the router knows no transport.
 */
export interface RouteProblem {
  /** Dotted path of the field, e.g. `canary.percent`, `experiments.1.split` ('(root)' for the body itself). */
  field: string;
  rule: string;
  message: string;
  kind: 'invalid' | 'conflict';
}

const ajv = createAjv({ allErrors: true });
const validateShape = ajv.compile<Route>(routeSchema);

/**
 * Checks a route (e.g. a parsed HTTP body): its shape, the rules a schema cannot say, and — when `loadedVersions`
 * is given — that every version it names is loaded (rule `version-not-loaded`, kind `conflict`).
 * Returns every problem, not just the first.
 */
export function validateRoute(
  raw: unknown,
  loadedVersions?: Iterable<string>,
): { route: Route; problems: [] } | { problems: RouteProblem[] } {
  if (!validateShape(raw)) {
    const problems = violationsOf(validateShape.errors).map(
      (v): RouteProblem => ({
        field: pointerToField(v.pointer) || '(root)',
        rule: v.rule,
        message: v.message,
        kind: 'invalid',
      }),
    );
    return { problems: dedupe(problems) };
  }
  const route = raw;
  const problems: RouteProblem[] = [];
  const invalid = (field: string, rule: string, message: string) =>
    problems.push({ field, rule, message, kind: 'invalid' });

  // Every version the route names, with its field, for the semver and loaded checks.
  const named: [field: string, version: string][] = [];
  if (route.stable !== undefined) named.push(['stable', route.stable]);
  if (route.canary !== undefined) {
    named.push(['canary.version', route.canary.version]);
    if (route.stable === undefined) invalid('stable', 'required', 'is required when canary is set');
  }
  const seen = new Set<string>();
  (route.experiments ?? []).forEach((experiment, i) => {
    const at = `experiments.${i}`;
    if (seen.has(experiment.name))
      invalid(`${at}.name`, 'unique', `duplicate experiment name "${experiment.name}"`);
    seen.add(experiment.name);
    for (const [variant, version] of Object.entries(experiment.variants))
      named.push([`${at}.variants.${variant}`, version]);
    if (experiment.split !== undefined) {
      const variants = Object.keys(experiment.variants);
      const splitKeys = Object.keys(experiment.split);
      const missing = variants.filter((v) => !(v in experiment.split!));
      const extra = splitKeys.filter((v) => !(v in experiment.variants));
      if (missing.length > 0 || extra.length > 0) {
        invalid(
          `${at}.split`,
          'split-variants',
          `must name exactly the variants (${variants.join(', ')})` +
            (missing.length > 0 ? `; missing ${missing.join(', ')}` : '') +
            (extra.length > 0 ? `; unknown ${extra.join(', ')}` : ''),
        );
      }
      const sum = Object.values(experiment.split).reduce((a, b) => a + b, 0);
      if (sum !== 100) invalid(`${at}.split`, 'split-sum', `must sum to 100, got ${sum}`);
    }
  });
  (route.fallback ?? []).forEach((version, i) => {
    named.push([`fallback.${i}`, version]);
  });

  const loaded = loadedVersions === undefined ? undefined : new Set(loadedVersions);
  for (const [field, version] of named) {
    if (semver.valid(version) !== version) {
      invalid(field, 'semver', `must be an exact semver version such as 1.2.0, got "${version}"`);
    } else if (loaded !== undefined && !loaded.has(version)) {
      problems.push({
        field,
        rule: 'version-not-loaded',
        message: `version ${version} is not loaded`,
        kind: 'conflict',
      });
    }
  }
  return problems.length === 0 ? { route, problems: [] } : { problems };
}

/** The kind of a rejected route as a whole: `invalid` when anything is malformed, `conflict` when only versions are missing. */
export function routeProblemKind(problems: readonly RouteProblem[]): RouteProblem['kind'] {
  return problems.some((p) => p.kind === 'invalid') ? 'invalid' : 'conflict';
}

function dedupe(problems: RouteProblem[]): RouteProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const id = `${p.field}\0${p.rule}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** Every version a route names (stable, canary, variants, fallback): the versions the host must keep loaded. */
export function referencedVersions(route: Route | undefined): Set<string> {
  const versions = new Set<string>();
  if (route === undefined) return versions;
  if (route.stable !== undefined) versions.add(route.stable);
  if (route.canary !== undefined) versions.add(route.canary.version);
  for (const experiment of route.experiments ?? [])
    for (const v of Object.values(experiment.variants)) versions.add(v);
  for (const v of route.fallback ?? []) versions.add(v);
  return versions;
}
