/**
 * `GET /v1/fleet`: the gateways that share this gateway's state. On PostgreSQL each gateway upserts a heartbeat
 * row (cli/commands/serve-fleet.ts) and this lists them; on SQLite or memory the state is this gateway's alone and
 * the list is this gateway. The gateway only serves what its `fleet` option reports; it knows nothing of stores.
 */
import { hostname } from 'node:os';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { httpErrorOf } from './errors.js';
import { adminErrors, type DocumentedSchema, errorRef } from './schemas.js';

/** One gateway as the fleet sees it. */
export interface FleetMember {
  /** Chosen by the gateway at start-up (`<host name>-<pid>-<random>`); new at each start. */
  id: string;
  hostName: string;
  pid: number;
  /** The traffic listener's URL. */
  listen: string;
  /** ISO 8601 times: when the gateway started, when the state last heard from it. */
  started: string;
  lastSeen: string;
  /** The route revision it serves (PostgreSQL: the counter every route write bumps); null without shared state. */
  revision: number | null;
  /** Not heard from for 3 of its heartbeat intervals: stopped, hung or cut off from the database. */
  stale: boolean;
  /** This is the gateway that answered. */
  self: boolean;
}

export interface FleetReport {
  /** Where the state is kept: `postgres` (shared), `sqlite` or `memory` (this gateway's alone). */
  state: 'postgres' | 'sqlite' | 'memory';
  /** The highest revision any fresh gateway serves (null without shared state). */
  revision: number | null;
  gateways: FleetMember[];
}

/** The report of a gateway whose state is its own: itself, fresh. `listen` is read when asked (after listen()). */
export function soloFleet(kind: 'sqlite' | 'memory', listen: () => string): () => FleetReport {
  const started = new Date().toISOString();
  const id = `${hostname()}-${process.pid}`;
  return () => ({
    state: kind,
    revision: null,
    gateways: [
      {
        id,
        hostName: hostname(),
        pid: process.pid,
        listen: listen(),
        started,
        lastSeen: new Date().toISOString(),
        revision: null,
        stale: false,
        self: true,
      },
    ],
  });
}

export function registerFleetRoute(scope: FastifyInstance, fleet: () => FleetReport): void {
  scope.get('/v1/fleet', { schema: fleetSchema }, async (_request, reply) => {
    try {
      return fleet();
    } catch (err) {
      const mapped = httpErrorOf(err);
      return reply.code(mapped.status).type('application/json; charset=utf-8').send(mapped.body);
    }
  });
}

const fleetMemberSchema = Type.Object(
  {
    id: Type.String({
      description: 'Chosen at start-up: `<host name>-<pid>-<random>` (a restart is a new id)',
    }),
    hostName: Type.String({ description: 'The machine it runs on (os.hostname())' }),
    pid: Type.Integer({ description: 'Its process id' }),
    listen: Type.String({ description: 'URL of its traffic listener' }),
    started: Type.String({ format: 'date-time', description: 'When it started' }),
    lastSeen: Type.String({
      format: 'date-time',
      description: 'Its last heartbeat, by the database clock',
    }),
    revision: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
      description: 'The route revision it serves; null without shared state',
    }),
    stale: Type.Boolean({ description: 'No heartbeat for 3 of its intervals: stopped, hung or cut off' }),
    self: Type.Boolean({ description: 'The gateway that answered' }),
  },
  { additionalProperties: false },
);

const fleetSchema: DocumentedSchema = {
  tags: ['Status and health'],
  summary: 'The gateways that share this state',
  description:
    'With `--state postgres://…`: every gateway that sent a heartbeat to the database (each sends one every ' +
    '`--heartbeat-ms`), the route revision it serves (a counter every route write bumps in its transaction; equal ' +
    'revisions serve equal routes) and whether it is stale (not heard from for 3 of its intervals). With a SQLite ' +
    'or memory state: this gateway alone. 503 PLUGBAY_STATE_UNAVAILABLE while the database is unreachable.',
  response: {
    200: Type.Object(
      {
        state: Type.Union([Type.Literal('postgres'), Type.Literal('sqlite'), Type.Literal('memory')], {
          description:
            'Where the state is kept: postgres is shared, sqlite and memory are this gateway’s alone',
        }),
        revision: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
          description: 'The highest route revision a fresh gateway serves; null without shared state',
        }),
        gateways: Type.Array(fleetMemberSchema, { description: 'Oldest first' }),
      },
      { additionalProperties: false },
    ),
    503: errorRef('PLUGBAY_STATE_UNAVAILABLE: the shared state (PostgreSQL) is unreachable; retry later'),
    ...adminErrors,
  },
};
