/** Serves the dashboard: `/` (HTML), `/dashboard/style.css` and `/dashboard/app.js` (compiled from app.ts). */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { commonErrors, type DocumentedSchema, textResponse } from '../schemas.js';
import { dashboardCss, dashboardHtml } from './page.js';

const appJs = readFileSync(new URL('./app.js', import.meta.url), 'utf8');

export function registerDashboard(fastify: FastifyInstance): void {
  fastify.get('/', { schema: page }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(dashboardHtml),
  );
  fastify.get(
    '/dashboard/style.css',
    { schema: asset('text/css; charset=utf-8', 'stylesheet') },
    async (_request, reply) => reply.type('text/css; charset=utf-8').send(dashboardCss),
  );
  fastify.get(
    '/dashboard/app.js',
    { schema: asset('text/javascript; charset=utf-8', 'script') },
    async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(appJs),
  );
}

const page: DocumentedSchema = {
  tags: ['Dashboard'],
  summary: 'The dashboard',
  description:
    'Plugins, routes (with canary, activate and rollback controls that use the admin API), live rates and ' +
    'latency, the audit log and load diagnostics. It reads the JSON API from the browser; see docs/observability.md.',
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
