/// <reference lib="dom" />
/**
 * Try it: one form per function, from the gateway's OpenAPI document (GET /v1/openapi.json). Each shows the
 * function's input and output schemas, a textarea prefilled from the manifest's example (or a value built from the
 * schema), and posts it to the call API as any caller would.
 */
import { $, el } from './dom.js';

interface MediaType {
  schema?: unknown;
  example?: unknown;
}
interface OpenApiOperation {
  'x-plugbay-plugin': string;
  'x-plugbay-function': string;
  'x-plugbay-version'?: string;
  'x-plugbay-codec': 'json' | 'bytes';
  description?: string;
  requestBody?: { content: Record<string, MediaType> };
  responses?: Record<string, { content?: Record<string, MediaType> } | { $ref: string }>;
}
export interface OpenApi {
  paths: Record<string, { post?: OpenApiOperation }>;
}

/** The operations the forms show now: rebuilt only when they change, so that typing is never interrupted. */
let shownNow = '';

/** A starting input from a schema: its first example, its default, or the smallest value of its type. */
export function sampleOf(schema: unknown): unknown {
  if (typeof schema !== 'object' || schema === null) return {};
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  if ('default' in s) return s.default;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  switch (s.type) {
    case 'object': {
      const properties = (s.properties ?? {}) as Record<string, unknown>;
      const required = Array.isArray(s.required) ? (s.required as string[]) : [];
      return Object.fromEntries(required.map((k) => [k, sampleOf(properties[k])]));
    }
    case 'array':
      return [];
    case 'string':
      return '';
    case 'number':
    case 'integer':
      return typeof s.minimum === 'number' ? s.minimum : 0;
    case 'boolean':
      return false;
    default:
      return {};
  }
}

/** A schema as the form shows it: the JSON, folded in a <details> so that a long one does not push the form away. */
function schemaView(title: string, schema: unknown): HTMLElement {
  return el(
    'details',
    { className: 'schema' },
    el('summary', {}, title),
    el('pre', { textContent: schema === undefined ? '(none)' : JSON.stringify(schema, null, 2) }),
  );
}

export function renderTryIt(doc: OpenApi): void {
  const box = $('try-it');
  const operations = Object.entries(doc.paths)
    .map(([path, item]) => [path, item.post] as const)
    .filter((e): e is readonly [string, OpenApiOperation] => e[1] !== undefined);
  const shown = operations
    .map(([path, op]) => `${path}:${op['x-plugbay-codec']}:${op['x-plugbay-version'] ?? ''}`)
    .join('\n');
  if (shown === shownNow || box.contains(document.activeElement)) return;
  shownNow = shown;
  box.replaceChildren();
  if (operations.length === 0) box.append(el('p', {}, 'No function is loaded.'));
  for (const [path, op] of operations) box.append(tryForm(path, op));
}

function tryForm(path: string, op: OpenApiOperation): HTMLFormElement {
  const name = `${op['x-plugbay-plugin']}.${op['x-plugbay-function']}`;
  const bytes = op['x-plugbay-codec'] === 'bytes';
  const input = op.requestBody?.content['application/json'];
  const ok = op.responses?.['200'];
  const output = ok !== undefined && 'content' in ok ? ok.content?.['application/json'] : undefined;
  const id = `try-${name.replace(/[^A-Za-z0-9]/g, '-')}`;
  const text = el('textarea', { id: `${id}-input`, rows: 3, spellcheck: false });
  text.value = bytes ? '' : JSON.stringify(input?.example ?? sampleOf(input?.schema), null, 2);
  const result = el('output', { id: `${id}-result`, for: `${id}-input`, ariaLive: 'polite' });
  const form = el(
    'form',
    { className: 'try', ariaLabel: `Try ${name}` },
    el(
      'h3',
      {},
      name,
      op['x-plugbay-version'] ? el('span', { className: 'muted' }, ` ${op['x-plugbay-version']}`) : '',
    ),
    ...(op.description ? [el('p', {}, op.description)] : []),
    ...(bytes
      ? [el('p', {}, 'Bytes in, bytes out (codec "bytes"): no JSON Schema.')]
      : [
          el(
            'div',
            { className: 'schemas' },
            schemaView(`Input schema of ${name}`, input?.schema),
            schemaView(`Output schema of ${name}`, output?.schema),
          ),
        ]),
    el('label', { for: text.id }, bytes ? `Input of ${name} (raw text)` : `Input of ${name} (JSON)`),
    text,
    el('button', { type: 'submit' }, `Call ${name}`),
    result,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void tryCall(path, bytes, text.value, result);
  });
  return form;
}

/** Posts the textarea to the call API and shows the answer (or the error) below it. */
async function tryCall(path: string, bytes: boolean, body: string, result: HTMLOutputElement): Promise<void> {
  result.className = '';
  result.textContent = 'Calling…';
  try {
    const res = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': bytes ? 'application/octet-stream' : 'application/json' },
      body,
    });
    const type = res.headers.get('content-type') ?? '';
    const text = await res.text();
    const shown = type.startsWith('application/json') ? JSON.stringify(JSON.parse(text), null, 2) : text;
    result.className = res.ok ? 'ok' : 'error';
    result.textContent = res.ok
      ? `${res.status} from ${res.headers.get('x-plugbay-served-by') ?? '?'}\n${shown}`
      : `${res.status}\n${shown}`;
  } catch (err) {
    result.className = 'error';
    result.textContent = (err as Error).message;
  }
}
