// `plugbay rollout start|status|pause|resume|promote|abort`: progressive rollouts through the admin API.
import type { RolloutRecord } from '../../host/rollout-spec.js';
import { parseCommandArgs } from '../args.js';
import { type Command, UsageError } from '../io.js';
import { table } from '../table.js';
import { adminOptionsUsage, clientOptions, finish, parseAdminArgs, request } from './admin-client.js';

const startOptions = {
  ...clientOptions,
  steps: { type: 'string' },
  interval: { type: 'string' },
  stable: { type: 'string' },
  'max-error-rate-increase': { type: 'string' },
  'max-p99-ratio': { type: 'string' },
  'min-calls': { type: 'string' },
} as const;

const actions = ['pause', 'resume', 'promote', 'abort'] as const;

export const rolloutCommand: Command = {
  name: 'rollout',
  usage: `plugbay rollout start <plugin> <version> [--steps 1,5,25,50,100] [--interval 30s] [--stable <version>]
                      [--max-error-rate-increase 1] [--max-p99-ratio 1.5] [--min-calls 50]
plugbay rollout status [<plugin>]
plugbay rollout pause|resume|promote|abort <plugin>

start: sends the canary the first step of traffic; at the end of each interval the gateway compares it with
stable (error rate in percentage points, p99 ratio, at least --min-calls canary calls) and moves to the next step,
promotes it at 100, or rolls back to stable at once when it is worse. status: the step, the state and each
decision with its evidence. pause holds the step, resume restarts it, promote activates the canary now, abort
returns all traffic to stable. Every decision is in the audit log (plugbay audit <plugin>).
${adminOptionsUsage}`,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub === 'start') {
      const { positionals, values } = parseCommandArgs(rest, startOptions);
      if (positionals.length !== 2) throw new UsageError('expects start <plugin> <version>');
      const thresholds: Record<string, number> = {};
      for (const [flag, key] of [
        ['max-error-rate-increase', 'maxErrorRateIncrease'],
        ['max-p99-ratio', 'maxP99Ratio'],
        ['min-calls', 'minCalls'],
      ] as const) {
        const text = values[flag];
        if (text === undefined) continue;
        const n = Number(text);
        if (text.trim() === '' || !Number.isFinite(n))
          throw new UsageError(`--${flag} must be a number, got "${text}"`);
        thresholds[key] = n;
      }
      const steps = values.steps?.split(',').map((s) => {
        const n = Number(s.trim());
        if (s.trim() === '' || !Number.isInteger(n))
          throw new UsageError(`--steps must be percents such as 1,5,25,50,100, got "${values.steps}"`);
        return n;
      });
      const body = {
        plugin: positionals[0],
        version: positionals[1],
        ...(steps === undefined ? {} : { steps }),
        ...(values.interval === undefined ? {} : { interval: values.interval }),
        ...(values.stable === undefined ? {} : { stable: values.stable }),
        ...(Object.keys(thresholds).length === 0 ? {} : { thresholds }),
      };
      const answer = await request(values, 'POST', '/v1/admin/rollouts', JSON.stringify(body));
      return finish(
        io,
        values,
        answer,
        (r: RolloutRecord) => `rollout of ${r.plugin} started\n${describe(r)}`,
      );
    }
    if (sub === 'status') {
      const { positionals, values } = parseAdminArgs(rest, 'status [<plugin>]', 0, 1);
      const plugin = positionals[0];
      if (plugin === undefined) {
        const answer = await request(values, 'GET', '/v1/admin/rollouts');
        return finish(io, values, answer, (b: { rollouts: RolloutRecord[] }) =>
          b.rollouts.length === 0
            ? 'no rollouts'
            : table(
                ['PLUGIN', 'CANARY', 'STABLE', 'STATE', 'STEP', 'LAST DECISION'],
                b.rollouts.map((r) => [
                  r.plugin,
                  r.version,
                  r.stable,
                  r.state,
                  `${r.steps[r.stepIndex]} % (${r.stepIndex + 1}/${r.steps.length})`,
                  r.history.at(-1)?.reason ?? '',
                ]),
              ),
        );
      }
      const answer = await request(values, 'GET', `/v1/admin/rollouts/${encodeURIComponent(plugin)}`);
      return finish(io, values, answer, (r: RolloutRecord) => describe(r));
    }
    if ((actions as readonly string[]).includes(sub ?? '')) {
      const { positionals, values } = parseAdminArgs(rest, `${sub} <plugin>`, 1);
      const path = `/v1/admin/rollouts/${encodeURIComponent(positionals[0]!)}/${sub}`;
      const answer = await request(values, 'POST', path, '{}');
      return finish(
        io,
        values,
        answer,
        (r: RolloutRecord) => `rollout of ${r.plugin}: ${r.state}\n${describe(r)}`,
      );
    }
    throw new UsageError(
      sub === undefined
        ? 'expects start, status, pause, resume, promote or abort'
        : `unknown subcommand "${sub}" (start, status, pause, resume, promote or abort)`,
    );
  },
};

/** A rollout in words: where it is, then each decision with both sides' numbers. */
function describe(r: RolloutRecord): string {
  const head = [
    `${r.plugin}: canary ${r.version} vs stable ${r.stable}, ${r.state} at step ${r.stepIndex + 1}/${r.steps.length} (${r.steps[r.stepIndex]} %)`,
    `steps ${r.steps.join(', ')} every ${r.intervalMs} ms; thresholds: error rate +${r.thresholds.maxErrorRateIncrease} points, p99 ×${r.thresholds.maxP99Ratio}, ${r.thresholds.minCalls} calls`,
  ];
  const side = (w: RolloutRecord['history'][number]['canary']) =>
    `${w.calls} calls, ${Math.round(w.errorRate * 10_000) / 100} % errors${w.p99Ms === undefined ? '' : `, p99 ${Math.round(w.p99Ms * 10) / 10} ms`}`;
  const rows = r.history.map((d) => [
    new Date(d.at).toISOString().slice(11, 23),
    `${d.weight} %`,
    d.verdict,
    side(d.canary),
    side(d.stable),
    d.reason,
  ]);
  return `${head.join('\n')}\n${table(['TIME', 'WEIGHT', 'DECISION', 'CANARY', 'STABLE', 'REASON'], rows)}`;
}
