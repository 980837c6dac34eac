// The PostgreSQL store's schema and the names it shares with other sessions (channel, lock keys).

/** Schema migrations, applied in order; each row of `plugbay.schema_migrations` is one applied. Append, never edit. */
export const pgMigrations: readonly string[] = [
  `CREATE TABLE plugbay.routes (
     plugin text PRIMARY KEY,
     route text NOT NULL,
     updated timestamptz NOT NULL
   );
   CREATE TABLE plugbay.stable_history (
     seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     plugin text NOT NULL,
     version text NOT NULL,
     time timestamptz NOT NULL
   );
   CREATE INDEX stable_history_plugin ON plugbay.stable_history (plugin, seq);
   CREATE TABLE plugbay.audit (
     id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     time timestamptz NOT NULL,
     actor text NOT NULL,
     action text NOT NULL,
     plugin text NOT NULL,
     version text,
     reason text,
     details text
   );
   CREATE INDEX audit_plugin ON plugbay.audit (plugin, id);
   CREATE TABLE plugbay.grants (
     plugin text NOT NULL,
     capability text NOT NULL,
     time timestamptz NOT NULL,
     PRIMARY KEY (plugin, capability)
   );`,
  // 2: the route revision (bumped by every route write, in its transaction) and the fleet's heartbeats.
  `CREATE TABLE plugbay.route_revision (
     singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
     revision bigint NOT NULL
   );
   INSERT INTO plugbay.route_revision (revision) VALUES (0);
   CREATE TABLE plugbay.gateways (
     id text PRIMARY KEY,
     host_name text NOT NULL,
     pid integer NOT NULL,
     listen text NOT NULL,
     started timestamptz NOT NULL,
     last_seen timestamptz NOT NULL,
     interval_ms integer NOT NULL,
     revision bigint NOT NULL
   );`,
  // 3: progressive rollouts, one record per plugin (JSON text); updated_at is the compare-and-set token, kept as
  // the exact ISO text the store stamped (a timestamptz would round-trip to another spelling).
  `CREATE TABLE plugbay.rollouts (
     plugin text PRIMARY KEY,
     record text NOT NULL,
     updated_at text NOT NULL
   );`,
];

/** The channel every committed change is announced on (payload: `{"plugin":…,"id":<audit id>}`). */
export const PG_CHANGE_CHANNEL = 'plugbay_state';

/** Serialises schema migrations of gateways starting together (one advisory lock key for the whole schema). */
export const MIGRATION_LOCK = 'plugbay:migrate';
/** The advisory lock every write to a plugin's state holds for its transaction. */
export const pluginLockKey = (plugin: string) => `plugbay:plugin:${plugin}`;
