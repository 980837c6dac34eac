/**
 * A plugin version as an OCI artifact (image-spec 1.1's artifact form of an image manifest):
 * - `artifactType` application/vnd.plugbay.plugin.v1+json;
 * - `config` the empty descriptor (application/vnd.oci.empty.v1+json, the two bytes `{}`);
 * - layer 0: the packed plugin, byte for byte what `plugbay pack` writes (plugin.sig.json inside);
 * - layer 1, when signed: the signature file alone (application/vnd.plugbay.signature.v1+json), so that a reader
 *   sees who signed it from the manifest and one small blob. It must equal the packed file's plugin.sig.json.
 * The signature is a layer, not a referrer: one manifest fetch gets everything, it works on registries without the
 * referrers API, and it cannot be detached from the version it signs.
 */
import { createHash } from 'node:crypto';
import { PlugbayError } from '../../core/errors.js';
import { signatureFileName } from '../../core/file-set.js';
import type { Keyring } from '../../trust/keyring.js';
import type { Verification } from '../../trust/verify.js';
import { digestOf, maxVersionBytes, type VersionContents } from '../contents.js';
import { parsePacked } from '../pack.js';
import { verifyContents } from '../verify.js';
import {
  createRegistryClient,
  type RegistryClient,
  type RegistryClientOptions,
  registryFailed,
} from './client.js';
import { digestPattern, formatOciReference, manifestReference, type OciReference } from './reference.js';

export const mediaTypes = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  artifact: 'application/vnd.plugbay.plugin.v1+json',
  empty: 'application/vnd.oci.empty.v1+json',
  packed: 'application/vnd.plugbay.plugin.layer.v1.tar+gzip',
  signature: 'application/vnd.plugbay.signature.v1+json',
} as const;

/** Annotations plugbay writes on the manifest (tools show them; pull trusts only the verified bytes). */
export const annotations = {
  title: 'org.opencontainers.image.title',
  name: 'dev.plugbay.plugin.name',
  version: 'dev.plugbay.plugin.version',
  contentDigest: 'dev.plugbay.plugin.digest',
} as const;

/** Larger manifests are refused before parsing (distribution's own default limit is 4 MiB). */
const maxManifestBytes = 4 * 1024 * 1024;
const emptyConfig = Buffer.from('{}');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

interface Manifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function descriptor(mediaType: string, bytes: Buffer, extra?: Record<string, string>): Descriptor {
  return {
    mediaType,
    digest: sha256Digest(bytes),
    size: bytes.length,
    ...(extra ? { annotations: extra } : {}),
  };
}

export interface PushResult {
  /** The manifest's digest: what `pull …@<digest>` pins. */
  digest: string;
  /** `<name>@<version>` of the plugin. */
  id: string;
  /** The version's content address (artifact/contents.ts), the same as `plugbay pack` prints. */
  contentDigest: string;
  /** Blobs uploaded and blobs the registry already had. */
  uploaded: number;
  skipped: number;
  signed: boolean;
}

/**
 * Uploads a packed plugin (the bytes `plugbay pack` writes) to `ref` (its tag, default `latest`; a digest in `ref`
 * is refused: a push names a tag). Blobs the registry already has are not sent again.
 */
export async function pushPacked(
  packed: Buffer,
  ref: OciReference,
  options: RegistryClientOptions & { source?: string } = {},
): Promise<PushResult> {
  if (ref.digest !== undefined) {
    throw new PlugbayError(
      'PLUGBAY_INVALID_ARGUMENT',
      `push to ${formatOciReference(ref)}: name a tag, not a digest`,
      {
        details: { field: 'reference', rule: 'tag-required' },
      },
    );
  }
  const contents = await parsePacked(packed, options.source ?? 'packed plugin');
  const { name, version } = identity(contents);
  const id = `${name}@${version}`;
  const client = createRegistryClient(ref.registry, options);
  const blobs: [Descriptor, Buffer][] = [
    [descriptor(mediaTypes.empty, emptyConfig), emptyConfig],
    [
      descriptor(mediaTypes.packed, packed, { [annotations.title]: `${id.replace('/', '+')}.plugbay.tgz` }),
      packed,
    ],
  ];
  if (contents.signature !== undefined) {
    const signature = Buffer.from(contents.signature, 'utf8');
    blobs.push([
      descriptor(mediaTypes.signature, signature, { [annotations.title]: signatureFileName }),
      signature,
    ]);
  }
  let uploaded = 0;
  for (const [desc, bytes] of blobs) {
    if (await uploadBlob(client, ref.repository, desc, bytes)) uploaded++;
  }
  const [config, ...layers] = blobs.map(([d]) => d);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: mediaTypes.manifest,
    artifactType: mediaTypes.artifact,
    config: config!,
    layers,
    annotations: {
      [annotations.name]: name,
      [annotations.version]: version,
      [annotations.contentDigest]: digestOf(contents),
    },
  };
  const body = Buffer.from(JSON.stringify(manifest), 'utf8');
  const digest = sha256Digest(body);
  const answer = await client.request('PUT', `/v2/${ref.repository}/manifests/${manifestReference(ref)}`, {
    headers: { 'content-type': mediaTypes.manifest },
    body,
    ok: [201],
  });
  const echoed = answer.headers.get('docker-content-digest');
  if (echoed !== null && echoed !== digest) {
    throw registryFailed(`the registry stored the manifest as ${echoed}, not ${digest}`, {
      rule: 'digest-mismatch',
      status: answer.status,
      registry: ref.registry,
    });
  }
  return {
    digest,
    id,
    contentDigest: digestOf(contents),
    uploaded,
    skipped: blobs.length - uploaded,
    signed: contents.signature !== undefined,
  };
}

/** HEAD, then (when absent) POST an upload session and PUT the bytes to it with `?digest=`. True when sent. */
async function uploadBlob(
  client: RegistryClient,
  repo: string,
  desc: Descriptor,
  bytes: Buffer,
): Promise<boolean> {
  const head = await client.request('HEAD', `/v2/${repo}/blobs/${desc.digest}`, { ok: [200, 404] });
  if (head.status === 200) return false;
  const session = await client.request('POST', `/v2/${repo}/blobs/uploads/`, { ok: [202] });
  const location = session.headers.get('location');
  if (location === null) {
    throw registryFailed('the registry opened an upload without a Location', {
      rule: 'protocol',
      status: session.status,
      registry: client.registry,
    });
  }
  const url = client.resolve(location);
  url.searchParams.set('digest', desc.digest);
  await client.request('PUT', url.href, {
    headers: { 'content-type': 'application/octet-stream' },
    body: bytes,
    ok: [201],
  });
  return true;
}

export interface PullResult {
  /** The manifest's digest (the tag's, resolved; or the pinned one). */
  digest: string;
  id: string;
  /** The packed plugin's bytes, every digest and the signature verified. */
  packed: Buffer;
  contents: VersionContents;
  verification: Verification;
}

/**
 * Fetches `ref` and verifies it before returning a byte of it: the manifest's digest when pinned (and the digest
 * the registry says it has otherwise), each blob's sha256 and size against its descriptor
 * (PLUGBAY_ARTIFACT_INVALID, rule `digest-mismatch`, `details.digest`), the plugbay media types, the signature layer
 * against the packed file's, and the signature against `keyring` (PLUGBAY_SIGNATURE_INVALID unless `valid`, or
 * `unsigned` with `allowUnsigned`).
 */
export async function pullArtifact(
  ref: OciReference,
  options: RegistryClientOptions & { keyring: Keyring; allowUnsigned?: boolean },
): Promise<PullResult> {
  const where = formatOciReference(ref);
  const client = createRegistryClient(ref.registry, options);
  const answer = await client
    .request('GET', `/v2/${ref.repository}/manifests/${manifestReference(ref)}`, {
      headers: { accept: mediaTypes.manifest },
    })
    .catch((err: unknown) => {
      if (err instanceof PlugbayError && err.details?.status === 404) {
        throw registryFailed(`${where}: no such tag or digest in the registry`, {
          ...err.details,
          rule: 'manifest-unknown',
          status: 404,
          reference: where,
        });
      }
      throw err;
    });
  if (answer.body.length > maxManifestBytes)
    throw bad(where, 'manifest-size', `the manifest is larger than ${maxManifestBytes} bytes`);
  const digest = sha256Digest(answer.body);
  const claimed = ref.digest ?? answer.headers.get('docker-content-digest') ?? digest;
  if (claimed !== digest) {
    throw bad(where, 'digest-mismatch', `the manifest's sha256 is ${digest}, not ${claimed}`, {
      digest: claimed,
      actual: digest,
    });
  }
  const manifest = parseManifest(answer.body, where);
  const packedDesc = manifest.layers.find((l) => l.mediaType === mediaTypes.packed)!;
  const signatureDesc = manifest.layers.find((l) => l.mediaType === mediaTypes.signature);
  const packed = await fetchBlob(client, ref.repository, packedDesc, where);
  const contents = await parsePacked(packed, where);
  if (signatureDesc !== undefined) {
    const signature = (await fetchBlob(client, ref.repository, signatureDesc, where)).toString('utf8');
    if (signature !== contents.signature) {
      throw new PlugbayError(
        'PLUGBAY_SIGNATURE_INVALID',
        `${where}: the signature layer is not the packed plugin's ${signatureFileName}`,
        {
          details: { reference: where, rule: 'signature-layer-mismatch', digest: signatureDesc.digest },
        },
      );
    }
  }
  const verification = await verifyContents(contents, options.keyring);
  const unsignedAllowed = verification.status === 'unsigned' && options.allowUnsigned === true;
  if (verification.status !== 'valid' && !unsignedAllowed) {
    const reasons = verification.reasons.map((r) => `${r.rule}: ${r.message}`).join('; ');
    throw new PlugbayError(
      'PLUGBAY_SIGNATURE_INVALID',
      `${where}: the plugin's signature is ${verification.status} (${reasons})`,
      {
        details: {
          reference: where,
          rule: verification.reasons[0]?.rule ?? verification.status,
          status: verification.status,
          digest,
        },
      },
    );
  }
  const { name, version } = identity(contents);
  return { digest, id: `${name}@${version}`, packed, contents, verification };
}

async function fetchBlob(
  client: RegistryClient,
  repo: string,
  desc: Descriptor,
  where: string,
): Promise<Buffer> {
  const { body } = await client.request('GET', `/v2/${repo}/blobs/${desc.digest}`);
  const actual = sha256Digest(body);
  if (actual !== desc.digest || body.length !== desc.size) {
    throw bad(
      where,
      'digest-mismatch',
      `blob ${desc.digest}: got ${body.length} bytes with sha256 ${actual}`,
      {
        digest: desc.digest,
        actual,
      },
    );
  }
  return body;
}

function parseManifest(body: Buffer, where: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    throw bad(where, 'manifest-format', 'the manifest is not JSON');
  }
  const m = raw as Partial<Manifest>;
  if (m.mediaType !== mediaTypes.manifest || m.artifactType !== mediaTypes.artifact) {
    throw bad(
      where,
      'artifact-type',
      `not a plugbay plugin (artifactType ${String(m.artifactType)}, expected ${mediaTypes.artifact})`,
    );
  }
  const layers = Array.isArray(m.layers) ? m.layers : [];
  const wellFormed = layers.every(
    (l) =>
      typeof l === 'object' &&
      l !== null &&
      typeof l.mediaType === 'string' &&
      typeof l.digest === 'string' &&
      digestPattern.test(l.digest) &&
      Number.isSafeInteger(l.size) &&
      l.size >= 0 &&
      l.size <= maxVersionBytes,
  );
  const count = (type: string) => layers.filter((l) => l.mediaType === type).length;
  if (!wellFormed || count(mediaTypes.packed) !== 1 || count(mediaTypes.signature) > 1 || layers.length > 2) {
    throw bad(
      where,
      'layers',
      `expected one ${mediaTypes.packed} layer and at most one ${mediaTypes.signature} layer`,
    );
  }
  return m as Manifest;
}

function identity(contents: VersionContents): { name: string; version: string } {
  const file = contents.files.get('plugin.json');
  const raw = file !== undefined && 'bytes' in file ? safeJson(file.bytes) : undefined;
  if (typeof raw?.name !== 'string' || typeof raw.version !== 'string') {
    throw new PlugbayError(
      'PLUGBAY_MANIFEST_INVALID',
      `${contents.source}: plugin.json has no name and version`,
      {
        details: { source: contents.source },
      },
    );
  }
  return { name: raw.name, version: raw.version };
}

function safeJson(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function bad(
  where: string,
  rule: string,
  message: string,
  extra: Record<string, unknown> = {},
): PlugbayError {
  return new PlugbayError('PLUGBAY_ARTIFACT_INVALID', `${where}: ${message}`, {
    details: { source: where, rule, ...extra },
  });
}
