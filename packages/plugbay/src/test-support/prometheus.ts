// A real Prometheus (Debian's `prometheus` binary, installed by scripts/setup.sh) for tests: started on a free
// loopback port with a temporary data directory, scraping the given targets every 250 ms.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './postgres.js';

export const prometheusBin = '/usr/bin/prometheus';

/** Why Prometheus tests cannot run here, or undefined when they can. */
export async function prometheusSkipReason(): Promise<string | undefined> {
  try {
    await access(prometheusBin);
    return undefined;
  } catch {
    return `${prometheusBin} is not installed (scripts/setup.sh installs Debian's prometheus)`;
  }
}

export interface TestPrometheus {
  readonly url: string;
  /** Runs an instant query; the JSON answer. */
  query(promql: string): Promise<{ status: string; data?: { resultType: string; result: unknown } }>;
  /**
   * Resolves once `promql` has one sample whose value satisfies `ok` (each scrape may bring it; it is asked again
   * after each answer, up to `timeoutMs`).
   */
  until(promql: string, ok: (value: number) => boolean, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

export async function startTestPrometheus(targets: string[]): Promise<TestPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'plugbay-prom-'));
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 250ms',
    '  scrape_timeout: 200ms',
    'scrape_configs:',
    '  - job_name: plugbay',
    `    static_configs: [{ targets: ${JSON.stringify(targets)} }]`,
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), config);
  const child: ChildProcess = spawn(
    prometheusBin,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const query = async (promql: string) => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    return (await res.json()) as { status: string; data?: { resultType: string; result: unknown } };
  };
  // Ready when its HTTP API answers (it opens the TSDB first).
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not get ready in 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100)); // polling a process we do not control; not a test's sync point
  }
  return {
    url,
    query,
    async until(promql, ok, timeoutMs = 20_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const body = await query(promql);
        const result = body.data?.result as { value: [number, string] }[] | undefined;
        const value = Array.isArray(result) && result.length === 1 ? Number(result[0]!.value[1]) : Number.NaN;
        if (ok(value)) return value;
        if (Date.now() > end) throw new Error(`${promql} never satisfied the test: ${JSON.stringify(body)}`);
        await new Promise((r) => setTimeout(r, 100)); // the next scrape, every 250 ms
      }
    },
    stop,
  };
}
