/**
 * Serves the dashboard: `/` (HTML), `/dashboard/style.css` and its ES modules `/dashboard/<module>.js` (compiled
 * from packages/plugbay/dashboard into ./browser/, read once at start; any other name is the gateway's 404).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { commonErrors, type DocumentedSchema, errorRef, textResponse } from '../schemas.js';
import { dashboardCss, dashboardHtml } from './page.js';

const browserDir = new URL('./browser/', import.meta.url);
/** `app.js` → its text: the browser modules only (never the gateway's own files beside them). */
const modules = new Map(
  readdirSync(browserDir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => [f, readFileSync(new URL(f, browserDir), 'utf8')] as const),
);

const dashboardPolicy = [
  "default-src 'self'",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "script-src 'self'",
].join('; ');

export function registerDashboard(fastify: FastifyInstance): void {
  fastify.get('/', { schema: page }, async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      // Framed by another page, its buttons would act with this origin (clickjacking); scripts only its own
      // modules, whatever text a plugin or caller gets rendered.
      .header('content-security-policy', dashboardPolicy)
      .header('x-frame-options', 'DENY')
      .send(dashboardHtml),
  );
  fastify.get(
    '/dashboard/style.css',
    { schema: asset('text/css; charset=utf-8', 'stylesheet') },
    async (_request, reply) => reply.type('text/css; charset=utf-8').send(dashboardCss),
  );
  fastify.get<{ Params: { module: string } }>(
    '/dashboard/:module',
    { schema: moduleSchema },
    async (request, reply) => {
      const text = modules.get(request.params.module);
      if (text === undefined) return reply.callNotFound();
      return reply.type('text/javascript; charset=utf-8').send(text);
    },
  );
}

const page: DocumentedSchema = {
  tags: ['Dashboard'],
  summary: 'The dashboard',
  description:
    'Time series per plugin and version, rollouts (step, decisions, canary against stable, controls), plugins ' +
    'with their circuit and crash-loop reasons, routes (with canary, activate and rollback controls that use the ' +
    'admin API), live rates and latency, the audit log, try-it forms and load diagnostics. It reads the JSON API ' +
    'from the browser; see docs/observability.md.',
  response: { 200: textResponse('text/html; charset=utf-8', 'The page'), ...commonErrors },
};

function asset(mediaType: string, what: string): DocumentedSchema {
  return {
    tags: ['Dashboard'],
    summary: `The dashboard's ${what}`,
    description: 'Static, built into the package.',
    response: { 200: textResponse(mediaType, what), ...commonErrors },
  };
}

const moduleSchema: DocumentedSchema = {
  tags: ['Dashboard'],
  summary: "The dashboard's script modules",
  description: 'Static ES modules built into the package (app.js imports the others).',
  params: Type.Object({ module: Type.String({ description: 'Module file name', examples: ['app.js'] }) }),
  response: {
    200: textResponse('text/javascript; charset=utf-8', 'An ES module'),
    404: errorRef('PLUGBAY_NOT_FOUND: no such module'),
    ...commonErrors,
  },
};
