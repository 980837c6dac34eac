import { readFile } from 'node:fs/promises';
import { readVersion } from '../artifact/read.js';
import { verifyContents } from '../artifact/verify.js';
import { PlugbayError } from '../core/errors.js';
import { loadKeyring } from '../trust/keyring.js';
import { keygen, parsePrivateKey } from '../trust/keys.js';
import { signPlugin } from '../trust/sign.js';
import { type CommandResult, withUsageErrors } from './command-result.js';

/** `plugbay keygen --out <name>`: writes `<name>.key` (0600) and `<name>.pub`. */
export async function keygenCommand(args: { out: string }): Promise<CommandResult> {
  return withUsageErrors(async () => {
    const { keyId, privatePath, publicPath } = await keygen(args.out);
    return {
      exitCode: 0,
      output: `key ${keyId}\nprivate: ${privatePath} (keep it secret)\npublic:  ${publicPath} (put it in the keyring)\n`,
    };
  });
}

/** `plugbay sign <pluginDir> --key <private.pem>`: writes plugin.sig.json. */
export async function signCommand(args: { pluginDir: string; key: string }): Promise<CommandResult> {
  return withUsageErrors(async () => {
    let pem: Buffer;
    try {
      pem = await readFile(args.key);
    } catch (err) {
      throw new PlugbayError(
        'PLUGBAY_INVALID_ARGUMENT',
        `--key ${args.key} cannot be read: ${(err as Error).message}`,
      );
    }
    const { path, document } = await signPlugin(args.pluginDir, { privateKey: parsePrivateKey(pem) });
    return {
      exitCode: 0,
      output: `signed ${document.name}@${document.version} (${document.files.length} files) with key ${document.keyId}: ${path}\n`,
    };
  });
}

/** `plugbay verify <pluginDir> --keyring <dir> [--json]`: prints the status; exit 0 only when `valid`. */
export async function verifyCommand(args: {
  pluginDir: string;
  keyring: string;
  json?: boolean;
}): Promise<CommandResult> {
  return withUsageErrors(async () => {
    const keyring = await loadKeyring(args.keyring);
    // Read as load reads it (a folder's file set or a packed file), so verify says what the host would.
    const v = await verifyContents(await readVersion(args.pluginDir), keyring);
    const exitCode = v.status === 'valid' ? 0 : 1;
    if (args.json) return { exitCode, output: `${JSON.stringify(v, null, 2)}\n` };
    const head =
      v.status === 'valid'
        ? `valid: ${v.name}@${v.version} signed by ${v.keyId} (${v.keySource}, ${v.trust})`
        : v.status;
    const lines = [head, ...v.reasons.map((r) => `  ${r.rule}: ${r.message}`)];
    return { exitCode, output: `${lines.join('\n')}\n` };
  });
}
