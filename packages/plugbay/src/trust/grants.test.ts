import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PlugbayError } from '../core/errors.js';
import type { Permissions } from '../core/manifest-schema.js';
import { capabilitiesFor, checkCapability, checkGrants, decideGrants } from './grants.js';

async function pluginDir(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'plugbay-grants-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'data'));
  await symlink('/etc', join(dir, 'etc-link'));
  return dir;
}

const everything: Permissions = {
  fs: { read: ['/etc'], write: ['/var/tmp'], mounts: [{ host: '/etc', guest: '/etc', readOnly: true }] },
  env: ['HOME'],
  net: ['api.example.com:443'],
  childProcess: true,
  memoryMb: 64,
};

describe('decideGrants', () => {
  test('trusted gets what it asks for', async (t) => {
    const dir = await pluginDir(t);
    assert.deepEqual(decideGrants({ permissions: everything, dir, level: 'trusted', capabilities: [] }), {
      granted: everything,
      denied: [],
    });
  });

  for (const level of ['community', 'unsigned'] as const) {
    test(`${level}: nothing outside its folder, no env, net or child processes; memoryMb is a limit`, async (t) => {
      const dir = await pluginDir(t);
      const d = decideGrants({ permissions: everything, dir, level, capabilities: [] });
      assert.deepEqual(
        d.denied.map((x) => [x.field, x.capability]),
        [
          ['permissions.fs.read.0', 'fs.read:/etc'],
          ['permissions.fs.write.0', 'fs.write:/var/tmp'],
          ['permissions.fs.mounts.0', 'fs.read:/etc'],
          ['permissions.env.0', 'env:HOME'],
          ['permissions.net.0', 'net:api.example.com:443'],
          ['permissions.childProcess', 'childProcess'],
        ],
      );
      assert.deepEqual(d.granted, {
        fs: { read: [], write: [], mounts: [] },
        env: [],
        net: [],
        memoryMb: 64,
      });
    });
  }

  test('paths inside its own folder need no grant; a symlink out of it does', async (t) => {
    const dir = await pluginDir(t);
    const permissions: Permissions = {
      fs: {
        read: ['data', join(dir, 'data/x')],
        write: ['./data'],
        mounts: [{ host: 'etc-link', guest: '/e' }],
      },
    };
    const d = decideGrants({ permissions, dir, level: 'unsigned', capabilities: [] });
    assert.deepEqual(
      d.denied.map((x) => [x.field, x.capability]),
      [['permissions.fs.mounts.0', 'fs.write:/etc']],
    );
    // Granted paths are the real, absolute paths decided on: the tiers use those, never the request again.
    assert.deepEqual(d.granted.fs?.read, [join(dir, 'data'), join(dir, 'data/x')]);
    assert.deepEqual(d.granted.fs?.write, [join(dir, 'data')]);
  });

  test('granted paths are the real paths decided on, symlinks resolved, at every level', async (t) => {
    const dir = await pluginDir(t);
    const permissions: Permissions = { fs: { mounts: [{ host: 'etc-link', guest: '/e', readOnly: true }] } };
    for (const [level, capabilities] of [
      ['trusted', []],
      ['unsigned', ['fs.read:/etc']],
    ] as const) {
      const d = decideGrants({ permissions, dir, level, capabilities });
      assert.deepEqual(d.granted.fs?.mounts, [{ host: '/etc', guest: '/e', readOnly: true }]);
    }
  });

  test('grants cover what they name: a directory covers what is below it, write covers read, names match exactly', async (t) => {
    const dir = await pluginDir(t);
    const capabilities = [
      'fs.write:/etc',
      'fs.read:/var',
      'env:HOME',
      'net:api.example.com:443',
      'childProcess',
    ];
    const d = decideGrants({
      permissions: {
        fs: { read: ['/etc/ssl'], write: ['/var/tmp'], mounts: [{ host: '/etc', guest: '/etc' }] },
        env: ['HOME', 'PATH'],
        net: ['api.example.com:443', 'api.example.com'],
        childProcess: true,
      },
      dir,
      level: 'community',
      capabilities,
    });
    assert.deepEqual(
      d.denied.map((x) => x.capability),
      ['fs.write:/var/tmp', 'env:PATH', 'net:api.example.com'],
    );
    assert.deepEqual(d.granted.env, ['HOME']);
    assert.equal(d.granted.childProcess, true);
    // A grant of /et does not cover /etc.
    const near = decideGrants({
      permissions: { fs: { read: ['/etc'] } },
      dir,
      level: 'unsigned',
      capabilities: ['fs.read:/et'],
    });
    assert.equal(near.denied.length, 1);
  });
});

describe('checkGrants and checkCapability', () => {
  test('a good file is normalised; rules apply by name and version range', () => {
    const rules = checkGrants({
      grants: [
        { plugin: 'reader', versions: '^1.0.0', capabilities: ['fs.read:/etc/../etc', 'env:HOME'] },
        { plugin: '@acme/net', capabilities: ['net:api.example.com', 'childProcess'] },
      ],
    });
    assert.deepEqual(rules[0]?.capabilities, ['fs.read:/etc', 'env:HOME']);
    assert.deepEqual(capabilitiesFor(rules, 'reader', '1.2.0-beta.1'), ['fs.read:/etc', 'env:HOME']);
    assert.deepEqual(capabilitiesFor(rules, 'reader', '2.0.0'), []);
    assert.deepEqual(capabilitiesFor(rules, '@acme/net', '0.1.0'), ['net:api.example.com', 'childProcess']);
  });

  test('every bad field is PLUGBAY_INVALID_ARGUMENT naming it and the rule', () => {
    const cases: [unknown, string, string][] = [
      [[], '(root)', 'type'],
      [{ grant: [] }, 'grant', 'additional-property'],
      [{ grants: {} }, 'grants', 'type'],
      [{ grants: ['x'] }, 'grants.0', 'type'],
      [{ grants: [{ plugin: 'Reader', capabilities: ['env:HOME'] }] }, 'grants.0.plugin', 'pattern'],
      [
        { grants: [{ plugin: 'r', versions: 'one', capabilities: ['env:HOME'] }] },
        'grants.0.versions',
        'semver-range',
      ],
      [{ grants: [{ plugin: 'r', capabilities: [] }] }, 'grants.0.capabilities', 'type'],
      [
        { grants: [{ plugin: 'r', capabilities: ['env:HOME', 'fs.read:etc'] }] },
        'grants.0.capabilities.1',
        'absolute-path',
      ],
      [{ grants: [{ plugin: 'r', capabilities: ['env:1X'] }] }, 'grants.0.capabilities.0', 'env-name'],
      [{ grants: [{ plugin: 'r', capabilities: ['net:'] }] }, 'grants.0.capabilities.0', 'net-host'],
      [{ grants: [{ plugin: 'r', capabilities: ['root'] }] }, 'grants.0.capabilities.0', 'capability'],
      [
        { grants: [{ plugin: 'r', capabilities: ['env:HOME'], level: 'trusted' }] },
        'grants.0.level',
        'additional-property',
      ],
    ];
    for (const [value, field, rule] of cases) {
      assert.throws(
        () => checkGrants(value),
        (e: unknown) =>
          e instanceof PlugbayError &&
          e.code === 'PLUGBAY_INVALID_ARGUMENT' &&
          e.details?.field === field &&
          e.details?.rule === rule,
        JSON.stringify(value),
      );
    }
    assert.equal(checkCapability('childProcess'), 'childProcess');
  });
});
