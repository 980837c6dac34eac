import { PlugbayError } from '../../core/errors.js';
import type { NotSelected } from './select.js';

/**
 * The error a call gets when selectVersion() finds no version: PLUGBAY_NO_INSTANCE listing every choice tried and
 * why it was skipped, or PLUGBAY_INVALID_ARGUMENT for a pin that is neither a version nor a range.
 */
export function selectionError(plugin: string, selection: NotSelected, pin?: string): PlugbayError {
  if (selection.reason === 'invalid-pin') {
    return new PlugbayError(
      'PLUGBAY_INVALID_ARGUMENT',
      `version "${pin ?? ''}" asked of ${plugin} is neither a version nor a semver range`,
      { plugin, details: { field: 'version', rule: 'semver-range', value: pin } },
    );
  }
  const tried = selection.skipped
    .map((s) => `${s.arm} ${s.version ?? '(highest release)'} ${s.why}`)
    .join(', ');
  return new PlugbayError('PLUGBAY_NO_INSTANCE', `no version of ${plugin} can answer the call: ${tried}`, {
    plugin,
    details: { skipped: selection.skipped.map((s) => ({ ...s })) },
  });
}
