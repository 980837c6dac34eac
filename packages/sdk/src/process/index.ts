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
