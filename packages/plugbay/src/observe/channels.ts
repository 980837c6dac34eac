/**
 * Every node:diagnostics_channel name plugbay publishes, in one place (as undici's lib/core/diagnostics.js).
 * Library users subscribe with `diagnostics_channel.subscribe('plugbay:call:start', fn)`. plugbay publishes only
 * when a channel has subscribers, so an unobserved channel costs one property read.
 *
 * Messages (plain objects; fields may be added, never removed):
 * - `plugbay:plugin:load`      { plugin, version, tier, dir, instance }               a version loaded and started
 * - `plugbay:plugin:check`     { dir, diagnostics }                                   a directory was checked and refused
 * - `plugbay:plugin:verify`    { plugin, version, tier, status, level }               signature verification at load
 * - `plugbay:plugin:start`     { plugin, version, tier, instance }                    the plugin's start() returned
 * - `plugbay:call:start`       { plugin, version, tier, fn, arm, traceparent }        before the tier call
 * - `plugbay:call:end`         { plugin, version, tier, fn, arm, durationMs }         the call answered
 * - `plugbay:call:error`       { plugin, version, tier, fn, arm, durationMs, error }  the call failed
 * - `plugbay:route:decision`   { plugin, version, arm, key }                          the router chose a version
 * - `plugbay:route:activate`   { plugin, version, previous, revision }                activate() switched the stable
 * - `plugbay:route:rollback`   { plugin, version, previous, revision }                rollback() switched back
 * - `plugbay:route:warm`       { plugin, version, action, roundTrips, durationMs, error? }  the incoming version was
 *                                warmed before the route flipped (roundTrips 0: it was warm; error: the warm-up
 *                                failed, and the switch went on)
 * - `plugbay:instance:crash`   { plugin, version, tier, instance, error }             worker/process died
 * - `plugbay:instance:restart` { plugin, version, tier, instance }                    back to ready after a crash
 * - `plugbay:instance:crashloop` { plugin, version, tier, instance, crashloop, by, crashes, retryInMs }
 *                                `entered` (crashes, retryInMs when the tier says) or `left` (by: retry, activate,
 *                                rollback, unload); the same moments as the audit log's crashloop entries
 * - `plugbay:instance:fault`   { plugin, version, tier, instance, error }             error escaped plugin code
 * - `plugbay:instance:leak`    { plugin, version, tier, instance, leaks }             inline leak report at close
 */
import { channel } from 'node:diagnostics_channel';

export const channelNames = {
  load: 'plugbay:plugin:load',
  check: 'plugbay:plugin:check',
  verify: 'plugbay:plugin:verify',
  start: 'plugbay:plugin:start',
  callStart: 'plugbay:call:start',
  callEnd: 'plugbay:call:end',
  callError: 'plugbay:call:error',
  routeDecision: 'plugbay:route:decision',
  activate: 'plugbay:route:activate',
  rollback: 'plugbay:route:rollback',
  warm: 'plugbay:route:warm',
  crash: 'plugbay:instance:crash',
  restart: 'plugbay:instance:restart',
  crashloop: 'plugbay:instance:crashloop',
  fault: 'plugbay:instance:fault',
  leak: 'plugbay:instance:leak',
} as const;

export const channels = {
  load: channel(channelNames.load),
  check: channel(channelNames.check),
  verify: channel(channelNames.verify),
  start: channel(channelNames.start),
  callStart: channel(channelNames.callStart),
  callEnd: channel(channelNames.callEnd),
  callError: channel(channelNames.callError),
  routeDecision: channel(channelNames.routeDecision),
  activate: channel(channelNames.activate),
  rollback: channel(channelNames.rollback),
  warm: channel(channelNames.warm),
  crash: channel(channelNames.crash),
  restart: channel(channelNames.restart),
  crashloop: channel(channelNames.crashloop),
  fault: channel(channelNames.fault),
  leak: channel(channelNames.leak),
};
