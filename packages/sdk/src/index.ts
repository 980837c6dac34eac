export type { Static, TSchema } from '@sinclair/typebox';
export { Type } from '@sinclair/typebox';
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
  PluginSpan,
  SpanAttributes,
  TypedPlugin,
} from './define.js';
export { definePlugin } from './define.js';
export type { ErrorCode, ErrorSource, PlugbayErrorOptions, WireError } from './errors.js';
export { errorCodes, isErrorCode, PlugbayError, toWireError } from './errors.js';
