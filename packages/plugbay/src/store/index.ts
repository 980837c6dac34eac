// Persisted rollout state: routes, stable history and the audit log. MemoryStateStore is the library's default,
// SqliteStateStore the gateway's (`.plugbay/state.db`), PostgresStateStore a fleet's (`--state postgres://…`).

export type { StateProblem } from './errors.js';
export { STATE_UNAVAILABLE } from './errors.js';
export { MemoryStateStore } from './memory.js';
export type { PgProblem, PostgresStateStoreOptions } from './postgres.js';
export { PG_CHANGE_CHANNEL, PG_SCHEMA_VERSION, PostgresStateStore } from './postgres.js';
export type { SqliteStateStoreOptions } from './sqlite.js';
export { SqliteStateStore, STATE_SCHEMA_VERSION } from './sqlite.js';
export type {
  AuditAction,
  AuditEntry,
  AuditInput,
  AuditQuery,
  StableRecord,
  StateChange,
  StateStore,
  StateStoreOptions,
  StoredRoute,
} from './types.js';
