// docs/operating-the-gateway.md has generated sections between markers; everything else in it is hand-written.
// `npm run docs` rewrites them (write-operating.ts); operating.test.ts fails when they are stale.
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createGateway, type GatewayRoute } from '../gateway/server.js';
import { createHost } from '../host/host.js';
import { apiReference } from './api-reference.js';
import { configReference } from './config-reference.js';
import { metricsReference } from './metrics-reference.js';

/** The page, relative to the repository root. */
export const operatingDoc = 'docs/operating-the-gateway.md';
/** The command that regenerates it. */
export const regenerate = 'npm run docs';

export const sectionNames = ['config', 'api', 'metrics'] as const;
export type SectionName = (typeof sectionNames)[number];

export const startMarker = (name: SectionName) => `<!-- generated: ${name} (${regenerate}) -->`;
export const endMarker = (name: SectionName) => `<!-- end generated: ${name} -->`;

/** The routes and metrics of a real host and gateway (nothing loaded, nothing listening). */
export async function gatewayFacts(): Promise<{ routes: GatewayRoute[]; registry: Registry }> {
  const registry = new Registry();
  const host = createHost({ logger: pino({ level: 'silent' }), registry });
  try {
    const gateway = createGateway({ host, port: 0 });
    // Routes of fastify plugins (the admin API) are registered when the instance boots.
    await gateway.fastify.ready();
    const routes = gateway.routes();
    await gateway.close();
    return { routes, registry };
  } finally {
    await host.close();
  }
}

export async function generatedSections(): Promise<Record<SectionName, string>> {
  const { routes, registry } = await gatewayFacts();
  return {
    config: configReference(),
    api: apiReference(routes),
    metrics: await metricsReference(registry),
  };
}

/** The page with every generated section replaced; throws when a marker is missing. */
export function withSections(page: string, sections: Record<SectionName, string>): string {
  let out = page;
  for (const name of sectionNames) {
    const start = out.indexOf(startMarker(name));
    const end = out.indexOf(endMarker(name));
    if (start < 0 || end < start) {
      throw new Error(`${operatingDoc}: markers of the "${name}" section are missing or out of order`);
    }
    out = `${out.slice(0, start + startMarker(name).length)}\n\n${sections[name]}\n\n${out.slice(end)}`;
  }
  return out;
}

/** The text of one section as the page has it now. */
export function sectionOf(page: string, name: SectionName): string | undefined {
  const start = page.indexOf(startMarker(name));
  const end = page.indexOf(endMarker(name));
  if (start < 0 || end < start) return undefined;
  return page.slice(start + startMarker(name).length, end).trim();
}
