import { UsageError } from './io.js';

/** Runs node:util parseArgs (or any parsing) with its errors turned into UsageError. */
export function usageErrors<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A TCP port option: an integer 0–65535 (0 picks a free port). */
export function portOption(value: string | undefined, fallback: number, option = '--port'): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535)
    throw new UsageError(`${option} must be an integer from 0 to 65535, got "${value}"`);
  return port;
}
