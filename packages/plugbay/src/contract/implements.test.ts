import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDeclaredContracts, checkImplements } from './implements.js';
import type { ContractSnapshot } from './snapshot.js';

const images: ContractSnapshot = {
  name: 'images',
  version: '1.2.0',
  functions: {
    resize: {
      input: {
        type: 'object',
        properties: { w: { type: 'integer', minimum: 1, maximum: 4096 } },
        required: ['w'],
      },
      output: {
        type: 'object',
        properties: { url: { type: 'string' } },
        required: ['url'],
        additionalProperties: false,
      },
    },
    info: {
      input: { type: 'object' },
      output: { type: 'object', properties: { size: { type: 'integer' } } },
    },
  },
};

const fn = images.functions;

describe('contracts at load (implements)', () => {
  it('a plugin with the same schemas, or wider inputs and narrower outputs, implements the contract', () => {
    assert.deepEqual(checkImplements(images, images), { ok: true, differences: [] });
    const better = {
      functions: {
        ...fn,
        resize: {
          input: { type: 'object', properties: { w: { type: 'number', minimum: 0 } } }, // accepts more
          output: {
            ...(fn.resize!.output as object),
            properties: { url: { type: 'string', format: 'uri' } },
          }, // promises more
        },
        extra: { input: true, output: true }, // extra functions are fine
      },
    };
    assert.deepEqual(checkImplements(images, better).differences, []);
  });

  it('reports a missing function, a narrower input and a wider output', () => {
    const plugin = {
      functions: {
        resize: {
          input: {
            type: 'object',
            properties: { w: { type: 'integer', minimum: 1, maximum: 1024 } },
            required: ['w'],
          },
          output: { type: 'object', properties: { url: { type: 'string' } }, required: ['url'] }, // extra props now possible
        },
      },
    };
    const result = checkImplements(images, plugin);
    assert.equal(result.ok, false);
    assert.deepEqual(
      result.differences.map((d) => [d.function, d.rule, d.field ?? '']),
      [
        ['info', 'function.missing', ''],
        ['resize', 'input.maximum.decreased', 'w'],
        ['resize', 'output.additional-properties.opened', '*'],
      ],
    );
  });

  it('checkDeclaredContracts picks the highest version in range and returns PLUGBAY_CONTRACT_MISMATCH', () => {
    const older = { ...images, version: '1.0.0', functions: { resize: fn.resize! } };
    const manifest = {
      name: 'thumbs',
      version: '3.1.0',
      implements: { images: '^1.0.0' },
      functions: { resize: fn.resize! },
    };
    const err = checkDeclaredContracts(manifest, [older, images]);
    assert.equal(err?.code, 'PLUGBAY_CONTRACT_MISMATCH');
    assert.equal(err?.plugin, 'thumbs');
    const diffs = (err!.details as { differences: { contract: string; rule: string }[] }).differences;
    assert.deepEqual(
      diffs.map((d) => [d.contract, d.rule]),
      [['images@1.2.0', 'function.missing']],
    );
    assert.equal(
      checkDeclaredContracts({ ...manifest, implements: { images: '~1.0.0' } }, [older, images]),
      undefined,
    );
    const unknown = checkDeclaredContracts(
      { ...manifest, implements: { videos: '^1.0.0', images: '^2.0.0' } },
      new Map([['images', [images]]]),
    );
    assert.deepEqual(
      (unknown!.details as { differences: { rule: string }[] }).differences.map((d) => d.rule),
      ['contract.unknown', 'contract.version-unsatisfied'],
    );
  });
});

describe('implements through $ref', () => {
  it('a plugin whose $ref target narrows the contract input does not implement it', () => {
    const schema = (max: number) => ({
      $defs: { Tag: { type: 'string', maxLength: max } },
      type: 'array',
      items: { $ref: '#/$defs/Tag' },
    });
    const contract = { functions: { f: { input: schema(50), output: { type: 'string' } } } };
    assert.deepEqual(checkImplements(contract, contract), { ok: true, differences: [] });
    const result = checkImplements(contract, {
      functions: { f: { input: schema(5), output: { type: 'string' } } },
    });
    assert.deepEqual(
      result.differences.map((d) => [d.rule, d.path]),
      [['input.max-length.decreased', '/items/maxLength']],
    );
  });
});
