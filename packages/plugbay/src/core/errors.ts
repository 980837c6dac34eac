// The error registry lives in @plugbay/sdk so that plugin code and the host share one set of codes;
// the host re-exports it from here so that nothing in the host imports the SDK for errors directly.

export type { ErrorCode, ErrorSource, WireError } from '@plugbay/sdk';
export { errorCodes, isErrorCode, PlugbayError, toWireError } from '@plugbay/sdk';
