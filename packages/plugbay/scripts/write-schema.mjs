// Regenerates schema/plugin.schema.json from the TypeBox source of the manifest schema (run after `tsc -b`).
import { writeFileSync } from 'node:fs';
import { manifestSchema } from '../dist/core/manifest-schema.js';

const out = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://plugbay.dev/schema/plugin.schema.json',
  title: 'plugbay plugin manifest (plugin.json)',
  ...JSON.parse(JSON.stringify(manifestSchema)),
};
writeFileSync(new URL('../schema/plugin.schema.json', import.meta.url), `${JSON.stringify(out, null, 2)}\n`);
