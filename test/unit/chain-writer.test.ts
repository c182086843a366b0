import { describe, expect, it } from 'vitest';
import { ChainWriter } from '../../src/modules/audit/chain-writer.js';
import type { ConnectionSource, PgClient, Statement } from '../../src/db/sql.js';

/**
 * The ChainWriter's decisions on a connection that behaves like PostgreSQL's, including what a real
 * one will not produce on demand: a COMMIT that fails (its outcome unknown) and a pool that cannot
 * give a connection. The same paths run against PostgreSQL in test/integration/chain-writer.test.ts.
 */
function fakeSource(failOn: (text: string) => Error | null) {
  const sent: string[] = [];
  const released: Array<Error | undefined> = [];
  // Like PostgreSQL on one connection: statements run in the order sent; after an error inside
  // BEGIN … COMMIT the rest fail, and COMMIT answers ROLLBACK.
  let queue: Promise<unknown> = Promise.resolve();
  let txn: 'none' | 'open' | 'aborted' = 'none';
  const run = async (text: string) => {
    await new Promise((r) => setTimeout(r, 1));
    if (text === 'begin') return ((txn = 'open'), { rows: [], command: 'BEGIN' });
    if (text === 'commit' && txn === 'aborted') return ((txn = 'none'), { rows: [], command: 'ROLLBACK' });
    if (txn === 'aborted') throw new Error('current transaction is aborted, commands ignored until end of transaction block');
    const err = failOn(text);
    if (err) {
      if (txn === 'open') txn = 'aborted';
      throw err;
    }
    if (text === 'commit') return ((txn = 'none'), { rows: [], command: 'COMMIT' });
    return { rows: [{ text }], command: 'INSERT' };
  };
  const connection: PgClient = {
    query(s: Statement | string) {
      const text = typeof s === 'string' ? s : s.text;
      sent.push(text);
      const result = queue.then(() => run(text));
      queue = result.catch(() => undefined);
      return result;
    },
  };
  const source: ConnectionSource = { acquire: async () => connection, release: (_c, broken) => void released.push(broken) };
  return { source, sent, released };
}

const st = (text: string): Statement => ({ text, values: [] });

describe('ChainWriter failure paths', () => {
  it('gives every append of a batch the COMMIT error and retries none of them', async () => {
    const lost = new Error('Connection terminated unexpectedly');
    const { source, sent, released } = fakeSource((text) => (text === 'commit' ? lost : null));
    const w = new ChainWriter(source);
    const first = w.append('c', st('a0'));
    const batch = ['a1', 'a2', 'a3'].map((t) => w.append('c', st(t)).then(() => 'ok', (err: Error) => err.message));
    expect(await first).toEqual([{ text: 'a0' }]);
    expect(await Promise.all(batch)).toEqual(['Connection terminated unexpectedly', 'Connection terminated unexpectedly', 'Connection terminated unexpectedly']);
    // Each statement went out once: an unknown outcome is never written twice.
    expect(sent).toEqual(['a0', 'begin', 'a1', 'a2', 'a3', 'commit']);
    // The connection of the failed COMMIT is handed back as broken, so the pool drops it.
    expect(released).toEqual([undefined, lost]);
  });

  it('retries each append of a batch alone when PostgreSQL rolled the batch back, so only the failing one fails', async () => {
    const { source, sent, released } = fakeSource((text) => (text === 'a2' ? new Error('division by zero') : null));
    const w = new ChainWriter(source);
    const first = w.append('c', st('a0'));
    const batch = ['a1', 'a2', 'a3'].map((t) => w.append('c', st(t)).then(() => 'ok', (err: Error) => err.message));
    await first;
    expect(await Promise.all(batch)).toEqual(['ok', 'division by zero', 'ok']);
    // The batch went out at once (pipelined); its COMMIT came back as ROLLBACK; then each alone.
    expect(sent).toEqual(['a0', 'begin', 'a1', 'a2', 'a3', 'commit', 'a1', 'a2', 'a3']);
    expect(released.every((r) => r === undefined)).toBe(true);
  });

  it('rejects the appends waiting on a chain when no connection can be had, and goes on with later ones', async () => {
    let fail = true;
    const { source } = fakeSource(() => null);
    const w = new ChainWriter({ acquire: () => (fail ? Promise.reject(new Error('pool exhausted')) : source.acquire()), release: source.release });
    const first = w.append('c', st('a0')).catch((err: Error) => err.message);
    const batch = ['a1', 'a2'].map((t) => w.append('c', st(t)).catch((err: Error) => err.message));
    expect(await first).toBe('pool exhausted');
    expect(await Promise.all(batch)).toEqual(['pool exhausted', 'pool exhausted']);
    fail = false;
    expect(await w.append('c', st('a3'))).toEqual([{ text: 'a3' }]);
  });
});
