/**
 * Runs in a child process forked by `build.ts`: imports a freshly bundled plugin and sends its definition back as
 * plain JSON. A child keeps the plugin's top-level code (timers, globals, output) away from the CLI's process.
 */
import { pathToFileURL } from 'node:url';
import { toWireError } from '@plugbay/sdk';
import { importPlugin, resolveDefinition } from '@plugbay/sdk/runtime';
import type { DescribeReply } from './describe.js';

async function describe(bundlePath: string): Promise<DescribeReply> {
  try {
    const def = resolveDefinition(await importPlugin(pathToFileURL(bundlePath).href));
    // A JSON round trip keeps exactly what a manifest can hold: TypeBox's symbol keys and the handlers drop out.
    const plain = JSON.parse(
      JSON.stringify({ ...def, start: undefined, stop: undefined, health: undefined }),
    );
    return { ok: true, definition: plain };
  } catch (err) {
    return { ok: false, error: toWireError(err) };
  }
}

const reply = await describe(process.argv[2] ?? '');
// Exit right after the reply is flushed: a plugin's top-level timers must not keep the child alive.
process.send?.(reply, () => process.exit(0));
