/** Serves the dashboard: `/` (HTML), `/dashboard/style.css` and `/dashboard/app.js` (compiled from app.ts). */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { dashboardCss, dashboardHtml } from './page.js';

const appJs = readFileSync(new URL('./app.js', import.meta.url), 'utf8');

export function registerDashboard(fastify: FastifyInstance): void {
  fastify.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(dashboardHtml));
  fastify.get('/dashboard/style.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').send(dashboardCss),
  );
  fastify.get('/dashboard/app.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').send(appJs),
  );
}
