/**
 * Directory watching for `plugbay serve`: a version dropped into the plugins directory is checked, loaded and
 * handed to the rollout policy; a removed one is drained. fs.watch on the root only triggers a scan (its events
 * are unreliable: coalesced, missing for nested writes, platform-dependent), a periodic rescan catches the rest,
 * and scan() can be driven directly (tests).
 *
 * A directory (or packed `*.plugbay.tgz` file) is loaded only once it has settled: the fingerprint of its files
 * (names, sizes, mtimes; node_modules/ and .git/ not walked) is the same in two scans at least `settleMs` apart —
 * a half-copied directory waits. A loaded version whose folder changes keeps running its stored bytes; once the
 * change settles it is checked as a new candidate and reported (`modified`), never loaded over the running one.
 */
import { type Dirent, type FSWatcher, watch } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { isPackedFile } from '../artifact/pack.js';
import { PlugbayError } from '../core/errors.js';
import { OptionChecker } from '../core/options.js';
import type { AuditInput } from '../store/types.js';
import { checkPluginDir } from './discover.js';
import { compileRoute, type Route, referencedVersions, selectVersion } from './router/index.js';
import type { LoadReport, PluginHost } from './types.js';

/** What happens to a new version of a plugin that already has one: see docs/routing.md. */
export type RolloutPolicy = { kind: 'manual' } | { kind: 'activate' } | { kind: 'canary'; percent: number };

/** Parses `manual`, `activate` or `canary:<percent>` (1–100); PLUGBAY_INVALID_ARGUMENT names the rule otherwise. */
export function parseRolloutPolicy(text: string): RolloutPolicy {
  if (text === 'manual' || text === 'activate') return { kind: text };
  const m = /^canary:(\d{1,3})$/.exec(text);
  const percent = m === null ? Number.NaN : Number(m[1]);
  if (percent >= 1 && percent <= 100) return { kind: 'canary', percent };
  throw new PlugbayError(
    'PLUGBAY_INVALID_ARGUMENT',
    `rollout must be manual, activate or canary:<percent> with a percent from 1 to 100, got "${text}"`,
    { details: { field: 'rollout' } },
  );
}

export function formatRolloutPolicy(policy: RolloutPolicy): string {
  return policy.kind === 'canary' ? `canary:${policy.percent}` : policy.kind;
}

export interface WatcherOptions {
  host: PluginHost;
  /** The plugins directory: each subfolder is one plugin version. */
  dir: string;
  /** Default manual. */
  policy?: RolloutPolicy;
  /** How long a directory's files must stay unchanged before it is loaded. Default 500 ms. */
  settleMs?: number;
  /** Periodic rescan, in case fs.watch misses something. Default 2 000 ms. */
  intervalMs?: number;
  /** Use fs.watch on the root as a scan trigger. Default true (tests drive scan() themselves). */
  watch?: boolean;
  /**
   * Development (`serve --dev --watch`): other bytes under the same version in a loaded folder (a rebuild) are
   * swapped in place (host.replaceInPlace) instead of refused. Default false: versions are immutable.
   */
  replaceInPlace?: boolean;
  /** Records loads, unloads and failed rollouts (the gateway passes its state store's `record`). */
  audit?: (entry: AuditInput) => void;
  logger?: Logger;
  /** Clock in ms; tests pass their own to decide when a directory has settled. Default Date.now. */
  now?: () => number;
}

/** What one scan did, by directory path (and `name@version` for loads and unloads). */
export interface ScanReport {
  loaded: string[];
  unloaded: string[];
  /** New or changing directories not loaded yet. */
  pending: string[];
  /** Settled directories that could not be checked or loaded (retried when their files change). */
  failed: string[];
  /** Folders of loaded versions whose files changed: a new candidate, refused and reported, not loaded. */
  modified: string[];
  /** `name@version`s swapped in place (replaceInPlace only). */
  replaced: string[];
}

export interface DirectoryWatcher {
  /**
   * Loads the whole directory (host.loadDirectory, no rollout policy: this is the starting set), remembers what
   * it saw, and starts watching. Call once.
   */
  start(): Promise<LoadReport>;
  /** One scan now (waits for a running one first). */
  scan(): Promise<ScanReport>;
  /** Stops watching; waits for a running scan. Idempotent. Leaves the host and its plugins alone. */
  close(): Promise<void>;
  /**
   * A version found elsewhere (`origin`: a registry source's new digest, pulled to a packed file): loaded and rolled
   * out exactly like a new folder of the directory (pin the current stable, load, apply the policy).
   */
  addVersion(path: string, origin: string): Promise<ScanReport>;
  /** A build just finished writing `dir` (serve --dev --watch): one scan now that takes it as settled. */
  built(dir: string): Promise<ScanReport>;
}

/**
 * `pending`: new or changed, waiting to settle; `loaded`: its version is in the host; `failed`: settled but
 * refused (check or load failed), retried when it changes; `changed`: loaded, then its files changed — versions
 * are immutable, so once settled the change is checked and reported once (host diagnostics) and not loaded.
 */
type DirState = 'pending' | 'loaded' | 'failed' | 'changed';

interface Tracked {
  fingerprint: string;
  /** When this fingerprint was first seen. */
  since: number;
  state: DirState;
  plugin?: string;
  version?: string;
  /** `changed`: the change was checked and reported (again only after the files change once more). */
  reported?: boolean;
}

export function createWatcher(options: WatcherOptions): DirectoryWatcher {
  return new Watcher(checkOptions(options));
}

function emptyReport(): ScanReport {
  return { loaded: [], unloaded: [], pending: [], failed: [], modified: [], replaced: [] };
}

type Settings = Required<Omit<WatcherOptions, 'audit' | 'logger'>> & Pick<WatcherOptions, 'audit' | 'logger'>;

function checkOptions(o: WatcherOptions): Settings {
  const check = new OptionChecker('createWatcher');
  if (typeof o?.host?.load !== 'function') check.fail('host', 'must be a PluginHost');
  if (typeof o?.dir !== 'string' || o.dir === '') check.fail('dir', 'must be a directory path');
  check.integer('settleMs', o?.settleMs, 0);
  check.integer('intervalMs', o?.intervalMs, 10);
  check.boolean('watch', o?.watch);
  check.boolean('replaceInPlace', o?.replaceInPlace);
  check.done();
  return {
    host: o.host,
    dir: resolve(o.dir),
    policy: o.policy ?? { kind: 'manual' },
    settleMs: o.settleMs ?? 500,
    intervalMs: o.intervalMs ?? 2_000,
    watch: o.watch ?? true,
    replaceInPlace: o.replaceInPlace ?? false,
    audit: o.audit,
    logger: o.logger,
    now: o.now ?? Date.now,
  };
}

class Watcher implements DirectoryWatcher {
  readonly #s: Settings;
  readonly #dirs = new Map<string, Tracked>();
  #running: Promise<ScanReport> | undefined;
  #fsWatcher: FSWatcher | undefined;
  #interval: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #closed = false;
  /** Folders a finished build vouches for: settled at the next scan without waiting settleMs. */
  readonly #built = new Set<string>();

  constructor(settings: Settings) {
    this.#s = settings;
  }

  async start(): Promise<LoadReport> {
    // Fingerprints are taken before loading: a directory that changes meanwhile differs at the next scan.
    const before = await this.#listing();
    const report = await this.#s.host.loadDirectory(this.#s.dir);
    const now = this.#s.now();
    const loadedDirs = new Map(report.loaded.map((v) => [v.dir, v]));
    // The starting set is audited like every later load (the audit log promises every load).
    for (const v of report.loaded)
      this.#record({
        actor: 'watcher',
        action: 'load',
        plugin: v.plugin,
        version: v.version,
        details: { dir: v.dir },
      });
    for (const [dir, fingerprint] of before) {
      const v = loadedDirs.get(dir);
      this.#dirs.set(
        dir,
        v === undefined
          ? { fingerprint, since: now, state: 'failed' }
          : { fingerprint, since: now, state: 'loaded', plugin: v.plugin, version: v.version },
      );
    }
    if (!this.#closed) this.#startWatching();
    return report;
  }

  async addVersion(path: string, origin: string): Promise<ScanReport> {
    const report: ScanReport = emptyReport();
    await this.#add(path, { fingerprint: '', since: this.#s.now(), state: 'pending' }, report, origin);
    return report;
  }

  built(dir: string): Promise<ScanReport> {
    this.#built.add(resolve(dir));
    return this.scan();
  }

  scan(): Promise<ScanReport> {
    if (this.#running !== undefined) {
      // One scan at a time; a request during one runs one more scan after it.
      return this.#running.then(() => this.scan());
    }
    this.#running = this.#scan().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#fsWatcher?.close();
    this.#fsWatcher = undefined;
    clearInterval(this.#interval);
    clearTimeout(this.#soon);
    await this.#running?.catch(() => {});
  }

  #startWatching(): void {
    this.#interval = setInterval(() => this.#background(), this.#s.intervalMs);
    this.#interval.unref();
    if (!this.#s.watch) return;
    try {
      this.#fsWatcher = watch(this.#s.dir, { persistent: false }, () => this.#scheduleSoon(50));
      this.#fsWatcher.on('error', (err) => {
        // The periodic rescan still works; the trigger only makes changes show up sooner.
        this.#s.logger?.warn({ err, dir: this.#s.dir }, 'watcher: fs.watch failed; rescanning periodically');
        this.#fsWatcher?.close();
        this.#fsWatcher = undefined;
      });
    } catch (err) {
      this.#s.logger?.warn(
        { err, dir: this.#s.dir },
        'watcher: fs.watch unavailable; rescanning periodically',
      );
    }
  }

  #scheduleSoon(delayMs: number): void {
    if (this.#closed || this.#soon !== undefined) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      this.#background();
    }, delayMs);
    this.#soon.unref();
  }

  #background(): void {
    if (this.#closed || this.#running !== undefined) return;
    this.scan().then(
      (report) => {
        // Something is settling: look again once it may have settled, rather than at the next interval.
        if (report.pending.length > 0) this.#scheduleSoon(this.#s.settleMs + 10);
      },
      (err: unknown) => this.#s.logger?.error({ err }, 'watcher: scan failed'),
    );
  }

  async #scan(): Promise<ScanReport> {
    const report: ScanReport = emptyReport();
    const listing = await this.#listing();
    const now = this.#s.now();
    // A refused version may have been loaded since (plugbay grant loads those refused for want of a grant).
    const loadedDirs = new Map(this.#s.host.versions().map((v) => [v.dir, v]));
    for (const [dir, tracked] of this.#dirs) {
      const v = tracked.state === 'failed' ? loadedDirs.get(dir) : undefined;
      if (v !== undefined) Object.assign(tracked, { state: 'loaded', plugin: v.plugin, version: v.version });
    }

    for (const [dir, tracked] of this.#dirs) {
      if (listing.has(dir) || this.#closed) continue;
      this.#dirs.delete(dir);
      if (tracked.state === 'loaded' || tracked.state === 'changed') await this.#remove(dir, tracked, report);
    }
    for (const [dir, fingerprint] of listing) {
      if (this.#closed) break;
      let tracked = this.#dirs.get(dir);
      if (tracked === undefined) {
        tracked = { fingerprint, since: now, state: 'pending' };
        this.#dirs.set(dir, tracked);
      } else if (tracked.fingerprint !== fingerprint) {
        tracked.fingerprint = fingerprint;
        tracked.since = now;
        tracked.reported = false;
        if (tracked.state === 'loaded') {
          // Checked once settled (#recheck): a new version in the same folder is loaded, other bytes under the
          // same version are refused and reported.
          tracked.state = 'changed';
        } else if (tracked.state === 'failed') {
          tracked.state = 'pending';
        }
      }
      const settled =
        fingerprint !== unreadable && (now - tracked.since >= this.#s.settleMs || this.#built.delete(dir));
      if (tracked.state === 'changed' && !tracked.reported && settled)
        await this.#recheck(dir, tracked, report);
      if (tracked.state !== 'pending') continue;
      if (!settled) {
        report.pending.push(dir);
        continue;
      }
      await this.#add(dir, tracked, report);
    }
    return report;
  }

  /** A settled directory: check it, pin the current stable if needed, load it, apply the rollout policy. */
  async #add(
    dir: string,
    tracked: Tracked,
    report: ScanReport,
    origin = 'the plugins directory',
  ): Promise<void> {
    const { host, logger, policy } = this.#s;
    const checked = await checkPluginDir(dir);
    if (checked.plugin === undefined) {
      tracked.state = 'failed';
      report.failed.push(dir);
      logger?.warn({ dir, diagnostics: checked.diagnostics }, `watcher: ${dir} is not a loadable plugin`);
      return;
    }
    const { name, version } = checked.plugin.manifest;
    const id = `${name}@${version}`;
    try {
      // A plugin already serving traffic with no pinned stable: pin the one serving now, so that the newcomer
      // (maybe the highest version, which answers by default) does not take over before the policy decides.
      const before = this.#stableOf(name);
      if (before !== undefined && host.route(name)?.stable === undefined && before !== version) {
        await host.setRoute(
          name,
          { ...host.route(name), stable: before },
          {
            actor: 'watcher',
            reason: `pinned the current stable ${before} so that the new version ${version} does not take over (rollout ${formatRolloutPolicy(policy)})`,
          },
        );
      }
      await host.load(dir);
      tracked.state = 'loaded';
      tracked.plugin = name;
      tracked.version = version;
      report.loaded.push(id);
      this.#record({ actor: 'watcher', action: 'load', plugin: name, version, details: { dir } });
      logger?.info({ dir, plugin: name, version }, `watcher: loaded ${id}`);
      if (before !== undefined && before !== version) await this.#rollOut(name, version, before, origin);
    } catch (err) {
      tracked.state = 'failed';
      report.failed.push(dir);
      logger?.error({ dir, err, plugin: name, version }, `watcher: ${id} was not loaded or rolled out`);
    }
  }

  /**
   * A loaded version's folder changed and settled. Now holding another version (a version bump, as a rebuild in
   * the same folder makes): that version is added as a new one (rollout policy and all), and the old one is
   * unloaded once no route names it. Other bytes under the same version: the host refuses them (versions are
   * immutable) and the refusal is reported.
   */
  async #recheck(dir: string, tracked: Tracked, report: ScanReport): Promise<void> {
    tracked.reported = true;
    const now = (await checkPluginDir(dir)).plugin?.manifest;
    if (now !== undefined && (now.name !== tracked.plugin || now.version !== tracked.version)) {
      const old = { plugin: tracked.plugin ?? '', version: tracked.version ?? '' };
      this.#s.logger?.info(
        { dir, plugin: now.name, version: now.version, was: old.version },
        `watcher: ${dir} now holds ${now.name}@${now.version} (was ${old.plugin}@${old.version}): loading it as a new version`,
      );
      tracked.state = 'pending';
      await this.#add(dir, tracked, report);
      if ((tracked.state as DirState) === 'loaded') await this.#retire(dir, old, report);
      return;
    }
    if (this.#s.replaceInPlace) {
      await this.#replace(dir, tracked, report);
      return;
    }
    try {
      await this.#s.host.load(dir);
    } catch (err) {
      const e = PlugbayError.from(err);
      if (e.details?.rule !== 'modified') return; // the same bytes again, or not a plugin any more
      report.modified.push(dir);
      this.#record({
        actor: 'watcher',
        action: 'modified',
        plugin: tracked.plugin ?? '',
        version: tracked.version,
        reason: e.message,
        details: { dir, ...e.details },
      });
      this.#s.logger?.warn({ dir, err: e }, `watcher: ${e.message}`);
    }
  }

  /** Dev: the rebuilt bytes of a loaded version take its place; when they do not load, the old one keeps serving. */
  async #replace(dir: string, tracked: Tracked, report: ScanReport): Promise<void> {
    const id = `${tracked.plugin}@${tracked.version}`;
    tracked.state = 'loaded';
    try {
      const swapped = await this.#s.host.replaceInPlace(dir);
      if (swapped === undefined) return;
      report.replaced.push(id);
      this.#record({
        actor: 'watcher',
        action: 'replace',
        plugin: tracked.plugin ?? '',
        version: tracked.version,
        details: { dir, digest: swapped.digest },
      });
      this.#s.logger?.info(
        { dir, digest: swapped.digest },
        `watcher: ${id} rebuilt and swapped in place (dev)`,
      );
    } catch (err) {
      report.failed.push(dir);
      this.#s.logger?.error(
        { dir, err },
        `watcher: the rebuilt ${id} did not load; the running one keeps serving`,
      );
    }
  }

  /** Applies the policy to a newly loaded version of a plugin whose stable is `stable`. */
  async #rollOut(name: string, version: string, stable: string, origin: string): Promise<void> {
    const { host, logger, policy } = this.#s;
    const reason = `rollout ${formatRolloutPolicy(policy)}: new version ${version} found in ${origin}`;
    try {
      if (policy.kind === 'activate') {
        await host.activate(name, version, { actor: 'watcher', reason });
      } else if (policy.kind === 'canary') {
        const route: Route = { ...host.route(name), stable: host.route(name)?.stable ?? stable };
        route.canary = { version, percent: policy.percent };
        await host.setRoute(name, route, { actor: 'watcher', reason });
      } else {
        logger?.info(
          { plugin: name, version, stable },
          `watcher: ${name}@${version} is loaded but not routed (rollout manual); ${stable} stays stable`,
        );
        return;
      }
      logger?.info({ plugin: name, version, policy: formatRolloutPolicy(policy) }, `watcher: ${reason}`);
    } catch (err) {
      // The version stays loaded and unrouted; an operator can retry with the admin API.
      const e = PlugbayError.from(err);
      this.#record({
        actor: 'watcher',
        action: 'rollout-failed',
        plugin: name,
        version,
        reason: `${reason}: ${e.code}: ${e.message}`,
      });
      logger?.error({ err: e, plugin: name, version }, `watcher: rollout of ${name}@${version} failed`);
    }
  }

  /** Unloads a version whose folder now holds another one, unless a route still names it (then it stays). */
  async #retire(dir: string, old: { plugin: string; version: string }, report: ScanReport): Promise<void> {
    if (referencedVersions(this.#s.host.route(old.plugin)).has(old.version)) {
      this.#s.logger?.info(
        { dir, ...old, route: this.#s.host.route(old.plugin) },
        `watcher: ${old.plugin}@${old.version} stays loaded: its route still names it (its folder holds a newer version now)`,
      );
      return;
    }
    await this.#remove(dir, { fingerprint: '', since: 0, state: 'loaded', ...old }, report);
  }

  async #remove(dir: string, tracked: Tracked, report: ScanReport): Promise<void> {
    const { plugin, version } = tracked as Required<Tracked>;
    const id = `${plugin}@${version}`;
    try {
      await this.#s.host.unload(plugin, version);
    } catch (err) {
      // Already released (a switch drained it): nothing left to drain.
      if ((err as PlugbayError).code !== 'PLUGBAY_UNKNOWN_PLUGIN') {
        this.#s.logger?.error({ err, dir, plugin, version }, `watcher: unloading ${id} failed`);
        return;
      }
    }
    report.unloaded.push(id);
    this.#record({ actor: 'watcher', action: 'unload', plugin, version, details: { dir } });
    if (referencedVersions(this.#s.host.route(plugin)).has(version)) {
      // The route still names it: its calls now take the fallback chain (or fail) until the route is changed.
      this.#s.logger?.warn(
        { plugin, version, route: this.#s.host.route(plugin) },
        `watcher: the route of ${plugin} still names the removed ${version}; change it (plugbay routes set)`,
      );
    }
    this.#s.logger?.info({ dir, plugin, version }, `watcher: ${dir} was removed; ${id} drained and unloaded`);
  }

  /** The version answering unpinned calls now: the route's stable, else the newest available release. */
  #stableOf(name: string): string | undefined {
    const pinned = this.#s.host.route(name)?.stable;
    if (pinned !== undefined) return pinned;
    const candidates = this.#s.host
      .versions()
      .filter((v) => v.plugin === name)
      .map((v) => ({ version: v.version, available: v.state === 'ready' && v.circuit === 'closed' }));
    const selection = selectVersion(compileRoute(name), candidates, {});
    return selection.ok ? selection.version : undefined;
  }

  #record(entry: AuditInput): void {
    try {
      this.#s.audit?.(entry);
    } catch (err) {
      this.#s.logger?.error({ err, entry }, 'watcher: could not write the audit log');
    }
  }

  /** Plugin subfolders (hidden ones skipped, like discovery does) with their fingerprints. */
  async #listing(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let entries: Dirent[];
    try {
      entries = await readdir(this.#s.dir, { withFileTypes: true });
    } catch (err) {
      this.#s.logger?.error({ err, dir: this.#s.dir }, 'watcher: cannot read the plugins directory');
      return new Map([...this.#dirs].map(([dir, t]) => [dir, t.fingerprint]));
    }
    for (const e of entries) {
      const packed = e.isFile() && isPackedFile(e.name);
      if (e.name.startsWith('.') || !(e.isDirectory() || e.isSymbolicLink() || packed)) continue;
      const dir = join(this.#s.dir, e.name);
      out.set(dir, await fingerprint(dir));
    }
    return out;
  }
}

const unreadable = 'unreadable';
/** Beyond this many entries a directory is not a plugin anyone copies in by hand; the rest is not fingerprinted. */
const maxEntries = 10_000;

/** Never walked: no plugin version is made of them, and a node_modules of thousands of files cost a core. */
const unwatched = new Set(['node_modules', '.git']);

/** Names, types, sizes and mtimes of every file below `dir` (symlinks not followed), as one string. */
async function fingerprint(dir: string): Promise<string> {
  const parts: string[] = [];
  const walk = async (path: string, rel: string): Promise<void> => {
    const entries = await readdir(path, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (parts.length >= maxEntries) return;
      if (unwatched.has(e.name)) continue;
      const full = join(path, e.name);
      const s = await lstat(full);
      const name = `${rel}${e.name}`;
      if (s.isDirectory()) {
        parts.push(`${name}/`);
        await walk(full, `${name}/`);
      } else {
        parts.push(`${name}:${s.isSymbolicLink() ? 'l' : 'f'}:${s.size}:${s.mtimeMs}`);
      }
    }
  };
  try {
    const s = await lstat(dir);
    if (s.isFile()) return `${s.size}:${s.mtimeMs}`; // a packed file
    await walk(dir, '');
  } catch {
    // Vanished or unreadable mid-walk: still changing, so not settled.
    return unreadable;
  }
  return parts.join('\n');
}
