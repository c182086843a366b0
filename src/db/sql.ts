import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { EntityManager } from '@mikro-orm/postgresql';
import pg from 'pg';

/** A statement as node-postgres takes it: named (prepared once per connection) or not, with bind values. */
export interface Statement {
  name?: string;
  text: string;
  values: unknown[];
}

/** What we use of a node-postgres client (a pg.Client, a pool's client, or a knex connection). */
export interface PgClient {
  query(statement: Statement | string): Promise<{ rows: unknown[]; command?: string }>;
}

/** Where connections come from. `release` gets the error that broke a connection, so the pool can drop it. */
export interface ConnectionSource<C extends PgClient = PgClient> {
  acquire(): Promise<C>;
  release(connection: C, broken?: Error): Promise<void> | void;
  /**
   * Run `submit`, which sends several statements on `connection` without waiting, so that they
   * leave in one write(2) rather than one each. Optional: without it they are simply sent.
   */
  together?<T>(connection: C, submit: () => T): T;
}
interface KnexClient {
  acquireConnection(): Promise<PgClient>;
  releaseConnection(connection: PgClient): Promise<void>;
}

/** `?` placeholders (the ORM's style) as PostgreSQL's `$1, $2, …`; our SQL has no `?` in literals. */
export function positional(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/**
 * One prepared statement on the ORM's own connection pool, with bind parameters, outside any ORM
 * transaction. For the hot paths (authentication, the active policy, the dispatch append),
 * where MikroORM's execute() inlines every parameter into the SQL text first: measured at
 * ~45 % of a dispatch's CPU (bench/NOTES.md). Single statements only: each is its own
 * transaction, so it is atomic without BEGIN/COMMIT round trips.
 */
export async function query<R>(em: EntityManager, sql: string, values: unknown[] = []): Promise<R[]> {
  const statement = prepared(sql);
  return withPoolConnection(em, async (connection) => {
    const started = performance.now();
    const rows = (await connection.query({ ...statement, values })).rows as R[];
    // Through the ORM's query logger like every other statement (a no-op unless `debug` is on).
    em.config.getLogger().logQuery({ query: sql, took: Math.round(performance.now() - started), results: rows.length, level: 'info' });
    return rows;
  });
}

/**
 * A timestamptz column selected as ISO-8601 UTC text (`… as column`), for rows read with query():
 * the driver's timestamp parsing is the ORM's, configured to strings.
 */
export function isoUtc(column: string): string {
  return `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as ${column}`;
}

const statements = new Map<string, { name: string; text: string }>();

/** Named statements per process, and so per connection at most; a text beyond them runs unnamed (parsed and planned each time). */
const MAX_NAMED = 500;

/**
 * A named prepared statement for `sql` (`?` placeholders): PostgreSQL parses and plans it once
 * per connection instead of on every call, and only the name and parameters cross the wire after
 * that. The name is derived from the text, so the same text is the same statement on every
 * connection. No values are ever inlined; the texts are our statements and, for inference pages,
 * the column lists of the fields a query selects — bounded by MAX_NAMED whatever clients send.
 */
export function prepared(sql: string): { name?: string; text: string } {
  let s = statements.get(sql);
  if (!s) {
    if (statements.size >= MAX_NAMED) return { text: positional(sql) };
    s = { name: `ainfera_${createHash('sha256').update(sql).digest('hex').slice(0, 32)}`, text: positional(sql) };
    statements.set(sql, s);
  }
  return s;
}

/** A connection of the ORM's own pool for `fn` (e.g. a streaming statement, which query() would buffer whole), always given back. */
export async function withPoolConnection<T, C = PgClient>(em: EntityManager, fn: (connection: C) => Promise<T>): Promise<T> {
  const client = em.getConnection().getKnex().client as unknown as KnexClient;
  const connection = await client.acquireConnection();
  try {
    return await fn(connection as unknown as C);
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * A small pool of its own whose connections pipeline (node-postgres `pipeline: true`): statements
 * sent together go out at once and PostgreSQL runs them back to back, without a round trip between
 * them. For the ChainWriter, which sends a batch of appends as BEGIN, the statements and COMMIT.
 * A connection the database ends (a restart) fails the statements waiting on it and is dropped;
 * its error goes to `onConnectionError`, never up as an uncaught exception — a connection in use
 * emits it too, where the pool's own listener covers only idle ones.
 */
export function pipelinedPool(url: string, opts: { max: number; onConnectionError?: (err: Error) => void }): ConnectionSource<pg.PoolClient> & { end(): Promise<void> } {
  const pool = new pg.Pool({ connectionString: url, max: opts.max, pipeline: true });
  const reportError = (err: Error) => opts.onConnectionError?.(err);
  pool.on('error', reportError);
  pool.on('connect', (client) => client.on('error', reportError));
  return {
    acquire: () => pool.connect(),
    release: (connection, broken) => connection.release(broken),
    // node-postgres submits a pipelined query synchronously and writes each on its own (BEGIN and
    // COMMIT as one write each, an extended-protocol statement as one corked write); corking the
    // socket around the submissions sends a batch in one write, and wakes PostgreSQL once.
    together(connection, submit) {
      const socket = (connection as unknown as { connection?: { stream?: Writable } }).connection?.stream;
      socket?.cork();
      try {
        return submit();
      } finally {
        socket?.uncork();
      }
    },
    end: () => pool.end(),
  };
}
