// plugbay push / pull against a real OCI registry (Debian's docker-registry, the CNCF distribution server): the
// round trip, a tampered blob, a swapped signature, an unknown tag, basic auth, plain HTTP only on loopback.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { mediaTypes, pullArtifact, pushPacked, sha256Digest } from '../artifact/oci/artifact.js';
import { resolveCached } from '../artifact/oci/cache.js';
import { createRegistryClient } from '../artifact/oci/client.js';
import { parseOciReference } from '../artifact/oci/reference.js';
import { packVersion } from '../artifact/pack.js';
import { readFolder } from '../artifact/read.js';
import { PlugbayError } from '../core/errors.js';
import { runPlugbay, servePlugbay, waitForLog } from '../test-support/cli.js';
import { manifest, pluginSource, tempDir, writePlugin } from '../test-support/plugins.js';
import { registryAvailable, startRegistry } from '../test-support/registry.js';
import { createKeyring } from '../trust/keyring.js';
import { generateKeys } from '../trust/keys.js';
import { signPlugin } from '../trust/sign.js';

const skip = registryAvailable ? false : 'docker-registry is not installed (scripts/setup.sh installs it)';
const key = generateKeys();
const keyring = createKeyring([{ publicKey: key.publicKeyPem, trust: 'trusted' }]);

/** A signed plugin folder `greeter@<version>` and a keyring directory trusting its key. */
async function signedPlugin(t: TestContext, version = '1.0.0', signed = true) {
  const root = await tempDir(t);
  const dir = await writePlugin(root, `greeter-${version}`, {
    manifest: manifest({ name: 'greeter', version }),
    files: {
      'index.mjs': pluginSource('greeter', version, { echo: `(i) => ({ text: i.text + '@${version}' })` }),
    },
  });
  if (signed) await signPlugin(dir, { privateKey: key.privateKeyPem });
  const keys = join(root, 'keys');
  await mkdir(keys);
  await writeFile(join(keys, 'release.pub'), key.publicKeyPem);
  return { root, dir, keys, packed: await packVersion(await readFolder(dir)) };
}

async function rejectsWith(promise: Promise<unknown>, code: string, details: Record<string, unknown>) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof PlugbayError, String(err));
    assert.equal(err.code, code, err.message);
    for (const [k, v] of Object.entries(details))
      assert.deepEqual(err.details?.[k], v, `details.${k}: ${err.message}`);
    return true;
  });
}

test('push then pull through the CLI: same bytes back, digest-pinned pull, blobs not sent twice', {
  skip,
}, async (t) => {
  const registry = await startRegistry(t);
  const { root, dir, keys, packed } = await signedPlugin(t);
  const target = `oci://${registry.host}/plugins/greeter:1.0.0`;
  const pushed = await runPlugbay(['push', dir, target, '--insecure']);
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stdout, /pushed greeter@1\.0\.0 \(signed; 3 blobs sent, 0 already there\)/);
  const digest = pushed.stdout.trim().split('\n').at(-1)!;
  assert.match(digest, /^sha256:[a-f0-9]{64}$/);

  // The same plugin again (as a packed file this time) under another tag: every blob is already there.
  const file = join(root, 'greeter.plugbay.tgz');
  await writeFile(file, packed);
  const again = await runPlugbay([
    'push',
    file,
    `oci://${registry.host}/plugins/greeter:stable`,
    '--insecure',
  ]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /3 already there/);
  assert.equal(again.stdout.trim().split('\n').at(-1), digest, 'same bytes, same manifest digest');

  for (const ref of [target, `oci://${registry.host}/plugins/greeter@${digest}`]) {
    const out = await tempDir(t);
    const pulled = await runPlugbay(['pull', ref, '--keyring', keys, '--out', out, '--insecure']);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(pulled.stdout.trim().split('\n').at(-1), digest);
    assert.deepEqual(await readFile(join(out, 'greeter@1.0.0.plugbay.tgz')), packed);
    const verified = await runPlugbay(['verify', join(out, 'greeter@1.0.0.plugbay.tgz'), '--keyring', keys]);
    assert.equal(verified.code, 0, verified.stdout);
  }

  // The manifest as stored: plugbay's artifactType, the empty config, the packed file and its signature as layers.
  const client = createRegistryClient(registry.host, { insecure: true });
  const stored = await client.request('GET', `/v2/plugins/greeter/manifests/${digest}`, {
    headers: { accept: mediaTypes.manifest },
  });
  const m = JSON.parse(stored.body.toString('utf8'));
  assert.equal(m.artifactType, mediaTypes.artifact);
  assert.deepEqual(m.config, {
    mediaType: mediaTypes.empty,
    digest: sha256Digest(Buffer.from('{}')),
    size: 2,
  });
  assert.deepEqual(
    m.layers.map((l: { mediaType: string }) => l.mediaType),
    [mediaTypes.packed, mediaTypes.signature],
  );
  assert.equal(m.layers[0].digest, sha256Digest(packed));

  // A pin that is not this manifest's digest (the packed layer's) is refused, and so is an unknown tag: exit 1.
  const wrongPin = await runPlugbay([
    'pull',
    `oci://${registry.host}/plugins/greeter@${m.layers[0].digest}`,
    '--keyring',
    keys,
    '--insecure',
  ]);
  assert.equal(wrongPin.code, 1);
  const unknown = await runPlugbay([
    'pull',
    `oci://${registry.host}/plugins/greeter:9.9.9`,
    '--keyring',
    keys,
    '--insecure',
  ]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /PLUGBAY_REGISTRY_FAILED/);
});

test('an unknown tag or repository is PLUGBAY_REGISTRY_FAILED, rule manifest-unknown', {
  skip,
}, async (t) => {
  const registry = await startRegistry(t);
  const { packed } = await signedPlugin(t);
  await pushPacked(packed, parseOciReference(`oci://${registry.host}/plugins/greeter:1.0.0`), {
    insecure: true,
  });
  for (const ref of [
    `oci://${registry.host}/plugins/greeter:2.0.0`,
    `oci://${registry.host}/nothing/here:1`,
  ]) {
    await rejectsWith(
      pullArtifact(parseOciReference(ref), { insecure: true, keyring }),
      'PLUGBAY_REGISTRY_FAILED',
      {
        rule: 'manifest-unknown',
        status: 404,
        registryCode: 'MANIFEST_UNKNOWN',
      },
    );
  }
});

test('a blob tampered with in the registry storage is refused, naming its digest', { skip }, async (t) => {
  const registry = await startRegistry(t);
  const { packed } = await signedPlugin(t);
  const ref = parseOciReference(`oci://${registry.host}/plugins/greeter:1.0.0`);
  await pushPacked(packed, ref, { insecure: true });
  const layer = sha256Digest(packed);
  // Same length, one byte changed: the registry serves it as it is on disk.
  const tampered = Buffer.from(packed);
  tampered[tampered.length - 10]! ^= 0xff;
  await writeFile(registry.blobPath(layer), tampered);
  await rejectsWith(pullArtifact(ref, { insecure: true, keyring }), 'PLUGBAY_ARTIFACT_INVALID', {
    rule: 'digest-mismatch',
    digest: layer,
    actual: sha256Digest(tampered),
  });
});

test('a swapped signature is refused: in the packed file, or as the signature layer', { skip }, async (t) => {
  const registry = await startRegistry(t);
  const v1 = await signedPlugin(t, '1.0.0');
  const v2 = await signedPlugin(t, '2.0.0');
  const contents = await readFolder(v1.dir);
  const otherSignature = (await readFolder(v2.dir)).signature;

  // 1. The packed file itself carries 2.0.0's signature (the key is good, the plugin is not the one signed).
  const swapped = await packVersion({ ...contents, signature: otherSignature });
  const inside = parseOciReference(`oci://${registry.host}/plugins/greeter:swapped`);
  await pushPacked(swapped, inside, { insecure: true });
  await rejectsWith(pullArtifact(inside, { insecure: true, keyring }), 'PLUGBAY_SIGNATURE_INVALID', {
    rule: 'manifest-mismatch',
  });

  // 2. A manifest written by hand: 1.0.0's packed layer with 2.0.0's signature layer.
  const good = parseOciReference(`oci://${registry.host}/plugins/greeter:1.0.0`);
  await pushPacked(v1.packed, good, { insecure: true });
  await pushPacked(v2.packed, parseOciReference(`oci://${registry.host}/plugins/greeter:2.0.0`), {
    insecure: true,
  });
  const client = createRegistryClient(registry.host, { insecure: true });
  const get = async (tag: string) =>
    JSON.parse(
      (
        await client.request('GET', `/v2/plugins/greeter/manifests/${tag}`, {
          headers: { accept: mediaTypes.manifest },
        })
      ).body.toString('utf8'),
    );
  const [m1, m2] = [await get('1.0.0'), await get('2.0.0')];
  const forged = { ...m1, layers: [m1.layers[0], m2.layers[1]] };
  await client.request('PUT', '/v2/plugins/greeter/manifests/forged', {
    headers: { 'content-type': mediaTypes.manifest },
    body: Buffer.from(JSON.stringify(forged)),
    ok: [201],
  });
  await rejectsWith(
    pullArtifact(parseOciReference(`oci://${registry.host}/plugins/greeter:forged`), {
      insecure: true,
      keyring,
    }),
    'PLUGBAY_SIGNATURE_INVALID',
    { rule: 'signature-layer-mismatch', digest: m2.layers[1].digest },
  );
  // The untouched one still pulls.
  const pulled = await pullArtifact(good, { insecure: true, keyring });
  assert.equal(pulled.verification.status, 'valid');
});

test('an unsigned plugin pulls only with allowUnsigned; a key the keyring lacks never', {
  skip,
}, async (t) => {
  const registry = await startRegistry(t);
  const { packed } = await signedPlugin(t, '1.0.0', false);
  const ref = parseOciReference(`oci://${registry.host}/plugins/greeter:unsigned`);
  const pushed = await pushPacked(packed, ref, { insecure: true });
  assert.equal(pushed.signed, false);
  await rejectsWith(pullArtifact(ref, { insecure: true, keyring }), 'PLUGBAY_SIGNATURE_INVALID', {
    rule: 'signature-missing',
  });
  const pulled = await pullArtifact(ref, { insecure: true, keyring, allowUnsigned: true });
  assert.equal(pulled.verification.status, 'unsigned');

  const signed = await signedPlugin(t, '3.0.0');
  const other = parseOciReference(`oci://${registry.host}/plugins/greeter:3.0.0`);
  await pushPacked(signed.packed, other, { insecure: true });
  await rejectsWith(
    pullArtifact(other, { insecure: true, keyring: createKeyring([]), allowUnsigned: true }),
    'PLUGBAY_SIGNATURE_INVALID',
    { rule: 'key-unknown' },
  );
});

test('basic auth: refused without or with wrong credentials, push and pull with them', {
  skip,
}, async (t) => {
  const registry = await startRegistry(t, { users: { ci: 's3cret' } });
  const { packed } = await signedPlugin(t);
  const ref = parseOciReference(`oci://${registry.host}/plugins/greeter:1.0.0`);
  await rejectsWith(pushPacked(packed, ref, { insecure: true }), 'PLUGBAY_REGISTRY_FAILED', {
    rule: 'unauthorized',
    status: 401,
  });
  await rejectsWith(
    pushPacked(packed, ref, { insecure: true, credentials: { username: 'ci', password: 'wrong' } }),
    'PLUGBAY_REGISTRY_FAILED',
    { rule: 'unauthorized', status: 401 },
  );
  const credentials = { username: 'ci', password: 's3cret' };
  const pushed = await pushPacked(packed, ref, { insecure: true, credentials });
  const pulled = await pullArtifact(
    parseOciReference(`oci://${registry.host}/plugins/greeter@${pushed.digest}`),
    {
      insecure: true,
      credentials,
      keyring,
    },
  );
  assert.deepEqual(pulled.packed, packed);
});

test('bearer tokens: the challenge sends the client to the token server, with the credentials', {
  skip,
}, async (t) => {
  const registry = await startRegistry(t, { users: { ci: 's3cret' }, auth: 'token' });
  const { packed } = await signedPlugin(t);
  const ref = parseOciReference(`oci://${registry.host}/plugins/greeter:1.0.0`);
  // Without credentials the token server says no: refused at the token endpoint, before any blob is sent.
  await rejectsWith(pushPacked(packed, ref, { insecure: true }), 'PLUGBAY_REGISTRY_FAILED', {
    rule: 'token-refused',
    status: 401,
  });
  const credentials = { username: 'ci', password: 's3cret' };
  const pushed = await pushPacked(packed, ref, { insecure: true, credentials });
  const pulled = await pullArtifact(ref, { insecure: true, credentials, keyring });
  assert.equal(pulled.digest, pushed.digest);
  assert.deepEqual(pulled.packed, packed);
  // Push asked for push+pull on the repository, the pull for pull only; every token went to the user "ci".
  // (The registry lists the actions in no fixed order: sorted here.)
  const scopes = new Set(
    registry.tokenRequests
      .filter((r) => r.user === 'ci')
      .map((r) => r.scope?.replace(/[^:]+$/, (actions) => actions.split(',').sort().join(','))),
  );
  assert.ok(scopes.has('repository:plugins/greeter:pull'), [...scopes].join(' '));
  assert.ok(scopes.has('repository:plugins/greeter:pull,push'), [...scopes].join(' '));
});

test('references and transport: the oci:// grammar, HTTPS unless --insecure on loopback', {
  skip,
}, async (t) => {
  const bad = (text: string, rule: string) =>
    assert.throws(
      () => parseOciReference(text),
      (err: unknown) =>
        err instanceof PlugbayError && err.code === 'PLUGBAY_INVALID_ARGUMENT' && err.details?.rule === rule,
      text,
    );
  bad('https://r/x:1', 'scheme');
  bad('oci://r', 'repository');
  bad('oci://r/Upper:1', 'repository');
  bad('oci://r/x:-bad', 'tag');
  bad('oci://r/x@sha256:abc', 'digest');
  assert.deepEqual(parseOciReference('oci://[::1]:5000/a/b-c@sha256:' + 'a'.repeat(64)), {
    registry: '[::1]:5000',
    repository: 'a/b-c',
    tag: undefined,
    digest: `sha256:${'a'.repeat(64)}`,
  });
  assert.throws(
    () => createRegistryClient('registry.example.com', { insecure: true }),
    (err: unknown) => err instanceof PlugbayError && err.details?.rule === 'loopback-only',
  );
  // The real registry speaks plain HTTP: without --insecure plugbay speaks TLS to it and fails to connect.
  const registry = await startRegistry(t);
  const { keys } = await signedPlugin(t);
  const refused = await runPlugbay([
    'pull',
    `oci://${registry.host}/plugins/greeter:1.0.0`,
    '--keyring',
    keys,
  ]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /PLUGBAY_REGISTRY_FAILED/);
});

test('the pull cache: tags re-resolved, digests not asked again, the cached digest while the registry is down', {
  skip,
}, async (t) => {
  const registry = await startRegistry(t);
  const v1 = await signedPlugin(t, '1.0.0');
  const v2 = await signedPlugin(t, '2.0.0');
  const dir = join(await tempDir(t), 'oci-cache');
  const options = { dir, keyring, insecure: true };
  const stable = parseOciReference(`oci://${registry.host}/plugins/greeter:stable`);
  const pushed = await pushPacked(v1.packed, stable, { insecure: true });
  const pinnedV2 = await pushPacked(
    v2.packed,
    parseOciReference(`oci://${registry.host}/plugins/greeter:2.0.0`),
    {
      insecure: true,
    },
  );
  const pinned = parseOciReference(`oci://${registry.host}/plugins/greeter@${pinnedV2.digest}`);

  const first = await resolveCached(stable, options);
  assert.deepEqual([first.from, first.digest], ['registry', pushed.digest]);
  assert.deepEqual(await readFile(first.file), v1.packed);
  assert.equal((await resolveCached(pinned, options)).from, 'registry');

  // A tampered blob in the registry is refused, and does not fall back to the cache: only an absent registry does.
  await pushPacked(v2.packed, stable, { insecure: true });
  const tampered = Buffer.from(v2.packed);
  tampered[100]! ^= 0xff;
  await writeFile(registry.blobPath(sha256Digest(v2.packed)), tampered);
  await rejectsWith(resolveCached(stable, options), 'PLUGBAY_ARTIFACT_INVALID', { rule: 'digest-mismatch' });

  await registry.stop();
  const down = await resolveCached(stable, options);
  assert.deepEqual(
    [down.from, down.digest, down.registryError?.code],
    ['cache', pushed.digest, 'PLUGBAY_REGISTRY_FAILED'],
  );
  assert.deepEqual(await readFile(down.file), v1.packed);
  const again = await resolveCached(pinned, options);
  assert.deepEqual([again.from, again.registryError], ['cache', undefined]);

  // A cached copy changed on disk is refused, never served.
  await writeFile(down.file, tampered);
  await rejectsWith(resolveCached(stable, options), 'PLUGBAY_ARTIFACT_INVALID', { rule: 'digest-mismatch' });
  // Neither cached nor reachable: the registry's failure itself.
  await rejectsWith(
    resolveCached(parseOciReference(`oci://${registry.host}/plugins/other:1`), options),
    'PLUGBAY_REGISTRY_FAILED',
    { rule: 'unreachable' },
  );
});

test('serve --source: a gateway that never saw the folder serves the pushed plugin, and again with the registry stopped', {
  skip,
}, async (t) => {
  const registry = await startRegistry(t);
  const { root, keys, packed } = await signedPlugin(t);
  const pushed = await pushPacked(
    packed,
    parseOciReference(`oci://${registry.host}/plugins/greeter:stable`),
    {
      insecure: true,
    },
  );
  const empty = join(root, 'no-plugins');
  await mkdir(empty);
  const state = join(root, 'state', 'state.db');
  // A second source whose layer was tampered with in the registry: refused, and the gateway serves the rest
  // (a call pinned to its version finds no instance).
  const v2 = await signedPlugin(t, '2.0.0');
  await pushPacked(v2.packed, parseOciReference(`oci://${registry.host}/plugins/greeter:tampered`), {
    insecure: true,
  });
  const tampered = Buffer.from(v2.packed);
  tampered[100]! ^= 0xff;
  await writeFile(registry.blobPath(sha256Digest(v2.packed)), tampered);
  const args = [
    ...['--source', `oci://${registry.host}/plugins/greeter:stable`],
    ...['--source', `oci://${registry.host}/plugins/greeter:tampered`],
    ...['--registry-insecure', '--keyring', keys],
  ];
  const call = async (url: string, version?: string) => {
    const res = await fetch(`${url}/v1/call/greeter/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(version ? { 'x-plugbay-version': version } : {}) },
      body: JSON.stringify({ text: 'hi' }),
    });
    return [res.status, await res.json()];
  };
  const first = await servePlugbay(t, empty, args, state);
  assert.deepEqual(await call(first.url), [200, { text: 'hi@1.0.0' }]);
  const [status, body] = await call(first.url, '2.0.0');
  assert.deepEqual([status, (body as { error: { code: string } }).error.code], [503, 'PLUGBAY_NO_INSTANCE']);
  first.child.kill('SIGTERM');
  await new Promise((resolve) => first.child.once('exit', resolve));

  await registry.stop();
  const second = await servePlugbay(t, empty, args, state);
  assert.deepEqual(await call(second.url), [200, { text: 'hi@1.0.0' }]);
  const cached = await readFile(
    join(root, 'state', 'oci', `${pushed.digest.slice('sha256:'.length)}.plugbay.tgz`),
  );
  assert.deepEqual(cached, packed);
});

test('serve --source polls its tag: a new digest is pulled and rolled out like a new folder version', {
  skip,
}, async (t) => {
  const registry = await startRegistry(t);
  const v1 = await signedPlugin(t, '1.0.0');
  const v2 = await signedPlugin(t, '2.0.0');
  const stable = parseOciReference(`oci://${registry.host}/plugins/greeter:stable`);
  await pushPacked(v1.packed, stable, { insecure: true });
  const empty = join(v1.root, 'no-plugins');
  await mkdir(empty);
  const source = `oci://${registry.host}/plugins/greeter:stable`;
  const args = ['--source', source, '--registry-insecure', '--keyring', v1.keys, '--rollout', 'activate'];
  const { child, url } = await servePlugbay(
    t,
    empty,
    [...args, '--source-poll-ms', '100'],
    join(v1.root, 'state.db'),
  );
  const echo = async () => {
    const res = await fetch(`${url}/v1/call/greeter/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hi' }),
    });
    return (await res.json()) as { text: string };
  };
  assert.deepEqual(await echo(), { text: 'hi@1.0.0' });
  const rolledOut = waitForLog(child, (l) => String(l.msg).startsWith('watcher: rollout activate'));
  await pushPacked(v2.packed, stable, { insecure: true });
  const line = await rolledOut;
  assert.match(
    String(line.msg),
    new RegExp(`new version 2\\.0\\.0 found in ${source.replace(/[.:/]/g, '\\$&')}`),
  );
  assert.deepEqual(await echo(), { text: 'hi@2.0.0' });
});
