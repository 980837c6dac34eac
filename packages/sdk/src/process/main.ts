#!/usr/bin/env node
// Run by the host (never imported): `node [permission flags] @plugbay/sdk/process/main` with the launch env set.
import { optionsFromEnv, servePlugin } from './serve.js';

servePlugin(optionsFromEnv(process.env)).catch((err: unknown) => {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(
    `${JSON.stringify({ '@level': 'error', '@message': `plugin failed to load: ${message}` })}\n`,
  );
  process.exit(1);
});
