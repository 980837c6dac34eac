/**
 * `oci://<registry>/<repository>[:<tag> | @sha256:<hex>]`, parsed by the grammar of the OCI distribution spec
 * (repository components lower-case, tags up to 128 characters, digests sha256 only). Bad input is
 * PLUGBAY_INVALID_ARGUMENT naming the field and the rule.
 */
import { PlugbayError } from '../../core/errors.js';

export interface OciReference {
  /** `host[:port]`, as written. */
  readonly registry: string;
  readonly repository: string;
  /** The tag, when the reference names one (a reference with neither tag nor digest means `latest`). */
  readonly tag: string | undefined;
  /** `sha256:<64 hex>`, when the reference pins one. */
  readonly digest: string | undefined;
}

const repositoryPattern =
  /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export const digestPattern = /^sha256:[a-f0-9]{64}$/;
const registryPattern = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Parses `text`; `field` names the argument in errors (e.g. `reference`). */
export function parseOciReference(text: string, field = 'reference'): OciReference {
  const bad = (rule: string, message: string) =>
    new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `${field} "${text}": ${message}`, {
      details: { field, rule, value: text },
    });
  if (!text.startsWith('oci://')) throw bad('scheme', 'must start with oci://');
  const rest = text.slice('oci://'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) throw bad('repository', 'must be oci://<registry>/<repository>[:tag|@sha256:…]');
  const registry = rest.slice(0, slash);
  if (!registryPattern.test(registry)) throw bad('registry', `"${registry}" is not a host[:port]`);
  let path = rest.slice(slash + 1);
  let digest: string | undefined;
  const at = path.indexOf('@');
  if (at >= 0) {
    digest = path.slice(at + 1);
    path = path.slice(0, at);
    if (!digestPattern.test(digest)) throw bad('digest', `"${digest}" is not sha256:<64 lower-case hex>`);
  }
  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!tagPattern.test(tag)) throw bad('tag', `"${tag}" is not a tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})`);
  }
  if (!repositoryPattern.test(path) || path.length > 255) {
    throw bad('repository', `"${path}" is not a repository name (lower-case components separated by /)`);
  }
  return { registry, repository: path, tag, digest };
}

/** The manifest reference to ask the registry for: the digest when pinned, else the tag (default `latest`). */
export function manifestReference(ref: OciReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

export function formatOciReference(ref: OciReference): string {
  const tag = ref.tag === undefined ? '' : `:${ref.tag}`;
  const digest = ref.digest === undefined ? '' : `@${ref.digest}`;
  return `oci://${ref.registry}/${ref.repository}${tag}${digest}`;
}

/** True when the registry's host is a loopback address: the only place plain HTTP is allowed (`insecure`). */
export function isLoopbackRegistry(registry: string): boolean {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(registry);
  const host = bracketed?.[1] ?? registry.replace(/:\d+$/, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
