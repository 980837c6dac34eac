export { definePlugin } from './define.js';
export type {
  CallContext,
  FunctionDefinition,
  FunctionExample,
  Health,
  LifecycleContext,
  LogLevel,
  Permissions,
  PluginDefinition,
  PluginLogger,
  TypedPlugin,
} from './define.js';
export { PlugbayError, errorCodes, isErrorCode, toWireError } from './errors.js';
export type { ErrorCode, ErrorSource, PlugbayErrorOptions, WireError } from './errors.js';
export { Type } from '@sinclair/typebox';
export type { Static, TSchema } from '@sinclair/typebox';
