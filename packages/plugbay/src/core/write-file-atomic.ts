import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';

/**
 * Writes `data` to a fresh temp file beside `path`, then renames it over `path`: a reader never sees half a file,
 * and a symlink planted at `path` is replaced rather than written through. On failure the temp file is removed and
 * the error rethrown as it came (callers say which of their inputs it concerns).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, data, { flag: 'wx' });
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
