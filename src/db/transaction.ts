import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * `fn` in one database transaction, on a fork of `em` bound to it. Writes are explicit statements
 * (`tx.insert`, `tx.nativeUpdate`, `tx.execute`), never MikroORM's unit of work: em.transactional()
 * and flush() run inside AsyncLocalStorage scopes, and on Node 20 one AsyncLocalStorage that has
 * ever run keeps async_hooks promise hooks on for every promise of the process for the rest of
 * its life — measured at a third of a `{ __typename }` request's CPU (bench/NOTES.md). So nothing
 * the server does enables them (test/integration/promise-hooks.test.ts), this is how it writes
 * in a transaction. Reads inside `fn` (`tx.find`, `tx.count`, …) see the transaction's writes.
 */
export async function transaction<T>(em: EntityManager, fn: (tx: EntityManager) => Promise<T>): Promise<T> {
  const tx = em.fork({ clear: true });
  await tx.begin();
  const connection = tx.getConnection('write');
  const ctx = tx.getTransactionContext()!;
  let result: T;
  try {
    result = await fn(tx);
    // persist() would only reach the database through a flush, which this never runs.
    if (tx.getUnitOfWork().getPersistStack().size > 0) throw new Error('transaction(): use tx.insert(), not persist()');
  } catch (err) {
    // The error to report is fn's; a rollback that fails too (the connection is gone) ends the transaction anyway.
    await tx.rollback().catch(() => {});
    throw err;
  }
  await connection.commit(ctx);
  return result;
}
