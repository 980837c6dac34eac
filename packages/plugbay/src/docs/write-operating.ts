// `npm run docs`: regenerates the generated sections of docs/operating-the-gateway.md and docs/manifest.md in place.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { manifestDoc, manifestReference, withManifestSection } from './manifest-reference.js';
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

const manifestFile = fileURLToPath(new URL(`../../../../${manifestDoc}`, import.meta.url));
const manifestPage = await readFile(manifestFile, 'utf8');
const nextManifest = withManifestSection(manifestPage, manifestReference());
if (nextManifest === manifestPage) console.log(`${manifestDoc} is up to date`);
else {
  await writeFile(manifestFile, nextManifest);
  console.log(`${manifestDoc} regenerated`);
}
