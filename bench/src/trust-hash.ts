// Verification speed of a 1,000-file, 50 MB plugin beside `sha256sum` over the same files, same run, page cache
// warm for both. Target (issue 6): plugbay hashes at >= 80 % of sha256sum's speed. Prints a markdown table and,
// as the last line, a JSON result. BENCH_QUICK=1 uses 100 files / 5 MB (a smoke run, not figures to quote).
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { listPluginFiles } from '../../packages/plugbay/dist/trust/files.js';
import { createKeyring } from '../../packages/plugbay/dist/trust/keyring.js';
import { signPlugin } from '../../packages/plugbay/dist/trust/sign.js';
import { verifyPlugin } from '../../packages/plugbay/dist/trust/verify.js';

const quick = process.env.BENCH_QUICK === '1';
const fileCount = quick ? 100 : 1000;
const fileSize = 50 * 1024;
const rounds = quick ? 3 : 7;

const dir = await mkdtemp(join(tmpdir(), 'plugbay-bench-hash-'));
try {
  const paths: string[] = [];
  for (let d = 0; d < fileCount / 100; d++) await mkdir(join(dir, `lib${d}`));
  for (let i = 0; i < fileCount; i++) {
    const rel = `lib${Math.floor(i / 100)}/f${i}.js`;
    paths.push(rel);
    await writeFile(join(dir, rel), randomBytes(fileSize));
  }
  await writeFile(
    join(dir, 'plugin.json'),
    JSON.stringify({ name: 'big', version: '1.0.0', runtime: 'node', entry: 'lib0/f0.js', functions: {} }),
  );
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await signPlugin(dir, { privateKey });
  const keyring = createKeyring([{ publicKey }]);

  const sha256sum = () => execFileSync('sha256sum', paths, { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  const time = async (fn: () => unknown) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  sha256sum(); // warm the page cache and both code paths
  await listPluginFiles(dir);
  const samples = { sha256sum: [] as number[], hash: [] as number[], verify: [] as number[] };
  const runs: [keyof typeof samples, () => unknown][] = [
    ['sha256sum', sha256sum],
    ['hash', () => listPluginFiles(dir)],
    [
      'verify',
      async () => {
        const v = await verifyPlugin(dir, { keyring });
        if (v.status !== 'valid') throw new Error(`bench plugin verified as ${v.status}`);
      },
    ],
  ];
  for (let r = 0; r < rounds; r++) {
    // Interleaved, and rotated each round, so that machine noise and order effects hit all three alike.
    for (let k = 0; k < runs.length; k++) {
      const [name, fn] = runs[(r + k) % runs.length]!;
      samples[name].push(await time(fn));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const megabytes = (fileCount * fileSize) / 1024 / 1024;
  const result = {
    files: fileCount,
    megabytes,
    sha256sumMs: median(samples.sha256sum),
    hashMs: median(samples.hash),
    verifyMs: median(samples.verify),
    speedVsSha256sum: median(samples.sha256sum) / median(samples.hash),
    verifySpeedVsSha256sum: median(samples.sha256sum) / median(samples.verify),
  };
  console.log(
    `## Plugin verification: ${fileCount} files, ${megabytes.toFixed(0)} MB (median of ${rounds})\n`,
  );
  console.log('| what | ms | MB/s | speed vs sha256sum |\n| --- | --- | --- | --- |');
  for (const [name, ms] of [
    ['sha256sum (coreutils, one process)', result.sha256sumMs],
    ['plugbay listPluginFiles (hash only)', result.hashMs],
    ['plugbay verifyPlugin (read sig, check, hash, compare)', result.verifyMs],
  ] as const) {
    console.log(
      `| ${name} | ${ms.toFixed(1)} | ${(megabytes / (ms / 1000)).toFixed(0)} | ${(result.sha256sumMs / ms).toFixed(2)} |`,
    );
  }
  console.log(JSON.stringify(result));
} finally {
  await rm(dir, { recursive: true, force: true });
}
