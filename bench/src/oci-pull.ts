// The cost of a cold `plugbay pull` from a loopback registry (Debian's docker-registry) beside a raw `fetch` of the
// same layer blob, same run: pull = manifest GET + two blob GETs, sha256 of each, gunzip + tar parse, signature
// verification. A 32 MiB plugin of random bytes (incompressible, so the layer is ~32 MiB too); median of 7,
// interleaved. Prints a markdown table and, as the last line, a JSON result. BENCH_QUICK=1: 4 MiB, 3 rounds.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pullArtifact, pushPacked, sha256Digest } from '../../packages/plugbay/dist/artifact/oci/artifact.js';
import { parseOciReference } from '../../packages/plugbay/dist/artifact/oci/reference.js';
import { packVersion } from '../../packages/plugbay/dist/artifact/pack.js';
import { readFolder } from '../../packages/plugbay/dist/artifact/read.js';
import { startRegistry } from '../../packages/plugbay/dist/test-support/registry.js';
import { createKeyring } from '../../packages/plugbay/dist/trust/keyring.js';
import { signPlugin } from '../../packages/plugbay/dist/trust/sign.js';

const quick = process.env.BENCH_QUICK === '1';
const bytes = (quick ? 4 : 32) * 1024 * 1024;
const rounds = quick ? 3 : 7;

const dir = await mkdtemp(join(tmpdir(), 'plugbay-bench-oci-'));
const registry = await startRegistry(undefined);
try {
  await writeFile(
    join(dir, 'plugin.json'),
    JSON.stringify({
      name: 'big',
      version: '1.0.0',
      runtime: 'node',
      entry: 'index.js',
      functions: {},
      files: ['blob.bin'],
    }),
  );
  await writeFile(join(dir, 'index.js'), 'export default {};\n');
  await writeFile(join(dir, 'blob.bin'), randomBytes(bytes));
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await signPlugin(dir, { privateKey });
  const keyring = createKeyring([{ publicKey }]);
  const packed = await packVersion(await readFolder(dir));
  const ref = parseOciReference(`oci://${registry.host}/bench/big:1.0.0`);
  await pushPacked(packed, ref, { insecure: true });
  const blobUrl = `http://${registry.host}/v2/bench/big/blobs/${sha256Digest(packed)}`;

  const raw = async () => {
    const body = Buffer.from(await (await fetch(blobUrl)).arrayBuffer());
    if (body.length !== packed.length) throw new Error('short blob');
  };
  const pull = async () => {
    const pulled = await pullArtifact(ref, { insecure: true, keyring });
    if (pulled.verification.status !== 'valid') throw new Error(pulled.verification.status);
  };
  await raw();
  await pull();
  const samples = { raw: [] as number[], pull: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of r % 2 === 0
      ? ([
          ['raw', raw],
          ['pull', pull],
        ] as const)
      : ([
          ['pull', pull],
          ['raw', raw],
        ] as const)) {
      const t0 = performance.now();
      await fn();
      samples[name].push(performance.now() - t0);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const mb = packed.length / 1024 / 1024;
  const result = {
    megabytes: mb,
    rawMs: median(samples.raw),
    pullMs: median(samples.pull),
    rawMBps: mb / (median(samples.raw) / 1000),
    pullMBps: mb / (median(samples.pull) / 1000),
    pullSpeedVsRawFetch: median(samples.raw) / median(samples.pull),
  };
  console.log(`## Cold pull from a loopback registry: ${mb.toFixed(1)} MiB layer (median of ${rounds})\n`);
  console.log('| what | ms | MiB/s |\n| --- | --- | --- |');
  console.log(`| raw fetch of the layer blob | ${result.rawMs.toFixed(1)} | ${result.rawMBps.toFixed(0)} |`);
  console.log(`| plugbay pull (verified) | ${result.pullMs.toFixed(1)} | ${result.pullMBps.toFixed(0)} |`);
  console.log(`\npull speed vs raw fetch: ${(result.pullSpeedVsRawFetch * 100).toFixed(0)} %`);
  console.log(JSON.stringify(result));
} finally {
  await registry.stop();
  await rm(dir, { recursive: true, force: true });
}
