import type { TierKind } from '../../core/types.js';
import { conformance } from '../../testing/conformance.js';
import { formatReport } from '../../testing/report.js';
import { parseCommandArgs } from '../args.js';
import { type Command, UsageError } from '../io.js';

const tiers: readonly TierKind[] = ['inline', 'thread', 'process', 'wasm'];

export const testCommand: Command = {
  name: 'test',
  usage: `plugbay test <dir> [--tier inline|thread|process|wasm] [--contract <snapshot.json>]... [--stop-timeout <ms>] [--json]

Runs the conformance checks on the plugin in dir, in a real host: manifest valid, declared contracts satisfied,
loads and starts, no undeclared exports, health answers, every example's output validates (and equals the
expected output when given), stop() within its timeout, no timers left behind inline. Each failure names the
problem and the fix. Node plugins are also loaded inline once, in this process, for the timer-leak check.
Exits 0 when every check passes, 1 when one fails, 2 on bad arguments.`,
  async run(args, io) {
    const { positionals, values } = parseCommandArgs(args, {
      tier: { type: 'string' },
      contract: { type: 'string', multiple: true },
      'stop-timeout': { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('takes exactly one plugin directory');
    const tier = values.tier as TierKind | undefined;
    if (tier !== undefined && !tiers.includes(tier)) {
      throw new UsageError(`--tier must be one of ${tiers.join(', ')}, got "${tier}"`);
    }
    const stop = values['stop-timeout'];
    if (stop !== undefined && !/^[1-9]\d*$/.test(stop)) {
      throw new UsageError(`--stop-timeout must be a positive integer (ms), got "${stop}"`);
    }
    const report = await conformance(positionals[0]!, {
      ...(tier ? { tier } : {}),
      ...(values.contract ? { contracts: values.contract } : {}),
      ...(stop ? { stopTimeoutMs: Number(stop) } : {}),
    });
    io.out(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.ok ? 0 : 1;
  },
};
