/**
 * Completes a go-plugin manifest from its .proto: each unary rpc of `service` is a function whose schemas are
 * derived from its messages. A function the manifest writes may keep a schema of its own only if it narrows the
 * derived one: the contract layer's witness search, judged by the host's Ajv, looks for a value the written schema
 * admits and the derived one refuses (proof, not the diff rules' caution: a narrower `pattern` is fine); timeoutMs,
 * idempotent and the like are
 * taken as written. Discovery runs this on the bytes it verified, so every later step sees the full functions.
 */
import { findWitness } from '../../contract/witness.js';
import type { ManifestProblem } from '../../core/manifest.js';
import type { FunctionSpec, Manifest } from '../../core/manifest-schema.js';
import { deriveFunctions } from './proto-schema.js';
import { ProtoLoadError, type ReadPluginFile, readService } from './proto-service.js';

/** The manifest with every rpc as a function, or what stops it (field, rule, message as manifest problems). */
export function completeGoPluginManifest(
  manifest: Manifest,
  read: ReadPluginFile,
): { manifest: Manifest; problems: [] } | { problems: ManifestProblem[] } {
  if (manifest.runtime !== 'exec' || manifest.protocol !== 'go-plugin') return { manifest, problems: [] };
  let derived: ReturnType<typeof deriveFunctions>;
  try {
    const service = readService(manifest.proto ?? '', manifest.service ?? '', read);
    derived = deriveFunctions(service, { emitDefaults: manifest.emitDefaults ?? false });
  } catch (err) {
    if (err instanceof ProtoLoadError)
      return { problems: [{ field: err.field, rule: err.rule, message: err.message }] };
    throw err;
  }
  const problems: ManifestProblem[] = [];
  const functions: Record<string, FunctionSpec> = {};
  for (const name of Object.keys(manifest.functions)) {
    if (!Object.hasOwn(derived, name)) {
      problems.push({
        field: `functions.${name}`,
        rule: 'rpc',
        message: `is not a unary rpc of ${manifest.service} (rpcs: ${Object.keys(derived).join(', ') || 'none'})`,
      });
    }
  }
  for (const [name, d] of Object.entries(derived)) {
    const hand: Partial<FunctionSpec> = Object.hasOwn(manifest.functions, name)
      ? manifest.functions[name]!
      : {};
    const spec: FunctionSpec = { description: d.description, ...hand, input: d.input, output: d.output };
    for (const side of ['input', 'output'] as const) {
      const own = hand[side];
      if (own === undefined) continue;
      // A value the written schema admits and the message's schema refuses: the message cannot hold it.
      // Every load checks this: a smaller budget than contract diff's (edge values come first and find most).
      const wider = findWitness(own, d[side], 'input', { timeMs: 200, maxValues: 300 });
      if (wider !== undefined) {
        const message = side === 'input' ? 'request' : 'response';
        problems.push({
          field: `functions.${name}.${side}`,
          rule: 'narrows-proto',
          message: `admits values the ${message} message cannot hold (e.g. ${JSON.stringify(wider.value)}, refused by the message's schema: ${wider.refusedBy}); leave it out to use the schema derived from the .proto, or narrow it`,
        });
      } else {
        spec[side] = own;
      }
    }
    functions[name] = spec;
  }
  return problems.length > 0 ? { problems } : { manifest: { ...manifest, functions }, problems: [] };
}
