/**
 * transaction() (src/db/transaction.ts): all of fn's writes or none, and persist() — which only a
 * flush would write — refused rather than silently dropped.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { initOrm, type Orm } from '../../src/db/orm.js';
import { transaction } from '../../src/db/transaction.js';
import { Tenant } from '../../src/modules/tenancy/tenant.entity.js';
import { createTestDatabase } from '../support/database.js';

let orm: Orm;

beforeAll(async () => {
  orm = await initOrm(await createTestDatabase(inject('pgUrl')));
});

afterAll(async () => {
  await orm?.close();
});

const count = (slug: string) => orm.em.fork().count(Tenant, { slug });

describe('transaction()', () => {
  it('commits every write of fn, which reads its own writes', async () => {
    const seen = await transaction(orm.em.fork(), async (tx) => {
      await tx.insert(new Tenant('tx-commit-a', 'A'));
      await tx.insert(new Tenant('tx-commit-b', 'B'));
      return tx.count(Tenant, { slug: { $in: ['tx-commit-a', 'tx-commit-b'] } });
    });
    expect(seen).toBe(2);
    expect(await count('tx-commit-a')).toBe(1);
    expect(await count('tx-commit-b')).toBe(1);
  });

  it("writes nothing when fn throws after a write, and throws fn's error", async () => {
    await expect(
      transaction(orm.em.fork(), async (tx) => {
        await tx.insert(new Tenant('tx-rollback', 'R'));
        throw new Error('second step failed');
      }),
    ).rejects.toThrow('second step failed');
    expect(await count('tx-rollback')).toBe(0);
  });

  it('writes nothing when a later statement fails in the database', async () => {
    await expect(
      transaction(orm.em.fork(), async (tx) => {
        await tx.insert(new Tenant('tx-dup', 'first'));
        await tx.insert(new Tenant('tx-dup', 'same slug again'));
      }),
    ).rejects.toThrow(/unique|duplicate/i);
    expect(await count('tx-dup')).toBe(0);
  });

  it('refuses persist(), which it would never flush, and writes nothing', async () => {
    await expect(
      transaction(orm.em.fork(), async (tx) => {
        await tx.insert(new Tenant('tx-persist-a', 'A'));
        tx.persist(new Tenant('tx-persist-b', 'B'));
      }),
    ).rejects.toThrow('use tx.insert(), not persist()');
    expect(await count('tx-persist-a')).toBe(0);
    expect(await count('tx-persist-b')).toBe(0);
  });
});
