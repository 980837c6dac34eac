// plugbay new, end to end for every language whose toolchain is installed: new → build → plugbay test → sign →
// copy into a served directory → POST /v1/call answers through a gateway whose host requires signatures.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { keygenCommand, signCommand } from '../cli/trust-commands.js';
import { createGateway } from '../gateway/server.js';
import { createHost } from '../host/host.js';
import { repoRoot, runPlugbay } from '../test-support/cli.js';
import { loadKeyring } from '../trust/keyring.js';
import { type Language, scaffold } from './new.js';

const run = promisify(execFile);
const packageDir = join(repoRoot, 'packages/plugbay');

/** Why a language cannot be built here, or undefined when it can. */
function missingToolchain(lang: Language): string | undefined {
  switch (lang) {
    case 'c':
      return existsSync('/usr/bin/clang') && existsSync('/usr/lib/wasm32-wasi/libc.a')
        ? undefined
        : 'clang with wasi-libc';
    case 'rust':
      return existsSync('/usr/bin/rustc') && existsSync('/usr/lib/rustlib/wasm32-unknown-unknown')
        ? undefined
        : 'Debian rustc with libstd-rust-dev-wasm32';
    case 'go':
      return existsSync('/usr/bin/go') &&
        existsSync('/usr/bin/protoc') &&
        existsSync('/usr/share/gocode/src/github.com/hashicorp/go-plugin')
        ? undefined
        : 'go, protoc and golang-github-hashicorp-go-plugin-dev';
    default:
      return undefined;
  }
}

/** What `npm install` would give a project: the SDK, plugbay, and the AssemblyScript toolchain. */
async function fakeInstall(parent: string): Promise<void> {
  const modules = join(parent, 'node_modules');
  await mkdir(join(modules, '@plugbay'), { recursive: true });
  await mkdir(join(modules, '@extism'), { recursive: true });
  await mkdir(join(modules, '.bin'), { recursive: true });
  const from = join(repoRoot, 'node_modules');
  await symlink(join(from, '@plugbay/sdk'), join(modules, '@plugbay/sdk'));
  await symlink(packageDir, join(modules, 'plugbay'));
  await symlink(join(from, '@extism/as-pdk'), join(modules, '@extism/as-pdk'));
  await symlink(join(from, 'assemblyscript'), join(modules, 'assemblyscript'));
  await symlink(join(from, 'assemblyscript/bin/asc.js'), join(modules, '.bin/asc'));
}

async function build(lang: Language, dir: string): Promise<void> {
  if (lang === 'ts') {
    const built = await runPlugbay(['build', dir]);
    assert.equal(built.code, 0, built.stderr);
  } else if (lang === 'assemblyscript') {
    await run('npm', ['run', '-s', 'build'], { cwd: dir });
  } else {
    await run('bash', ['build.sh'], { cwd: dir });
  }
}

/** Input and expected output of each scaffold's greet. */
const greet: Record<Language, { input: unknown; output: unknown }> = {
  ts: { input: { name: 'Ada' }, output: { message: 'Hello, Ada!' } },
  go: { input: { name: 'Ada' }, output: { message: 'Hello, Ada!' } },
  c: { input: 'Ada', output: 'Hello, Ada!' },
  rust: { input: 'Ada', output: 'Hello, Ada!' },
  assemblyscript: { input: 'Ada', output: 'Hello, Ada!' },
};

describe('plugbay new', () => {
  let parent: string;
  let served: string;
  let keys: string;
  let privateKey: string;
  const ready: Language[] = [];

  after(() => rm(parent, { recursive: true, force: true }));

  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'plugbay-new-'));
    served = join(parent, 'served');
    keys = join(parent, 'keys');
    await mkdir(served);
    await mkdir(keys);
    await fakeInstall(parent);
    const made = await keygenCommand({ out: join(keys, 'demo') });
    assert.equal(made.exitCode, 0, made.output);
    privateKey = join(keys, 'demo.key');
  });

  test('refuses a bad name, an existing directory and a tier the language cannot use', async () => {
    await assert.rejects(scaffold({ name: 'Bad_Name', lang: 'ts', parent }), {
      code: 'PLUGBAY_INVALID_ARGUMENT',
    });
    await assert.rejects(scaffold({ name: 'x', lang: 'c', tier: 'thread', parent }), {
      code: 'PLUGBAY_INVALID_ARGUMENT',
    });
    await mkdir(join(parent, 'taken'));
    await assert.rejects(scaffold({ name: 'taken', lang: 'ts', parent }), {
      code: 'PLUGBAY_INVALID_ARGUMENT',
    });
    const cli = await runPlugbay(['new', 'taken', '--lang', 'ts', '--dir', parent]);
    assert.equal(cli.code, 1);
    assert.equal((await runPlugbay(['new', 'ok-name', '--lang', 'cobol', '--dir', parent])).code, 2);
    assert.equal((await runPlugbay(['new', 'ok-name', '--dir', parent])).code, 2);
  });

  test('fills the name, the tier and the .gitignore in; a scoped name makes an unscoped directory', async () => {
    const made = await scaffold({ name: '@acme/fast-one', lang: 'ts', tier: 'inline', parent });
    assert.equal(made.dir, join(parent, 'fast-one'));
    assert.ok(made.files.includes('.gitignore'));
    assert.ok(!made.files.some((f) => f.endsWith('_gitignore')));
    assert.match(await readFile(join(made.dir, 'src/index.ts'), 'utf8'), /name: '@acme\/fast-one'/);
    assert.match(await readFile(join(made.dir, 'test/plugin.test.js'), 'utf8'), /tier: 'inline'/);
    const go = await scaffold({ name: '@acme/go-one', lang: 'go', parent });
    assert.equal(go.tier, 'process');
    assert.match(
      await readFile(join(go.dir, 'main.go'), 'utf8'),
      /plugbay\.dev\/acme-go-one\/gen\/plugbayv1/,
    );
  });

  for (const lang of ['ts', 'c', 'rust', 'assemblyscript', 'go'] as const) {
    const missing = missingToolchain(lang);
    test(`${lang}: new → build → plugbay test → sign`, {
      // CI installs every toolchain (scripts/setup.sh): there a missing one is a failure, not a skip.
      skip: missing && !process.env.CI ? `${missing} not installed` : false,
    }, async () => {
      const name = `hello-${lang}`;
      const made = await runPlugbay(['new', name, '--lang', lang, '--dir', parent]);
      assert.equal(made.code, 0, made.stderr);
      const dir = join(parent, name);
      assert.match(await readFile(join(dir, 'README.md'), 'utf8'), /plugbay sign/);
      await build(lang, dir);
      const tested = await runPlugbay(['test', dir]);
      assert.equal(tested.code, 0, tested.stdout + tested.stderr);
      if (lang === 'ts') {
        // The scaffold's own test (conformance + a call) passes out of the box.
        // (without NODE_TEST_CONTEXT, which would make the child report to this runner instead of stdout).
        const { NODE_TEST_CONTEXT: _, ...env } = process.env;
        const own = await run(process.execPath, ['--test', 'test/'], { cwd: dir, env });
        assert.match(own.stdout, /# pass 2\n# fail 0/);
      }
      const signed = await signCommand({ pluginDir: dir, key: privateKey });
      assert.equal(signed.exitCode, 0, signed.output);
      await cp(dir, join(served, name), {
        recursive: true,
        filter: (src) => !src.includes('node_modules'),
      });
      ready.push(lang);
    });
  }

  test('the signed scaffolds answer POST /v1/call through a gateway that requires signatures', async (t) => {
    if (ready.length === 0 && !process.env.CI) return t.skip('no language was built');
    const host = createHost({
      logger: pino({ level: 'silent' }),
      trust: { signatures: 'required', keyring: await loadKeyring(keys) },
    });
    const gateway = createGateway({ host, port: 0 });
    try {
      const report = await host.loadDirectory(served);
      assert.deepEqual(
        report.diagnostics.filter((d) => d.severity === 'error'),
        [],
      );
      const { url } = await gateway.listen();
      for (const lang of ready) {
        const res = await fetch(`${url}/v1/call/hello-${lang}/greet`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(greet[lang].input),
        });
        assert.equal(res.status, 200, `${lang}: ${await res.clone().text()}`);
        assert.deepEqual(await res.json(), greet[lang].output, lang);
      }
    } finally {
      await gateway.close();
      await host.close();
    }
  });
});
