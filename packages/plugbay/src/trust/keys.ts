import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { chmod, open } from 'node:fs/promises';
import { PlugbayError } from '../core/errors.js';

/** A key id: the first 16 hex chars of sha256 over the raw 32-byte Ed25519 public key. */
export type KeyId = string;
export const keyIdPattern = /^[0-9a-f]{16}$/;

/** The key id of an Ed25519 public (or private) key. */
export function keyIdOf(key: KeyObject): KeyId {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(rawPublicKey(pub)).digest('hex').slice(0, 16);
}

/** The raw 32 bytes of an Ed25519 public key (JWK `x`), the same bytes whatever the PEM wrapping. */
function rawPublicKey(pub: KeyObject): Buffer {
  const jwk = pub.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', 'key must be an Ed25519 key');
  }
  return Buffer.from(jwk.x, 'base64url');
}

/** Parses a PEM Ed25519 private key; a PLUGBAY_INVALID_ARGUMENT error names what is wrong. */
export function parsePrivateKey(pem: string | Buffer): KeyObject {
  return parseEd25519Key(pem, 'private', createPrivateKey);
}

/** Parses a PEM Ed25519 public key; a PLUGBAY_INVALID_ARGUMENT error names what is wrong. */
export function parsePublicKey(pem: string | Buffer): KeyObject {
  // createPublicKey happily derives the public half of a private PEM; a keyring must never hold private keys.
  if (pem.toString().includes('PRIVATE KEY')) {
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', 'public key file holds a private key');
  }
  return parseEd25519Key(pem, 'public', createPublicKey);
}

function parseEd25519Key(
  pem: string | Buffer,
  kind: 'private' | 'public',
  create: (pem: string | Buffer) => KeyObject,
): KeyObject {
  let key: KeyObject;
  try {
    key = create(pem);
  } catch (err) {
    throw new PlugbayError(
      'PLUGBAY_INVALID_ARGUMENT',
      `${kind} key is not a valid PEM key: ${(err as Error).message}`,
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new PlugbayError(
      'PLUGBAY_INVALID_ARGUMENT',
      `${kind} key must be Ed25519, got ${key.asymmetricKeyType}`,
    );
  }
  return key;
}

export interface GeneratedKeys {
  keyId: KeyId;
  privateKeyPem: string;
  publicKeyPem: string;
}

/** A new Ed25519 key pair as PEM (PKCS#8 private, SPKI public). */
export function generateKeys(): GeneratedKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    keyId: keyIdOf(publicKey),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/**
 * Writes `<outPrefix>.key` (private, mode 0600) and `<outPrefix>.pub`. Refuses to overwrite either file: losing a
 * signing key by accident is worse than an error.
 */
export async function keygen(
  outPrefix: string,
): Promise<{ keyId: KeyId; privatePath: string; publicPath: string }> {
  if (typeof outPrefix !== 'string' || outPrefix === '') {
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', 'outPrefix must be a non-empty path');
  }
  const keys = generateKeys();
  const privatePath = `${outPrefix}.key`;
  const publicPath = `${outPrefix}.pub`;
  await writeNew(privatePath, keys.privateKeyPem, 0o600);
  await writeNew(publicPath, keys.publicKeyPem, 0o644);
  return { keyId: keys.keyId, privatePath, publicPath };
}

async function writeNew(path: string, text: string, mode: number): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // 'wx': fail if it exists; the mode applies at creation so the private key is never world-readable.
    handle = await open(path, 'wx', mode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      code === 'EEXIST' ? `${path} already exists; refusing to overwrite a key` : (err as Error).message;
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', message, { cause: err, details: { path } });
  }
  try {
    await handle.writeFile(text);
    await chmod(path, mode); // the umask may have cleared bits of a public key; set exactly what we mean
  } finally {
    await handle.close();
  }
}
