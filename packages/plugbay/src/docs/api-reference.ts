// The API reference of docs/operating-the-gateway.md, rendered from the schemas of the routes a real gateway
// registered (collected by its onRoute hook).
import { type ErrorCode, errorCodes } from '../core/errors.js';
import { httpStatuses } from '../gateway/errors.js';
import { apiGroups, type DocumentedSchema, errorSchema, errorSchemaId } from '../gateway/schemas.js';
import type { GatewayRoute } from '../gateway/server.js';
import { blocks, code, fence, table } from './markdown.js';

type Schema = Record<string, unknown>;

/** Where curl examples send their requests. */
export const exampleBase = 'http://127.0.0.1:7070';

// Titled object schemas (a diagnostic, a route) are described once, under "Objects", and named elsewhere.
let shared = new Map<string, Schema>();

export function apiReference(routes: GatewayRoute[]): string {
  shared = new Map();
  const documented = routes.filter((r) => r.method !== 'HEAD');
  const sections: string[] = [];
  for (const group of apiGroups) {
    const inGroup = documented.filter((r) => (r.schema as DocumentedSchema | undefined)?.tags?.[0] === group);
    if (inGroup.length > 0) sections.push(`### ${group}`, ...inGroup.map(routeSection));
  }
  const orphans = documented.filter(
    (r) => !apiGroups.includes((r.schema as DocumentedSchema | undefined)?.tags?.[0] as never),
  );
  if (orphans.length > 0) {
    throw new Error(`routes without a known tag: ${orphans.map((r) => `${r.method} ${r.url}`).join(', ')}`);
  }
  const objects: string[] = [];
  // Rendering an object may name further ones: repeat until none is new.
  for (let done = 0; done < shared.size; done++) {
    const [title, schema] = [...shared][done]!;
    const rules = schema.additionalProperties === false ? 'No other fields.' : '';
    objects.push(
      blocks(`#### ${title}`, [describe(schema), rules].join(' ').trim(), fieldTable(schema, 'required')),
    );
  }
  return blocks(
    `Every ${code('GET')} route also answers ${code('HEAD')}. Unknown routes answer 404 with the error body ` +
      `(${code('PLUGBAY_NOT_FOUND')}). A request whose parameters, query, headers or body break the ` +
      `route's schema is refused with 400 ${code('PLUGBAY_INVALID_ARGUMENT')}; ${code('details.in')} says ` +
      `which part, ${code('details.field')} the first bad field and ${code('details.problems')} every problem.`,
    ...sections,
    objects.length > 0 && blocks('### Objects', 'Objects that several answers contain:', ...objects),
    errorsSection(),
  );
}

function routeSection(route: GatewayRoute): string {
  const schema = route.schema as DocumentedSchema & Schema;
  const parts: (string | undefined)[] = [
    `#### ${code(`${route.method} ${route.url}`)}`,
    `**${sentence(schema.summary)}** ${schema.description}`,
  ];
  const params = schema.params as Schema | undefined;
  if (params !== undefined) {
    parts.push(
      'Path parameters:',
      table(
        ['name', 'type', 'description'],
        Object.entries(properties(params)).map(([name, s]) => [code(name), typeOf(s), describe(s)]),
      ),
    );
  }
  if (schema.querystring !== undefined) {
    parts.push('Query parameters:', fieldTable(schema.querystring as Schema, 'required', 'name'));
  }
  if (schema.headers !== undefined)
    parts.push('Request headers:', fieldTable(schema.headers as Schema, 'required', 'header'));
  if (schema.body !== undefined) {
    const body = schema.body as Schema;
    parts.push(`Body: ${typeOf(body)}${describe(body) === '' ? '' : `. ${describe(body)}`}`);
    if (hasFields(body)) parts.push(fieldTable(body, 'required'));
  }
  const responses = Object.entries((schema.response ?? {}) as Record<string, Schema>);
  parts.push(
    'Answers:',
    table(
      ['status', 'body'],
      responses.map(([status, s]) => [status, answerOf(s)]),
    ),
  );
  for (const [status, s] of responses) {
    if (Number(status) < 400 && hasFields(s))
      parts.push(`Fields of the ${status} answer:`, fieldTable(s, 'always'));
  }
  parts.push(fence('sh', curlOf(route.method, route.url, schema)));
  return blocks(...parts);
}

function errorsSection(): string {
  const codes = Object.entries(errorCodes).map(([name, c]) => [
    code(name),
    String(httpStatuses[name as ErrorCode]),
    c.retryable ? 'yes' : 'no',
  ]);
  return blocks(
    '### Errors',
    `Every error answer has the same body (one schema, ${code(errorSchemaId)}), with the HTTP status of its code:`,
    fieldTable(errorSchema as unknown as Schema, 'always'),
    table(['code', 'status', 'retryable'], codes),
  );
}

function answerOf(s: Schema): string {
  if (isErrorRef(s)) return `error: ${String(s.description ?? '')}`;
  const content = s.content as Record<string, unknown> | undefined;
  if (content !== undefined) {
    return `${Object.keys(content).map(code).join(', ')}: ${String(s.description ?? '')}`;
  }
  const text = describe(s);
  return `${typeOf(s)}${hasFields(s) ? ', fields below' : ''}${text === '' ? '' : `: ${text}`}`;
}

/** One row per field, nested fields with dotted names (`canary.percent`, `experiments[].name`). */
function fieldTable(schema: Schema, presence: 'required' | 'always', first = 'field'): string {
  const rows: string[][] = [];
  const walk = (s: Schema, prefix: string) => {
    const required = new Set((s.required as string[] | undefined) ?? []);
    for (const [name, child] of Object.entries(properties(s))) {
      const path = `${prefix}${name}`;
      rows.push([code(path), typeOf(child), required.has(name) ? 'yes' : '', describe(child)]);
      for (const nested of objectsIn(child)) walk(nested.schema, `${path}${nested.suffix}.`);
    }
  };
  walk(schema, '');
  return table([first, 'type', presence, 'description'], rows);
}

/** Object schemas below a field: the field itself, array items, union members. */
function objectsIn(s: Schema): { schema: Schema; suffix: string }[] {
  if (isErrorRef(s) || sharedTitle(s) !== undefined) return [];
  if (s.type === 'object' && s.properties !== undefined) return [{ schema: s, suffix: '' }];
  if (s.type === 'array' && s.items !== undefined) {
    return objectsIn(s.items as Schema).map((o) => ({ ...o, suffix: `[]${o.suffix}` }));
  }
  if (Array.isArray(s.anyOf)) return (s.anyOf as Schema[]).flatMap(objectsIn);
  return [];
}

function hasFields(s: Schema): boolean {
  return objectsIn(s).length > 0;
}

function properties(s: Schema): Record<string, Schema> {
  return (s.properties ?? {}) as Record<string, Schema>;
}

function isErrorRef(s: Schema): boolean {
  return s.$ref === `${errorSchemaId}#`;
}

/** The title of an object described once under "Objects" (registered on first sight). */
function sharedTitle(s: Schema): string | undefined {
  if (s.type !== 'object' || typeof s.title !== 'string' || isErrorRef(s) || s.$id === errorSchemaId)
    return undefined;
  if (!shared.has(s.title)) shared.set(s.title, s);
  return s.title;
}

function typeOf(s: Schema): string {
  if (isErrorRef(s)) return 'error';
  const title = sharedTitle(s);
  if (title !== undefined) return title;
  if (s.const !== undefined) return code(JSON.stringify(s.const));
  if (Array.isArray(s.anyOf)) return (s.anyOf as Schema[]).map(typeOf).join(' or ');
  if (s.type === 'array') return `${typeOf((s.items ?? {}) as Schema)}[]`;
  if (s.type === 'object' && s.patternProperties !== undefined) {
    const [value] = Object.values(s.patternProperties as Record<string, Schema>);
    return `map of ${value === undefined || typeOf(value) === 'any JSON' ? 'any' : typeOf(value)}`;
  }
  if (typeof s.type === 'string') return s.type;
  return 'any JSON';
}

/** The description with the schema's rules (those of a shared object are told under "Objects"). */
function describe(s: Schema): string {
  const rules: string[] = [];
  if (sharedTitle(s) !== undefined) {
    return typeof s.description === 'string' ? sentence(s.description) : '';
  }
  if (typeof s.pattern === 'string') rules.push(`pattern ${code(s.pattern)}`);
  if (typeof s.minLength === 'number')
    rules.push(`at least ${s.minLength} character${s.minLength === 1 ? '' : 's'}`);
  if (typeof s.maxLength === 'number') rules.push(`at most ${s.maxLength} characters`);
  if (typeof s.minimum === 'number' && typeof s.maximum === 'number')
    rules.push(`${s.minimum} to ${s.maximum}`);
  if (typeof s.minProperties === 'number')
    rules.push(`at least ${s.minProperties} entr${s.minProperties === 1 ? 'y' : 'ies'}`);
  if (s.uniqueItems === true) rules.push('no duplicates');
  if (s.additionalProperties === false && s.type === 'object') rules.push('no other fields');
  const text = typeof s.description === 'string' ? sentence(s.description) : '';
  return [text, rules.length > 0 ? `Rules: ${rules.join(', ')}.` : ''].filter((t) => t !== '').join(' ');
}

function sentence(text: string): string {
  return /[.!?…]$/.test(text) ? text : `${text}.`;
}

/** A curl command from the schema's examples (`examples` of params, query fields and body). */
function curlOf(method: string, url: string, schema: Schema): string {
  const params = properties((schema.params ?? {}) as Schema);
  const path = url.replace(/:(\w+)/g, (_, name: string) => String(exampleOf(params[name]) ?? `<${name}>`));
  const query = Object.entries(properties((schema.querystring ?? {}) as Schema))
    .filter(([, s]) => exampleOf(s) !== undefined)
    .map(([name, s]) => `${name}=${encodeURIComponent(String(exampleOf(s)))}`)
    .join('&');
  const target = `${exampleBase}${path}${query === '' ? '' : `?${query}`}`;
  const words = ['curl', '-s'];
  if (method !== 'GET') words.push('-X', method);
  words.push(query === '' ? target : `'${target}'`);
  const body = schema.body === undefined ? undefined : exampleOf(schema.body as Schema);
  // The content type matters to admin changes (JSON only, admin.ts); calls read any body as JSON.
  if (body !== undefined)
    words.push('-H', "'content-type: application/json'", '-d', `'${JSON.stringify(body)}'`);
  return words.join(' ');
}

function exampleOf(s: Schema | undefined): unknown {
  return Array.isArray(s?.examples) ? s.examples[0] : undefined;
}
