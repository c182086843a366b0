import { randomUUID } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { appendWithRow } from '../../src/modules/audit/audit.service.js';
import { ChainWriter } from '../../src/modules/audit/chain-writer.js';
import { formatOccurredAt, type StoredEvent, verifyEvents } from '../../src/modules/audit/envelope.js';
import { type ConnectionSource, pipelinedPool, prepared } from '../../src/db/sql.js';
import { createTestDatabase } from '../support/database.js';

/**
 * Group commit per chain (src/modules/audit/chain-writer.ts) on a real PostgreSQL, with the
 * statements appendWithRow builds. The `row` CTE here writes no table: it yields one row (or
 * none, or fails), so the chain part is exactly the server's.
 */
describe('ChainWriter', () => {
  let pool: pg.Pool;
  let source: ReturnType<typeof pipelinedPool>;

  beforeAll(async () => {
    const url = await createTestDatabase(inject('pgUrl'));
    pool = new pg.Pool({ connectionString: url, max: 4 });
    source = pipelinedPool(url, { max: 8 });
  });
  afterAll(async () => {
    await source?.end();
    await pool?.end();
  });

  /** An append of `{ n }` to `chain`; `divisor` 0 makes the statement fail (division by zero), `emit` false makes its row CTE empty. */
  function statement(chain: string, n: number, opts: { divisor?: number; emit?: boolean } = {}) {
    // The division is in the filter: a computed column nothing reads would never be evaluated.
    const row = { sql: `with row as (select 1 as id where ?::boolean and ?::int / ?::int >= 0)`, params: [opts.emit ?? true, n, opts.divisor ?? 1] };
    const { sql, params } = appendWithRow(row, { chain, type: 'test.appended', occurredAt: formatOccurredAt(new Date()), payload: { n } });
    return { ...prepared(sql), values: params };
  }

  async function events(chain: string): Promise<StoredEvent[]> {
    const { rows } = await pool.query(`select v, seq, type, occurred_at, payload::text as payload, prev_hash, hash from audit_event where chain = $1 order by seq`, [chain]);
    return rows.map((r) => ({ v: r.v, chain, seq: r.seq, type: r.type, occurredAt: r.occurred_at, payload: JSON.parse(r.payload), prevHash: r.prev_hash, hash: r.hash }));
  }

  function writer(maxBatch?: number) {
    const writes: number[] = [];
    const statements: string[] = [];
    const w = new ChainWriter(source, { maxBatch, onWrite: (n) => writes.push(n), onStatement: (text) => statements.push(text.split(' ')[0]) });
    return { w, writes, statements };
  }

  it('commits appends that queue behind a write together, in arrival order, on a chain that verifies', async () => {
    const chain = randomUUID();
    const { w, writes, statements } = writer();
    const results = await Promise.all(Array.from({ length: 50 }, (_, n) => w.append(chain, statement(chain, n))));
    expect(results.map((r) => (r[0] as { seq: number }).seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // The first goes alone; the 49 that queued meanwhile share one transaction (maxBatch 32: two).
    expect(writes).toEqual([1, 32, 17]);
    expect(statements.filter((s) => s === 'begin')).toHaveLength(2);
    expect(statements.filter((s) => s === 'commit')).toHaveLength(2);
    const stored = await events(chain);
    expect(stored.map((e) => e.payload.n)).toEqual(Array.from({ length: 50 }, (_, n) => n));
    expect(await verifyEvents(stored, { chain })).toMatchObject({ valid: true, checked: 50 });
  });

  it('sends a batch to PostgreSQL in one write: BEGIN, its statements and COMMIT', async () => {
    const port = Number(new URL(inject('pgUrl')).port);
    const proto = net.Socket.prototype as unknown as Record<'_write' | '_writev', (this: net.Socket, ...args: unknown[]) => unknown>;
    /** The writes this process's sockets to PostgreSQL make (one write(2) each) while 11 appends go through a writer on `from`. */
    async function socketWrites(from: ConnectionSource<pg.PoolClient>): Promise<number> {
      const chain = randomUUID();
      const w = new ChainWriter(from);
      const originals = { _write: proto._write, _writev: proto._writev };
      let writes = 0;
      for (const name of ['_write', '_writev'] as const) {
        proto[name] = function (...args) {
          if (this.remotePort === port) writes++;
          return originals[name].apply(this, args);
        };
      }
      try {
        // The first append goes alone; the ten that queue behind it are one batch.
        await Promise.all(Array.from({ length: 11 }, (_, n) => w.append(chain, statement(chain, n))));
      } finally {
        Object.assign(proto, originals);
      }
      return writes;
    }
    // Without `together`, each statement of the batch is a write of its own: 1 + (BEGIN + 10 + COMMIT).
    expect(await socketWrites({ acquire: () => source.acquire(), release: (c, broken) => source.release(c, broken) })).toBe(1 + 12);
    expect(await socketWrites(source)).toBe(1 + 1);
  });

  it('fails only the failing append of a batch: the rest are retried alone and committed', async () => {
    const chain = randomUUID();
    const { w, writes } = writer();
    const first = w.append(chain, statement(chain, 0));
    const batch = [1, 2, 3, 4, 5].map((n) => w.append(chain, statement(chain, n, { divisor: n === 3 ? 0 : 1 })).then((rows) => rows.length, (err: Error) => err.message));
    await first;
    expect(await Promise.all(batch)).toEqual([1, 1, 'division by zero', 1, 1]);
    // PostgreSQL rolled the batch of five back; then each went alone (the failing one commits nothing).
    expect(writes).toEqual([1, 1, 1, 1, 1]);
    const stored = await events(chain);
    expect(stored.map((e) => e.payload.n)).toEqual([0, 1, 2, 4, 5]);
    expect(await verifyEvents(stored, { chain })).toMatchObject({ valid: true, checked: 5 });
    // Connections went back to the pool in a usable state: no transaction left open.
    expect((await pool.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`)).rows[0].n).toBe(0);
  });

  it('appends nothing for a row CTE that wrote no row, without disturbing its batch', async () => {
    const chain = randomUUID();
    const { w, writes } = writer();
    const first = w.append(chain, statement(chain, 0));
    const batch = [1, 2, 3].map((n) => w.append(chain, statement(chain, n, { emit: n !== 2 })));
    await first;
    expect((await Promise.all(batch)).map((rows) => rows.length)).toEqual([1, 0, 1]);
    expect(writes).toEqual([1, 3]);
    const stored = await events(chain);
    expect(stored.map((e) => [e.seq, e.payload.n])).toEqual([[1, 0], [2, 1], [3, 3]]);
    expect(await verifyEvents(stored, { chain })).toMatchObject({ valid: true, checked: 3 });
  });

  it('keeps chains apart: a chain whose head is locked elsewhere does not hold up another', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const { w } = writer();
    await Promise.all([w.append(a, statement(a, 0)), w.append(b, statement(b, 0))]);
    const holder = await pool.connect();
    try {
      await holder.query('begin');
      await holder.query('select * from audit_chain_head where chain = $1 for update', [a]);
      let aDone = false;
      const blocked = w.append(a, statement(a, 1)).then((rows) => ((aDone = true), rows));
      const queued = w.append(a, statement(a, 2));
      expect(await w.append(b, statement(b, 1))).toHaveLength(1);
      expect(aDone).toBe(false);
      await holder.query('commit');
      expect((await blocked)[0]).toMatchObject({ seq: 2 });
      expect((await queued)[0]).toMatchObject({ seq: 3 });
    } finally {
      holder.release();
    }
    expect(await verifyEvents(await events(a), { chain: a })).toMatchObject({ valid: true, checked: 3 });
    expect(await verifyEvents(await events(b), { chain: b })).toMatchObject({ valid: true, checked: 2 });
  });
});
