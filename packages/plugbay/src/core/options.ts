import { PlugbayError } from './errors.js';

/**
 * Collects every broken option rule of one options object and throws them together, each naming the option and
 * the rule (`thread tier: options.unresponsiveMs must be a positive integer`).
 */
export class OptionChecker {
  readonly #owner: string;
  readonly #problems: string[] = [];

  constructor(owner: string) {
    this.#owner = owner;
  }

  positiveInteger(name: string, value: unknown): void {
    if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) > 0)) {
      this.#problems.push(`options.${name} must be a positive integer, got ${String(value)}`);
    }
  }

  boolean(name: string, value: unknown): void {
    if (value !== undefined && typeof value !== 'boolean') {
      this.#problems.push(`options.${name} must be a boolean, got ${typeof value}`);
    }
  }

  oneOf(name: string, value: unknown, allowed: readonly string[]): void {
    if (value !== undefined && !allowed.includes(value as string)) {
      this.#problems.push(
        `options.${name} must be one of ${allowed.map((a) => `"${a}"`).join(', ')}, got ${String(value)}`,
      );
    }
  }

  object(name: string, value: unknown): void {
    if (value !== undefined && (value === null || typeof value !== 'object')) {
      this.#problems.push(`options.${name} must be an object`);
    }
  }

  /** An integer in min..max, both included. */
  integerIn(name: string, value: unknown, min: number, max: number): void {
    if (
      value !== undefined &&
      !(Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max)
    ) {
      this.#problems.push(`options.${name} must be an integer in ${min}..${max}, got ${String(value)}`);
    }
  }

  /** A rule no other method states: when `ok` is false, `options.<name> must <rule>`. */
  rule(name: string, ok: boolean, rule: string): void {
    if (!ok) this.#problems.push(`options.${name} must ${rule}`);
  }

  /** Throws PLUGBAY_INVALID_ARGUMENT listing every problem, if any. */
  done(): void {
    if (this.#problems.length === 0) return;
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `${this.#owner}: ${this.#problems.join('; ')}`, {
      details: { problems: this.#problems },
    });
  }
}
