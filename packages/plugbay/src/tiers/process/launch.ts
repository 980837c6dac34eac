/**
 * Starts a plugin process and reads its handshake, go-plugin style: the host sets the magic cookie and
 * `PLUGIN_PROTOCOL_VERSIONS`; the plugin prints one line `CORE|APP-VERSION|NETWORK|ADDRESS|PROTOCOL|` on stdout.
 * Stray stdout before that line is tolerated, logged and reported if the handshake never comes; a line that looks
 * like a handshake but is wrong fails at once; exit or the start timeout fail at once. Never a hang. Every failure
 * is PLUGBAY_START_FAILED with `details.rule`, the stray stdout and the stderr tail (docs/process-tier.md).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Duplex } from 'node:stream';
import { type ErrorSource, PlugbayError } from '../../core/errors.js';
import type { PluginLoggerSink } from '../../core/types.js';
import { type ExitInfo, oomPattern } from './errors.js';
import { lineSplitter, parseLogLine } from './log-lines.js';

export interface LaunchSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** Bytes the child reads on fd 3 until EOF (bwrap's `--seccomp 3`); no fd 3 when absent. */
  fd3?: Uint8Array;
  /**
   * The command is a wrapper that exits with 128 + N when the plugin below it is killed by signal N (bwrap: its
   * `--json-status-fd` reports the same number, so nothing tells it apart from a plugin exiting with that code).
   */
  signalAsExitCode?: string | undefined;
}

export interface Handshake {
  appVersion: number;
  network: 'unix' | 'tcp';
  address: string;
  protocol: string;
}

export interface Launched {
  child: ChildProcess;
  handshake: Handshake;
  /** Settles when the process has exited (never rejects). */
  exited: Promise<ExitInfo>;
  /** Set once the process exited. */
  exitInfo: ExitInfo | undefined;
}

export interface LaunchOptions {
  startTimeoutMs: number;
  /** App protocol versions the host accepts. */
  protocolVersions: number[];
  /** The magic cookie's variable the host set (named in handshake diagnostics). */
  magicCookieKey: string;
  /** Protocol names the host accepts in the handshake's last field. */
  protocols: string[];
  log: PluginLoggerSink;
  signal?: AbortSignal;
  source: ErrorSource;
  /** This launch's own socket dir: the only place the handshake's address may name. */
  socketDir: string;
}

const maxStray = 20;
const tailLines = 20;

/** A line that is a handshake but one the host cannot accept: why, as `details.rule` and the message. */
export interface HandshakeMismatch {
  rule: 'handshake-fields' | 'core-version' | 'protocol-version' | 'network' | 'address' | 'protocol';
  reason: string;
  details?: Record<string, unknown>;
}

/** Parses a handshake line: the handshake, a mismatch when it is one but wrong, undefined when it is no handshake. */
export function parseHandshake(
  line: string,
  opts: Pick<LaunchOptions, 'protocolVersions' | 'protocols'> & { magicCookieKey?: string },
): Handshake | HandshakeMismatch | undefined {
  if (!/^\d+\|/.test(line)) return undefined;
  const parts = line.trim().split('|');
  if (parts.length < 4)
    return {
      rule: 'handshake-fields',
      reason: `handshake line has ${parts.length} fields, expected at least 4`,
    };
  const [core, app, network, address, protocol] = parts as [
    string,
    string,
    string,
    string,
    string | undefined,
  ];
  if (core !== '1')
    return { rule: 'core-version', reason: `core protocol version ${core} is not supported (expected 1)` };
  const appVersion = Number(app);
  if (!opts.protocolVersions.includes(appVersion)) {
    const cookie = opts.magicCookieKey === undefined ? '' : ` with the cookie ${opts.magicCookieKey}`;
    return {
      rule: 'protocol-version',
      reason:
        `plugin speaks app protocol version ${app}, the host expects ${opts.protocolVersions.join(' or ')} ` +
        `(plugin.json handshake.protocolVersion, sent in PLUGIN_PROTOCOL_VERSIONS${cookie}): make it match the ` +
        "plugin's HandshakeConfig.ProtocolVersion",
      details: {
        field: 'handshake.protocolVersion',
        protocolVersion: Number.isFinite(appVersion) ? appVersion : app,
        expected: {
          ...(opts.magicCookieKey === undefined ? {} : { magicCookieKey: opts.magicCookieKey }),
          protocolVersions: opts.protocolVersions,
        },
      },
    };
  }
  if (network !== 'unix' && network !== 'tcp')
    return { rule: 'network', reason: `network ${network} is not supported (unix or tcp)` };
  if (address === '') return { rule: 'address', reason: 'handshake has an empty address' };
  // go-plugin: an empty protocol field means netrpc.
  const proto = protocol === undefined || protocol === '' ? 'netrpc' : protocol;
  if (!opts.protocols.includes(proto))
    return {
      rule: 'protocol',
      reason: `protocol ${proto} is not supported here (expected ${opts.protocols.join(' or ')})`,
    };
  return { appVersion, network, address, protocol: proto };
}

/**
 * go-plugin's `plugin.Serve` (and the SDK's process entry) print this and exit 1 when the magic cookie variable is
 * missing or holds another value: the only sign of a cookie mismatch the host gets.
 */
const cookieRefusal = /not meant to be (executed|run) directly/i;

/** What the plugin wrote before failing to hand-shake, for the message (the lines are in the details). */
function whatItWrote(stray: readonly string[], stderr: readonly string[]): string {
  if (stray.length === 0 && stderr.length === 0) return 'it wrote nothing on stdout or stderr';
  const parts: string[] = [];
  if (stray.length > 0)
    parts.push(`${stray.length} stray stdout line${stray.length === 1 ? '' : 's'} (details.strayStdout)`);
  if (stderr.length > 0) parts.push(`stderr ending "${stderr.at(-1)?.slice(0, 200)}" (details.stderrTail)`);
  return `it wrote ${parts.join(' and ')}`;
}

/** Signal name of a wrapper's 128 + N exit code, when N is a signal. */
function signalOfExitCode(code: number | null): NodeJS.Signals | undefined {
  if (code === null || code <= 128) return undefined;
  const n = code - 128;
  return (Object.entries(os.constants.signals) as [NodeJS.Signals, number][]).find(([, v]) => v === n)?.[0];
}

/**
 * The real path of a handshake's address when it is a unix socket inside `socketDir`, else undefined. The host
 * connects in its own namespaces, so an address the plugin chose freely (a host socket, a symlink to one, a tcp
 * port) would make the gateway connect wherever the plugin likes.
 */
export function ownSocket(handshake: Handshake, socketDir: string): string | undefined {
  if (handshake.network !== 'unix') return undefined;
  try {
    const real = fs.realpathSync(handshake.address);
    const dir = fs.realpathSync(socketDir);
    return real.startsWith(dir + path.sep) && fs.lstatSync(real).isSocket() ? real : undefined;
  } catch {
    return undefined; // no such socket
  }
}

export function launch(spec: LaunchSpec, opts: LaunchOptions): Promise<Launched> {
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: spec.env,
    stdio: spec.fd3 === undefined ? ['pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe', 'pipe'],
  });
  const fd3 = child.stdio[3];
  if (spec.fd3 !== undefined && fd3 instanceof Duplex) {
    // The child closes its end once read; resume() lets ours close too ('close' waits for every stdio stream).
    fd3.on('error', () => {});
    fd3.end(spec.fd3);
    fd3.resume();
  }
  const stderrTail: string[] = [];
  const stray: string[] = [];
  let handshakeDone = false;
  let exitInfo: ExitInfo | undefined;
  let oom = false;

  const exited = new Promise<ExitInfo>((resolve) => {
    // 'close' rather than 'exit': stdio is drained by then, so stderrTail holds the plugin's last words (OOM).
    child.once('close', (code, signal) => {
      const seen = spec.signalAsExitCode === undefined ? undefined : signalOfExitCode(code);
      exitInfo =
        seen === undefined
          ? { code, signal, stderrTail, oom }
          : {
              code: null,
              signal: seen,
              stderrTail,
              oom,
              wrapper: { name: spec.signalAsExitCode!, exitCode: code! },
            };
      resolve(exitInfo);
    });
    child.once('error', (err) => {
      // spawn failed (ENOENT, EACCES): no 'exit' follows
      stderrTail.push(`spawn failed: ${err.message}`);
      exitInfo = { code: null, signal: null, stderrTail };
      resolve(exitInfo);
    });
  });
  child.stdin?.on('error', () => {}); // EPIPE once the plugin is gone
  child.stderr?.on(
    'data',
    lineSplitter((line) => {
      if (!oom && oomPattern.test(line)) oom = true;
      stderrTail.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
      if (stderrTail.length > tailLines) stderrTail.shift();
      opts.log.line(parseLogLine(line, 'info'));
    }),
  );

  return new Promise<Launched>((resolve, reject) => {
    const fail = (message: string, details: Record<string, unknown>): void => {
      if (handshakeDone) return;
      handshakeDone = true;
      cleanup();
      child.kill('SIGKILL');
      reject(
        new PlugbayError('PLUGBAY_START_FAILED', message, {
          ...opts.source,
          details: { ...details, strayStdout: [...stray], stderrTail: stderrTail.slice(-5) },
        }),
      );
    };
    const timer = setTimeout(
      () =>
        fail(
          `no handshake within the start timeout (${opts.startTimeoutMs} ms); ${whatItWrote(stray, stderrTail)}`,
          { rule: 'start-timeout', timeoutMs: opts.startTimeoutMs },
        ),
      opts.startTimeoutMs,
    );
    // The host's own start timeout aborts: it names itself and merges these details into its error.
    const onAbort = (): void =>
      fail(`no handshake before the launch was aborted; ${whatItWrote(stray, stderrTail)}`, {
        rule: 'aborted',
      });
    if (opts.signal?.aborted === true)
      setImmediate(onAbort); // aborted while the launch was prepared
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    exited.then((exit) => {
      // Let stderr drain first so that the error names the plugin's last words.
      setImmediate(() => {
        const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
        const exitDetails = {
          exitCode: exit.code,
          signal: exit.signal,
          ...(exit.wrapper === undefined ? {} : { wrapper: exit.wrapper }),
        };
        if (stderrTail.some((l) => cookieRefusal.test(l))) {
          fail(
            `the plugin refused the magic cookie and ${how} before the handshake: it did not find the value it ` +
              `expects in ${opts.magicCookieKey} (plugin.json handshake.magicCookieKey and magicCookieValue must ` +
              "match the plugin's HandshakeConfig)",
            {
              ...exitDetails,
              rule: 'magic-cookie',
              field: 'handshake.magicCookieValue',
              magicCookieKey: opts.magicCookieKey,
            },
          );
          return;
        }
        const last = stderrTail.at(-1);
        // Its last stderr line, when it has one, is usually why (the SDK's entry writes the load error there).
        const why =
          last === undefined ? '' : `: ${parseLogLine(last, 'info').msg.split('\n')[0]?.slice(0, 300)}`;
        fail(`plugin process ${how} before the handshake${why}`, {
          ...exitDetails,
          rule: 'exit-before-handshake',
        });
      });
    });
    child.stdout?.on(
      'data',
      lineSplitter((line) => {
        if (handshakeDone) {
          opts.log.line({ level: 'info', msg: line, fields: { stream: 'stdout' } });
          return;
        }
        const parsed = parseHandshake(line, opts);
        if (parsed === undefined) {
          if (stray.length < maxStray) stray.push(line.length > 200 ? `${line.slice(0, 200)}…` : line);
          opts.log.line({
            level: 'warn',
            msg: 'plugin wrote to stdout before its handshake',
            fields: { stream: 'stdout', line: line.slice(0, 200) },
          });
          return;
        }
        if ('reason' in parsed) {
          fail(`bad handshake: ${parsed.reason}`, {
            ...parsed.details,
            rule: parsed.rule,
            handshake: line.slice(0, 500),
          });
          return;
        }
        const address = ownSocket(parsed, opts.socketDir);
        if (address === undefined) {
          fail(
            `handshake address ${parsed.network}:${parsed.address} is not a unix socket in the plugin's socket dir`,
            {
              field: 'handshake.address',
              rule: 'socket-dir',
              address: parsed.address,
              network: parsed.network,
              socketDir: opts.socketDir,
            },
          );
          return;
        }
        handshakeDone = true;
        cleanup();
        resolve({
          child,
          handshake: { ...parsed, address },
          exited,
          get exitInfo() {
            return exitInfo;
          },
        });
      }),
    );
  });
}
