import { messageOf, PlugbayError } from './errors.js';
import type { RestartOptions } from './restart.js';

const restartFields = [
  'initialDelayMs',
  'maxDelayMs',
  'crashloopCount',
  'crashloopWindowMs',
  'stableAfterMs',
  'coolDownMs',
  'maxCoolDownMs',
] as const satisfies readonly (keyof RestartOptions)[];

/**
 * Collects every broken option rule of one options object and throws them together, each naming the option and
 * the rule (`thread tier: options.unresponsiveMs must be a positive integer`).
 */
export class OptionChecker {
  readonly #owner: string;
  readonly #problems: string[] = [];
  readonly #options: string[] = [];

  constructor(owner: string) {
    this.#owner = owner;
  }

  positiveInteger(name: string, value: unknown): void {
    if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) > 0)) {
      this.#add(name, `must be a positive integer, got ${String(value)}`);
    }
  }

  /** An integer from `min` to `max`, both included. */
  integer(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void {
    const n = value as number;
    if (value !== undefined && !(Number.isSafeInteger(value) && n >= min && n <= max)) {
      const range = max === Number.MAX_SAFE_INTEGER ? `of ${min} or more` : `from ${min} to ${max}`;
      this.#add(name, `must be an integer ${range}, got ${String(value)}`);
    }
  }

  nonEmptyString(name: string, value: unknown): void {
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      this.#add(name, 'must be a non-empty string');
    }
  }

  /** A rule the methods above cannot state: adds `options.<name> <rule>`. */
  fail(name: string, rule: string): void {
    this.#add(name, rule);
  }

  boolean(name: string, value: unknown): void {
    if (value !== undefined && typeof value !== 'boolean') {
      this.#add(name, `must be a boolean, got ${typeof value}`);
    }
  }

  oneOf(name: string, value: unknown, allowed: readonly string[]): void {
    if (value !== undefined && !allowed.includes(value as string)) {
      this.#add(name, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}, got ${String(value)}`);
    }
  }

  object(name: string, value: unknown): void {
    if (value !== undefined && (value === null || typeof value !== 'object')) {
      this.#add(name, 'must be an object');
    }
  }

  /** A RestartOptions object: each of its fields a positive integer. */
  restart(name: string, value: RestartOptions | undefined): void {
    this.object(name, value);
    if (value === null || typeof value !== 'object') return;
    for (const field of restartFields) this.positiveInteger(`${name}.${field}`, value[field]);
  }

  /** Runs the validator of a structured option (it throws on a bad value); its message becomes one problem. */
  parsed<T>(name: string, parse: () => T): T | undefined {
    try {
      return parse();
    } catch (err) {
      this.#add(name, messageOf(err), ': ');
      return undefined;
    }
  }

  /**
   * Throws PLUGBAY_INVALID_ARGUMENT listing every problem, if any: `details.problems` the sentences,
   * `details.options` the option each is about (in the same order), `details.option` the first of them.
   */
  done(): void {
    if (this.#problems.length === 0) return;
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `${this.#owner}: ${this.#problems.join('; ')}`, {
      details: { option: this.#options[0], options: this.#options, problems: this.#problems },
    });
  }

  #add(name: string, rule: string, joint = ' '): void {
    this.#options.push(name);
    this.#problems.push(`options.${name}${joint}${rule}`);
  }
}
