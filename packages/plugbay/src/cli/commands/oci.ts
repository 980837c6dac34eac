import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pullArtifact, pushPacked } from '../../artifact/oci/artifact.js';
import type { RegistryClientOptions } from '../../artifact/oci/client.js';
import { formatOciReference, parseOciReference } from '../../artifact/oci/reference.js';
import { isPackedFile, packedExtension, packVersion } from '../../artifact/pack.js';
import { readFolder } from '../../artifact/read.js';
import { type ErrorCode, PlugbayError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/write-file-atomic.js';
import { loadKeyring } from '../../trust/keyring.js';
import { parseCommandArgs } from '../args.js';
import { type CommandResult, withUsageErrors } from '../command-result.js';
import { type Command, UsageError } from '../io.js';
import { print } from './trust.js';

const authHelp = `Credentials come from PLUGBAY_REGISTRY_USERNAME and PLUGBAY_REGISTRY_PASSWORD (never from the command
line); they answer a Basic challenge, or are sent to a Bearer challenge's token endpoint. HTTPS always; --insecure
allows plain HTTP to a registry on loopback only.`;

const registryOptions = {
  insecure: { type: 'boolean' },
} as const;

/**
 * Like withUsageErrors, but a registry that failed or an artifact refused (digest, signature) exits 1: the command
 * was used right and the answer is no. Other PlugbayErrors (a bad reference, an unreadable keyring) stay usage, 2.
 */
async function withRefusals(run: () => Promise<CommandResult>): Promise<CommandResult> {
  return withUsageErrors(async () => {
    try {
      return await run();
    } catch (err) {
      if (err instanceof PlugbayError && refusals.has(err.code)) {
        return { exitCode: 1, output: `error ${err.code}: ${err.message}\n` };
      }
      throw err;
    }
  });
}

const refusals = new Set<ErrorCode>([
  'PLUGBAY_REGISTRY_FAILED',
  'PLUGBAY_ARTIFACT_INVALID',
  'PLUGBAY_SIGNATURE_INVALID',
  'PLUGBAY_MANIFEST_INVALID',
]);

function clientOptions(insecure: boolean | undefined): RegistryClientOptions {
  const username = process.env.PLUGBAY_REGISTRY_USERNAME;
  const password = process.env.PLUGBAY_REGISTRY_PASSWORD;
  return {
    insecure: insecure ?? false,
    ...(username !== undefined && username !== ''
      ? { credentials: { username, password: password ?? '' } }
      : {}),
  };
}

export const pushCli: Command = {
  name: 'push',
  usage: `plugbay push <pluginDir | file.plugbay.tgz> oci://<registry>/<repository>[:<tag>] [--insecure]

Uploads the packed plugin (a folder is packed first, as "plugbay pack" would) as an OCI artifact: artifactType
application/vnd.plugbay.plugin.v1+json, the packed file as one layer and its plugin.sig.json as a second (see
docs/trust-and-contracts.md). Blobs the registry already has are not sent again. Prints the manifest digest, which
"plugbay pull …@<digest>" pins. The tag defaults to "latest". ${authHelp}`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, registryOptions);
    if (positionals.length !== 2)
      throw new UsageError('takes a plugin directory or packed file, then oci://…');
    const [input, target] = positionals as [string, string];
    const result = await withRefusals(async () => {
      const ref = parseOciReference(target);
      const packed = isPackedFile(input)
        ? await readFile(input).catch((err: Error) => {
            throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `cannot read ${input}: ${err.message}`, {
              details: { field: 'input', rule: 'readable' },
            });
          })
        : await packVersion(await readFolder(resolve(input)));
      const pushed = await pushPacked(packed, ref, { ...clientOptions(values.insecure), source: input });
      const where = formatOciReference({ ...ref, tag: ref.tag ?? 'latest' });
      return {
        exitCode: 0,
        output: `pushed ${pushed.id} (${pushed.signed ? 'signed' : 'unsigned'}; ${pushed.uploaded} blobs sent, ${pushed.skipped} already there) to ${where}\n${pushed.digest}\n`,
      };
    });
    return print(result, io);
  },
};

export const pullCli: Command = {
  name: 'pull',
  usage: `plugbay pull oci://<registry>/<repository>[:<tag> | @sha256:<hex>] --keyring <dir> [--out <dir>]
             [--allow-unsigned] [--insecure]

Fetches a plugin pushed with "plugbay push" and verifies it before writing anything: the manifest's digest when
pinned, every blob's sha256 and size, and the plugin's signature against the keyring (as "plugbay verify" does).
Writes <name>@<version>.plugbay.tgz into --out (default: the current directory), which "plugbay serve" loads.
Prints the manifest digest. --allow-unsigned accepts a plugin without a signature (never a bad one). ${authHelp}`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      ...registryOptions,
      keyring: { type: 'string' },
      out: { type: 'string' },
      'allow-unsigned': { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('takes exactly one oci:// reference');
    if (values.keyring === undefined || values.keyring === '')
      throw new UsageError('--keyring <dir> is required');
    const keyringDir = values.keyring;
    const result = await withRefusals(async () => {
      const ref = parseOciReference(positionals[0]!);
      const keyring = await loadKeyring(keyringDir);
      const pulled = await pullArtifact(ref, {
        ...clientOptions(values.insecure),
        keyring,
        allowUnsigned: values['allow-unsigned'] ?? false,
      });
      const path = join(resolve(values.out ?? '.'), `${pulled.id.replace('/', '+')}${packedExtension}`);
      try {
        await writeFileAtomic(path, pulled.packed);
      } catch (err) {
        throw new PlugbayError(
          'PLUGBAY_INVALID_ARGUMENT',
          `cannot write ${path}: ${(err as Error).message}`,
          {
            cause: err,
            details: { option: 'out' },
          },
        );
      }
      const signer =
        pulled.verification.status === 'valid' ? `signed by ${pulled.verification.keyId}` : 'unsigned';
      return { exitCode: 0, output: `pulled ${pulled.id} (${signer}): ${path}\n${pulled.digest}\n` };
    });
    return print(result, io);
  },
};
