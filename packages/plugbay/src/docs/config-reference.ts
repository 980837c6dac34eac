// The config reference of docs/operating-the-gateway.md, from the option table of `plugbay serve`.
import {
  flagSynopsis,
  type ServeFlag,
  serveDirArgument,
  serveEnv,
  serveFlagGroups,
  serveFlags,
} from '../cli/commands/serve-options.js';
import { blocks, code, table, text } from './markdown.js';

export function configReference(): string {
  const flags = Object.entries(serveFlags) as [string, ServeFlag][];
  const groups = (Object.keys(serveFlagGroups) as ServeFlag['group'][]).map((group) =>
    blocks(
      `${serveFlagGroups[group]}:`,
      table(
        ['option', 'default', 'meaning'],
        flags
          .filter(([, flag]) => flag.group === group)
          .map(([name, flag]) => [
            code(flagSynopsis(name, flag)),
            text(defaultOf(flag.defaultText)),
            text(flag.help),
          ]),
      ),
    ),
  );
  return blocks(
    `${code(`plugbay serve ${serveDirArgument.name} [options]`)}: ${code('dir')} is ${text(serveDirArgument.help)} ` +
      `Default: ${code(serveDirArgument.defaultText)}.`,
    ...groups,
    'Environment:',
    table(
      ['variable', 'default', 'meaning'],
      serveEnv.map((v) => [code(v.name), text(defaultOf(v.defaultText)), text(v.help)]),
    ),
    'No configuration file is read: the options above and the environment are the whole configuration. Host ' +
      'settings that have no option (call, start, stop and drain timeouts, circuit breaker) keep their library ' +
      'defaults; see "Timeouts" below.',
  );
}

function defaultOf(text: string): string {
  return text === '' ? '—' : text;
}
