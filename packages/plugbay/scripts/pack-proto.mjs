// The host loads the protocol's .proto files from a `proto/` directory it finds by walking up from its module: the
// repo's top-level proto/ in a checkout, the package's own proto/ once installed. `npm pack`/`npm publish` copy them
// into the package (prepack) and remove the copy afterwards (postpack): one committed copy, at the repo root.
import { cpSync, rmSync } from 'node:fs';

const from = new URL('../../../proto/', import.meta.url);
const to = new URL('../proto/', import.meta.url);

rmSync(to, { recursive: true, force: true });
if (process.argv[2] !== '--remove') cpSync(from, to, { recursive: true });
