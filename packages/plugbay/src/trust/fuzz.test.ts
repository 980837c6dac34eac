// Seeded fuzzing of the two parsers that read hostile input at load time: the signature file (through the whole
// verification path, files pre-listed) and plugin.json (through validateManifest, then snapshot + contract diff).
// Set PLUGBAY_FUZZ_SEED to replay another run; a failure prints the seed and case number.
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { diffSnapshots } from '../contract/gate.js';
import { checkImplements } from '../contract/implements.js';
import { snapshotOf } from '../contract/snapshot.js';
import { validateManifest } from '../core/manifest.js';
import { canonicalJson } from './canonical.js';
import { listPluginFiles, signatureFileName } from './files.js';
import { tempDir, writePlugin } from './fixtures.test.shared.js';
import { createKeyring } from './keyring.js';
import { signPlugin } from './sign.js';
import { type VerificationStatus, verifySignatureText } from './verify.js';

const seed = Number(process.env.PLUGBAY_FUZZ_SEED ?? 0x5eed);
const cases = 10_000;
const maxCaseMs = 2_000; // generous for a shared 2-core machine; a hang would be far above it

/** mulberry32: tiny, fast, good enough to pick mutations reproducibly. */
function prng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutator(random: () => number) {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const alphabet = '{}[]":,0123456789-+.eE truefalsn\\u00"/\n\t\0é😀abcdef';
  const randomValue = (depth = 0): unknown => {
    switch (int(depth > 3 ? 6 : 9)) {
      case 0:
        return null;
      case 1:
        return random() < 0.5;
      case 2:
        return pick([0, -1, 1e308, -1e-308, 2 ** 53 + 1, 0.5, Number.MAX_SAFE_INTEGER]);
      case 3:
        return pick([
          '',
          'x'.repeat(int(5000)),
          '../../etc/passwd',
          '\0',
          '__proto__',
          'é😀',
          '{"a":1}',
          '1.0.0',
        ]);
      case 4:
        return '0'.repeat(pick([16, 64, 86]));
      case 5:
        return pick(['string', 'object', 'integer', '^(a+)+$', 'a'.repeat(86) + '==']);
      case 6:
        return Array.from({ length: int(4) }, () => randomValue(depth + 1));
      case 7:
        return Object.fromEntries(
          Array.from({ length: int(4) }, () => [
            pick(['__proto__', 'constructor', 'type', '$ref', 'x', 'required']),
            randomValue(depth + 1),
          ]),
        );
      default: {
        let v: unknown = 1;
        for (let i = 0; i < int(3000); i++) v = pick([[v], { a: v }]);
        return v;
      }
    }
  };
  const paths = (v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []) => {
    out.push(prefix);
    if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) paths(x, [...prefix, Array.isArray(v) ? Number(k) : k], out);
    }
    return out;
  };
  const structural = (text: string): string => {
    const doc = JSON.parse(text) as unknown;
    const all = paths(doc);
    const path = pick(all);
    if (path.length === 0) return JSON.stringify(randomValue());
    let parent = doc as Record<string | number, unknown>;
    for (const seg of path.slice(0, -1)) parent = parent[seg] as Record<string | number, unknown>;
    const last = path[path.length - 1]!;
    const op = int(4);
    if (op === 0 && !Array.isArray(parent)) delete parent[last];
    else if (op === 1 && Array.isArray(parent)) parent.splice(Number(last), 1);
    else if (op === 2 && !Array.isArray(parent))
      Object.defineProperty(parent, pick(['__proto__', 'extra', 'files', '$ref']), {
        value: randomValue(),
        enumerable: true,
      });
    else parent[last] = randomValue();
    return JSON.stringify(doc, null, pick([0, 2]));
  };
  const textual = (text: string): string => {
    const at = int(text.length + 1);
    switch (int(7)) {
      case 0:
        return text.slice(0, at); // truncate
      case 1:
        return text.slice(0, at) + text.slice(at + 1 + int(20));
      case 2:
        return (
          text.slice(0, at) +
          Array.from({ length: 1 + int(8) }, () => pick([...alphabet])).join('') +
          text.slice(at)
        );
      case 3: {
        const ch = text.charCodeAt(at) ^ (1 << int(7));
        return text.slice(0, at) + String.fromCharCode(ch) + text.slice(at + 1);
      }
      case 4: {
        const len = int(200);
        return text.slice(0, at) + text.slice(at, at + len) + text.slice(at);
      }
      case 5:
        return text.replace(/[0-9a-f]/g, (c) => (random() < 0.01 ? pick([...'0123456789abcdef']) : c));
      default:
        return text.replace(/\s+/g, ''); // harmless reformatting: must stay valid
    }
  };
  return (text: string): string => {
    let out = text;
    for (let i = 0, n = 1 + int(3); i < n; i++) {
      try {
        out = random() < 0.5 ? structural(out) : textual(out);
      } catch {
        out = textual(out); // not JSON any more: keep mutating the text
      }
    }
    return out;
  };
}

async function fixture() {
  // A fixed key and time make the signature file byte-identical on every run, so a seed replays exactly.
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, 7)]);
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  await using dir = await tempDir('fuzz');
  await writePlugin(dir.path);
  await signPlugin(dir.path, { privateKey, signedAt: new Date(Date.UTC(2026, 0, 1)) });
  return {
    keyring: createKeyring([{ publicKey: createPublicKey(privateKey) }]),
    signature: await readFile(join(dir.path, signatureFileName), 'utf8'),
    manifest: await readFile(join(dir.path, 'plugin.json'), 'utf8'),
    listing: await listPluginFiles(dir.path),
  };
}

const fx = await fixture();
const originalDocument = canonicalJson(JSON.parse(fx.signature));
const statuses = new Set<VerificationStatus>(['valid', 'invalid', 'modified', 'unsigned']);

describe(`fuzz (seed ${seed}, ${cases} cases each)`, () => {
  it('mutated signature files always verify to a status with reasons; nothing throws or hangs', async (t) => {
    const mutate = mutator(prng(seed));
    const seen: Record<string, number> = {};
    const rules: Record<string, number> = {};
    let slowest = 0;
    for (let i = 0; i < cases; i++) {
      const text = mutate(fx.signature);
      const started = performance.now();
      const v = await verifySignatureText(text, {
        keyring: fx.keyring,
        manifest: { name: 'greeter', version: '1.0.0' },
        files: async () => fx.listing,
      }).catch((err: unknown) => assert.fail(`case ${i} (seed ${seed}) threw: ${err}`));
      slowest = Math.max(slowest, performance.now() - started);
      assert.ok(statuses.has(v.status), `case ${i}: status ${v.status}`);
      if (v.status === 'valid') {
        assert.deepEqual(v.reasons, []);
        // Only a mutation that left the document's meaning intact (reformatting, a no-op edit) may still verify.
        assert.equal(
          canonicalJson(JSON.parse(text)),
          originalDocument,
          `case ${i}: a changed document verified`,
        );
      } else {
        assert.ok(v.reasons.length > 0, `case ${i}: ${v.status} without a reason`);
        for (const r of v.reasons) assert.ok(typeof r.rule === 'string' && typeof r.message === 'string');
      }
      seen[v.status] = (seen[v.status] ?? 0) + 1;
      for (const r of v.reasons) rules[r.rule] = (rules[r.rule] ?? 0) + 1;
    }
    assert.ok(slowest < maxCaseMs, `slowest case took ${slowest} ms`);
    // The mutations must reach past the JSON parser, or the fuzz proves little.
    t.diagnostic(
      `statuses: ${JSON.stringify(seen)}, rules: ${JSON.stringify(rules)}, slowest ${slowest.toFixed(1)} ms`,
    );
    // manifest-mismatch needs a good signature for another name, which a mutation cannot forge.
    for (const rule of ['signature-malformed', 'signature-bad', 'key-unknown']) {
      assert.ok((rules[rule] ?? 0) > 0, `no mutation reached ${rule}: ${JSON.stringify(rules)}`);
    }
    assert.ok((seen.invalid ?? 0) > cases / 2 && (seen.valid ?? 0) > 0, JSON.stringify(seen));
  });

  it('mutated plugin.json files are accepted or rejected with field and rule; accepted ones diff without throwing', (t) => {
    const mutate = mutator(prng(seed + 1));
    const original = validateManifest(JSON.parse(fx.manifest));
    assert.ok('manifest' in original);
    let accepted = 0;
    let slowest = 0;
    for (let i = 0; i < cases; i++) {
      const text = mutate(fx.manifest);
      const started = performance.now();
      const outcome = checkManifestText(text);
      if (outcome.code === undefined) {
        accepted++;
        const before = snapshotOf(original.manifest);
        const after = snapshotOf(outcome.manifest);
        for (const c of diffSnapshots(before, after).changes) {
          assert.ok(
            ['breaking', 'compatible', 'unknown'].includes(c.verdict),
            `case ${i}: verdict ${c.verdict}`,
          );
        }
        checkImplements(before, after);
      } else {
        assert.equal(outcome.code, 'PLUGBAY_MANIFEST_INVALID');
        assert.ok(outcome.problems.length > 0, `case ${i}: rejected without a problem`);
        for (const p of outcome.problems) {
          assert.ok(
            typeof p.field === 'string' && typeof p.rule === 'string' && typeof p.message === 'string',
          );
        }
      }
      slowest = Math.max(slowest, performance.now() - started);
    }
    assert.ok(slowest < maxCaseMs, `slowest case took ${slowest} ms`);
    t.diagnostic(`accepted ${accepted}, slowest ${slowest.toFixed(1)} ms`);
    assert.ok(accepted > 0 && accepted < cases, `accepted ${accepted}`);
  });
});

/** What the host does with a plugin.json text: JSON, then the manifest rules; a rejection carries a code. */
function checkManifestText(text: string):
  | {
      code: undefined;
      manifest: Extract<ReturnType<typeof validateManifest>, { manifest: unknown }>['manifest'];
    }
  | { code: 'PLUGBAY_MANIFEST_INVALID'; problems: { field: string; rule: string; message: string }[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return {
      code: 'PLUGBAY_MANIFEST_INVALID',
      problems: [{ field: 'plugin.json', rule: 'json', message: String(err) }],
    };
  }
  const result = validateManifest(raw);
  return 'manifest' in result
    ? { code: undefined, manifest: result.manifest }
    : { code: 'PLUGBAY_MANIFEST_INVALID', problems: result.problems };
}
