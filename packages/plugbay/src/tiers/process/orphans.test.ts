// The host is SIGKILLed: within 2 s no plugin process may be left (they die by pdeathsig and bwrap
// --die-with-parent; SDK plugins also watch their parent). A new host removes the socket dirs the dead one left,
// with the sockets of the plugins killed before they could remove them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cleanStaleSocketDirs } from './socket-dir.js';
import { sdkServe, tempRoot } from './test-helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Pids of live processes whose command line mentions `needle` (plugin processes name their temp dir). */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (cmdline.includes(needle) && !/\) Z /.test(stat)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function socketsUnder(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isSocket()) found.push(p);
    }
  };
  walk(dir);
  return found;
}

/** Polls an outside condition (other processes' deaths have no event we can wait on) until it holds or time runs out. */
async function within(ms: number, check: () => boolean): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('host killed with SIGKILL', () => {
  const dirs = tempRoot();
  after(() => dirs.cleanup());

  it('leaves no plugin process after 2 s, and no socket after the next start-up', async () => {
    const helpers = pathToFileURL(path.join(here, 'test-helpers.js')).href;
    const tierUrl = pathToFileURL(path.join(here, 'tier.js')).href;
    const sdkDir = path.resolve(path.dirname(sdkServe), '../..');
    const hostScript = path.join(dirs.root, 'host.mjs');
    fs.writeFileSync(
      hostScript,
      `import { ProcessTier } from ${JSON.stringify(tierUrl)};
import { execHelperPlugin, logSink, nodePlugin, sdkEntry } from ${JSON.stringify(helpers)};
const root = ${JSON.stringify(dirs.root)};
const frames = new ProcessTier({ sdkEntry, socketRoot: root });
const grpc = new ProcessTier({ sdkEntry, socketRoot: root, nodeCarrier: 'grpc' });
const loaded = [
  await frames.load(nodePlugin(root, 'frames-plugin'), logSink().opts()),
  await grpc.load(nodePlugin(root, 'grpc-plugin'), logSink().opts()),
  await frames.load(execHelperPlugin(root, 'ok', { permissions: { fs: { read: [${JSON.stringify(sdkDir)}] } } }), logSink().opts()),
];
for (const i of loaded) await i.start({ signal: new AbortController().signal, config: undefined });
process.stdout.write(JSON.stringify({ pids: loaded.map((i) => i.pid), sdkSockets: loaded.slice(0, 2).map((i) => i.socketPath), dirs: [frames.socketDir, grpc.socketDir] }) + '\\n');
setInterval(() => {}, 1000);
`,
    );
    const host = spawn(process.execPath, [hostScript], { stdio: ['ignore', 'pipe', 'inherit'] });
    const first = await new Promise<string>((resolve, reject) => {
      let buf = '';
      host.stdout.on('data', (c: Buffer) => {
        buf += c.toString();
        if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')));
      });
      host.once('exit', (code) => reject(new Error(`host exited early with ${code}`)));
    });
    const info = JSON.parse(first) as { pids: number[]; sdkSockets: string[]; dirs: string[] };
    assert.equal(processesMentioning(dirs.root).length >= 3, true, 'plugins are running');
    for (const s of info.sdkSockets) assert.ok(fs.existsSync(s));

    const hostGone = new Promise((r) => host.once('exit', r));
    host.kill('SIGKILL');
    await hostGone;
    const t0 = Date.now();
    const clean = await within(2000, () => processesMentioning(dirs.root).length === 0);
    assert.ok(
      clean,
      `left behind: pids ${processesMentioning(dirs.root).join(',')}; sockets ${socketsUnder(dirs.root).join(',')}`,
    );
    assert.ok(Date.now() - t0 <= 2100);

    for (const dir of info.dirs) assert.ok(fs.existsSync(dir));
    const removed = cleanStaleSocketDirs(dirs.root);
    for (const dir of info.dirs) assert.ok(removed.includes(path.basename(dir)));
    assert.deepEqual(socketsUnder(dirs.root), []);
  });
});
