export { errorToMessage } from './handlers.js';
export type { Carrier, ServeOptions } from './serve.js';
export {
  appProtocolVersion,
  launchEnv,
  magicCookieKey,
  magicCookieValue,
  optionsFromEnv,
  servePlugin,
} from './serve.js';
// The frames wire format, shared with the host's frames client so that both ends read one definition.
export type { WireErrorMessage } from './wire.js';
export {
  decodeCallResponse,
  encodeCallFrame,
  encodeCallRequest,
  FrameKind,
  frameHeaderBytes,
} from './wire.js';
