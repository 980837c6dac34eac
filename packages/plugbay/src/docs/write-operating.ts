// `npm run docs`: regenerates the generated sections of docs/operating-the-gateway.md in place.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { generatedSections, operatingDoc, withSections } from './operating.js';

// dist/docs → packages/plugbay → packages → repository root.
const file = fileURLToPath(new URL(`../../../../${operatingDoc}`, import.meta.url));
const page = await readFile(file, 'utf8');
const next = withSections(page, await generatedSections());
if (next === page) console.log(`${operatingDoc} is up to date`);
else {
  await writeFile(file, next);
  console.log(`${operatingDoc} regenerated`);
}
