import { stat } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import type { Diagnostic } from '../../core/types.js';
import { isHostName, originOf } from '../../gateway/origin.js';
import { createGateway } from '../../gateway/server.js';
import { defaultTiers } from '../../host/default-tiers.js';
import { isPluginFolder } from '../../host/discover.js';
import { createHost } from '../../host/host.js';
import { formatRolloutPolicy } from '../../host/watch.js';
import { defaultLogger } from '../../observe/log.js';
import { startOtelFromEnv, tracesExportersOf } from '../../observe/otel-env.js';
import { detectSandboxTools, sandboxGaps } from '../../tiers/process/sandbox.js';
import { parseCommandArgs, portOption } from '../args.js';
import { type Command, UsageError } from '../io.js';
import { serveAdmin } from './serve-admin.js';
import { type DevBuilds, startDevBuilds } from './serve-dev-watch.js';
import { heartbeatOf, startFleet } from './serve-fleet.js';
import { serveFlags, serveFlagsUsage } from './serve-options.js';
import {
  artifactsDirOf,
  followSharedState,
  localDirOf,
  openStateStore,
  rolloutOf,
  startWatcher,
  stateLocationOf,
  watchTimingOf,
} from './serve-rollout.js';
import { loadSources, pollSources, sourcePollOf, sourcesOf } from './serve-sources.js';
import { serveTrust } from './serve-trust.js';

export const serveCommand: Command = {
  name: 'serve',
  usage: `plugbay serve [dir] [options]

Loads every plugin below dir (default ./plugins; broken ones are reported and skipped) and serves them:
  POST /v1/call/:plugin/:fn   GET /v1/plugins[/:plugin]   GET /healthz   GET /readyz   GET /metrics   GET /
Admin API: GET|PUT /v1/routes/:plugin, POST /v1/plugins/:plugin/activate|rollback|grant|revoke, GET /v1/audit,
GET /v1/grants, and the reads /v1/plugins[/:plugin], /v1/stats, /metrics: with --admin-token(-file) each asks for
"authorization: Bearer <token>"; with --admin-port they (and the dashboard) move to their own listener. Beyond
loopback a token is required.
The directory is watched: a new version is loaded once its files settle, then handled by --rollout; a removed
one is drained. Levels and tiers: trusted → inline, thread, process, wasm; community and unsigned → process,
wasm (inline and thread share the gateway's process and all its authority: trusted code only).
Logs are JSON lines on stderr (LOG_LEVEL=debug for more). Traces: set OTEL_EXPORTER_OTLP_ENDPOINT (and the other
standard OTEL_* variables) to export spans over OTLP/HTTP, plugins' own included (docs/observability.md). SIGINT/SIGTERM: stop accepting, finish in-flight
calls (within --shutdown-timeout-ms, then close what is still open), stop the plugins, exit 0; a second signal
exits at once with 1.

${serveFlagsUsage()}

Reference (every option, route and metric): docs/operating-the-gateway.md`,
  async run(args, io) {
    const { positionals, values } = parseCommandArgs(args, serveFlags);
    if (positionals.length > 1) throw new UsageError('takes at most one directory');
    const dir = resolve(positionals[0] ?? 'plugins');
    const isDir = await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir) throw new UsageError(`${dir} is not a directory`);
    if (await isPluginFolder(dir)) {
      // serve watches a folder of plugins (versions come and go as subfolders): one plugin's folder is not one.
      throw new UsageError(
        `${dir} is one plugin's folder (it has plugin.json); serve the folder that holds your plugins: plugbay serve ${dirname(dir)}`,
        { brief: true },
      );
    }
    const port = portOption(values.port, 7070);
    const sources = sourcesOf(values);
    const sourcePollMs = sourcePollOf(values);
    const heartbeatMs = heartbeatOf(values);
    const sourceDigests = new Map<string, string>();
    let polling: { close(): Promise<void> } | undefined;
    const limit = values['body-limit'];
    if (limit !== undefined && !/^[1-9]\d*$/.test(limit)) {
      throw new UsageError(`--body-limit must be a positive integer (bytes), got "${limit}"`);
    }
    const maxTimeout = values['max-timeout-ms'];
    if (
      maxTimeout !== undefined &&
      (!/^[1-9]\d*$/.test(maxTimeout) || !Number.isSafeInteger(Number(maxTimeout)))
    ) {
      throw new UsageError(`--max-timeout-ms must be a positive integer (ms), got "${maxTimeout}"`);
    }
    const shutdownTimeout = values['shutdown-timeout-ms'];
    if (
      shutdownTimeout !== undefined &&
      (!/^\d+$/.test(shutdownTimeout) || !Number.isSafeInteger(Number(shutdownTimeout)))
    ) {
      throw new UsageError(
        `--shutdown-timeout-ms must be an integer of 0 or more (ms), got "${shutdownTimeout}"`,
      );
    }
    const coolDown = values['crashloop-cooldown-ms'];
    if (coolDown !== undefined && (!/^[1-9]\d*$/.test(coolDown) || !Number.isSafeInteger(Number(coolDown)))) {
      throw new UsageError(`--crashloop-cooldown-ms must be a positive integer (ms), got "${coolDown}"`);
    }
    const admin = await serveAdmin(values, port);
    const allowOrigins = values['allow-origin'] ?? [];
    for (const origin of allowOrigins) {
      if (originOf(origin) === undefined) {
        throw new UsageError(
          `--allow-origin must be an http(s) origin such as https://ops.example.com (no path), got "${origin}"`,
        );
      }
    }
    const allowHosts = values['allow-host'] ?? [];
    for (const name of allowHosts) {
      if (!isHostName(name))
        throw new UsageError(`--allow-host must be a host name without port, got "${name}"`);
    }

    try {
      tracesExportersOf(process.env); // a misspelt OTEL_* fails here, before anything starts
    } catch (err) {
      throw new UsageError((err as Error).message, { brief: true });
    }

    const trust = await serveTrust(values);
    // --dev also makes the rollout `activate` (serve-rollout.ts), besides signatures `warn` (serve-trust.ts).
    const rollout = rolloutOf(values.rollout, values.dev === true);
    const timing = watchTimingOf(values);
    const devWatch = values.watch === true;
    if (devWatch && values.dev !== true)
      throw new UsageError('--watch needs --dev: only a development gateway swaps a version in place');

    const logger = defaultLogger();
    for (const warning of trust.warnings) logger.warn(warning);
    logger.info(trust.summary, `signatures: ${trust.summary.signatures}`);
    // Once at start-up: what process-tier plugins run without on this machine (docs/process-tier.md).
    void detectSandboxTools().then((tools) => {
      const gaps = sandboxGaps(tools);
      if (gaps !== undefined) logger.warn({ sandbox: tools }, gaps);
    });
    // Before the host and gateway: both ask once, when made, whether a TracerProvider is registered.
    const otel = await startOtelFromEnv(process.env, logger);
    const store = openStateStore(values.state, logger);
    if (store === undefined) {
      await otel?.shutdown();
      return 1;
    }
    const host = createHost({
      logger,
      ...trust.hostOptions,
      store,
      artifactsDir: artifactsDirOf(store),
      ...(coolDown === undefined
        ? {}
        : {
            tiers: defaultTiers({
              coolDownMs: Number(coolDown),
              maxCoolDownMs: Math.max(Number(coolDown), 300_000),
            }),
          }),
    });
    const watcher = startWatcher({
      host,
      dir,
      policy: rollout,
      store,
      logger,
      timing,
      replaceInPlace: devWatch,
    });
    let devBuilds: DevBuilds | undefined;
    const unfollow = store.kind === 'postgres' ? followSharedState(store, host, logger) : () => {};
    const fleet = startFleet(store, heartbeatMs, logger);
    const gateway = createGateway({
      host,
      port,
      hostname: values.host ?? '127.0.0.1',
      ...(limit === undefined ? {} : { bodyLimit: Number(limit) }),
      ...(maxTimeout === undefined ? {} : { maxTimeoutMs: Number(maxTimeout) }),
      ...(shutdownTimeout === undefined ? {} : { shutdownTimeoutMs: Number(shutdownTimeout) }),
      ...admin,
      allowOrigins,
      allowHosts,
      logger,
      fleet: fleet.report,
    });

    // Shutdown: the first signal drains (gateway first, so no new call reaches the host), a second one forces.
    let stop: (code: number) => void = () => {};
    const stopped = new Promise<number>((resolve) => {
      stop = resolve;
    });
    let shuttingDown = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (shuttingDown) {
        logger.warn({ signal }, 'second signal: destroying plugins and exiting now');
        void polling?.close();
        unfollow();
        fleet.stop();
        void watcher
          .close()
          .then(() => host.destroy())
          .finally(() => {
            store.close();
            void otel?.shutdown();
            stop(1);
          });
        return;
      }
      shuttingDown = true;
      logger.info({ signal }, 'shutting down: finishing in-flight calls');
      void (async () => {
        unfollow();
        fleet.stop();
        await gateway.close();
        await polling?.close();
        await devBuilds?.close();
        await watcher.close();
        await host.close();
        store.close();
        await otel?.shutdown(); // last: it exports the spans of the calls drained above
        logger.info('plugbay stopped');
        stop(0);
      })().catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        stop(1);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const address = await gateway.listen().catch((err: unknown) => {
        const adminAddress =
          admin.adminPort === undefined
            ? ''
            : ` and ${admin.adminHostname ?? '127.0.0.1'}:${admin.adminPort}`;
        logger.error({ err }, `cannot listen on ${values.host ?? '127.0.0.1'}:${port}${adminAddress}`);
        return undefined;
      });
      if (address === undefined) {
        unfollow();
        fleet.stop();
        await host.close();
        store.close();
        await otel?.shutdown();
        return 1;
      }
      logger.info({ url: address.url, port: address.port }, `plugbay gateway listening on ${address.url}`);
      fleet.start(address.url);
      if (address.admin.url !== address.url) {
        const { url: adminUrl, port: adminPort } = address.admin;
        logger.info({ adminUrl, adminPort }, `plugbay admin API listening on ${adminUrl}`);
      }
      // The host logs each diagnostic itself; here only the summary. A signal during loading closes the host,
      // which fails the load: that is the shutdown's business, not an error.
      const report = await watcher.start().catch((err: unknown) => {
        if (!shuttingDown) throw err;
        return undefined;
      });
      if (devWatch && report !== undefined && !shuttingDown)
        devBuilds = await startDevBuilds({ dir, watcher, logger });
      const fromRegistries =
        report === undefined || shuttingDown
          ? []
          : await loadSources({
              host,
              sources,
              localDir: localDirOf(store),
              keyring: trust.hostOptions.trust?.keyring,
              insecure: values['registry-insecure'] ?? false,
              logger,
              current: sourceDigests,
            });
      if (!shuttingDown) {
        polling = pollSources({
          sources,
          intervalMs: sourcePollMs,
          localDir: localDirOf(store),
          keyring: trust.hostOptions.trust?.keyring,
          insecure: values['registry-insecure'] ?? false,
          watcher,
          logger,
          current: sourceDigests,
        });
      }
      if (report !== undefined && !shuttingDown) {
        const names = [...report.loaded.map((v) => `${v.plugin}@${v.version}`), ...fromRegistries];
        const failed = everyPluginFailed(dir, names.length, report.diagnostics);
        if (failed !== undefined) io.out(failed);
        gateway.setReady(true);
        logger.info(
          {
            dir,
            plugins: names,
            state: stateLocationOf(store),
            artifacts: artifactsDirOf(store),
            rollout: formatRolloutPolicy(rollout),
            rejected: report.diagnostics.filter((d) => d.severity === 'error').length,
          },
          'plugbay ready',
        );
      }
      return await stopped;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

/**
 * What a user must see without reading the JSON log: no plugin loaded because every one was rejected (and /readyz
 * says `failed` meanwhile). Undefined when something loaded, or when there was nothing to load.
 */
function everyPluginFailed(dir: string, loaded: number, diagnostics: Diagnostic[]): string | undefined {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (loaded > 0 || errors.length === 0) return undefined;
  const lines = errors.map((d) => `  ${relative(dir, d.dir) || '.'}: ${d.code}: ${d.message}`);
  return [
    `plugbay serve: no plugin loaded: every plugin below ${dir} was rejected (/readyz answers 503 "failed" until one loads):`,
    ...lines,
    'plugbay check <dir> shows the same problems without serving.',
  ].join('\n');
}
