import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamEvents, verifyChain } from '../../src/modules/audit/audit.service.js';
import { SEQ_MAX, verifyRangesInWorkers } from '../../src/modules/audit/chain-verify.js';
import { ENVELOPE_VERSION, joinRanges, sealEvent, type StoredEvent, verifyEvents, ZERO_HASH } from '../../src/modules/audit/envelope.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { sqlClient } from '../support/database.js';

/** Long enough for verifyChain to cut the chain into ranges for worker threads (two on two cores: 1–10000, 10001–…). */
const LENGTH = 20_000;

/**
 * A long chain written straight into the tables (dispatching 20,000 inferences would take minutes),
 * sealed with the server's own envelope code, and its head row.
 */
async function seed(client: pg.Client, chain: string): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let prevHash = ZERO_HASH;
  for (let seq = 1; seq <= LENGTH; seq++) {
    const e = sealEvent({ v: ENVELOPE_VERSION, chain, seq, type: 'inference.routed', occurredAt: new Date(Date.UTC(2026, 10, 1) + seq * 37).toISOString(), payload: { inferenceId: randomUUID(), costUsd: '0.000071', attempts: [{ model: 'm', latencyMs: seq % 17 }], usage: { inputTokens: seq } }, prevHash });
    events.push(e);
    prevHash = e.hash;
  }
  await client.query(
    `insert into audit_event (chain, seq, v, type, occurred_at, payload, prev_hash, hash)
     select $1::uuid, * from unnest($2::int[], $3::smallint[], $4::text[], $5::text[], $6::jsonb[], $7::char(64)[], $8::char(64)[])`,
    [chain, events.map((e) => e.seq), events.map((e) => e.v), events.map((e) => e.type), events.map((e) => e.occurredAt), events.map((e) => JSON.stringify(e.payload)), events.map((e) => e.prevHash), events.map((e) => e.hash)],
  );
  await client.query(`insert into audit_chain_head (chain, seq, hash, prev_hash) values ($1, $2, $3, $4)`, [chain, LENGTH, prevHash, events[LENGTH - 2].hash]);
  return events;
}

describe('verifying a long chain on worker threads', () => {
  let t: TestApp;
  let tamper: pg.Client;
  let chain: string;

  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'silent' } });
    tamper = await sqlClient(t.dbUrl);
    await tamper.query(`set session_replication_role = replica`);
    chain = (await t.newTenant()).tenantId;
    await seed(tamper, chain);
  }, 120_000);
  afterAll(async () => {
    await tamper.end();
    await t.stop();
  });

  /** The one-pass verifier over the whole stream: what every tampering must be reported as. */
  const singlePass = async () => verifyEvents(streamEvents(t.app.deps.orm.em.fork(), chain), { chain });

  it('runs the worker threads (under vitest too) and finds the chain valid', async () => {
    const url = t.app.deps.orm.config.get('clientUrl')!;
    const ranges = await verifyRangesInWorkers(url, [
      { chain, fromSeq: 1, after: 0, upTo: 10_000 },
      { chain, fromSeq: 10_001, after: 10_000, upTo: SEQ_MAX },
    ]);
    expect(ranges.map((r) => r.count)).toEqual([10_000, 10_000]);
    expect(joinRanges(ranges)).toMatchObject({ valid: true, checked: LENGTH });
    expect(await verifyChain(t.app.deps.orm.em.fork(), chain)).toEqual({ valid: true, checked: LENGTH, firstInvalidSeq: null, reason: null });
  });

  const SWAP = [
    `update audit_event set seq = -1 where chain = $1 and seq = 10000`,
    `update audit_event set seq = 10000 where chain = $1 and seq = 10001`,
    `update audit_event set seq = 10001 where chain = $1 and seq = -1`,
  ];
  // Each case tampers, checks, and puts the chain back, so they share the one seeded chain.
  const cases: Array<[string, string | string[], string | string[], number]> = [
    ['a changed payload in the second range', `update audit_event set payload = jsonb_set(payload::jsonb, '{costUsd}', '"1"')::json where chain = $1 and seq = 15000`, `update audit_event set payload = jsonb_set(payload::jsonb, '{costUsd}', '"0.000071"')::json where chain = $1 and seq = 15000`, 15_000],
    ['a changed prev_hash on the first event of the second range', `update audit_event set prev_hash = repeat('b', 64) where chain = $1 and seq = 10001`, `update audit_event e set prev_hash = p.hash from audit_event p where e.chain = $1 and p.chain = $1 and e.seq = 10001 and p.seq = 10000`, 10_001],
    ['a changed hash on the last event of the first range', `update audit_event set hash = repeat('a', 64) where chain = $1 and seq = 10000`, `update audit_event e set hash = n.prev_hash from audit_event n where e.chain = $1 and n.chain = $1 and e.seq = 10000 and n.seq = 10001`, 10_000],
    // seq ≤ 0 is outside the chain for the verifier (it reads seq > 0), so moving an event there removes it.
    ['a missing first event of the second range', `update audit_event set seq = -5 where chain = $1 and seq = 10001`, `update audit_event set seq = 10001 where chain = $1 and seq = -5`, 10_001],
    ['a missing last event of the first range', `update audit_event set seq = -5 where chain = $1 and seq = 10000`, `update audit_event set seq = 10000 where chain = $1 and seq = -5`, 10_000],
    ['a missing event inside the second range', `update audit_event set seq = -5 where chain = $1 and seq = 12000`, `update audit_event set seq = 12000 where chain = $1 and seq = -5`, 12_000],
    ['events swapped across the boundary', SWAP, SWAP, 10_000],
    ['a truncated tail in the second range', `update audit_event set seq = -seq where chain = $1 and seq >= 19990`, `update audit_event set seq = -seq where chain = $1 and seq <= -19990`, 19_990],
  ];
  for (const [name, apply, revert, seq] of cases) {
    it(`reports ${name} exactly as one pass does`, async () => {
      for (const sql of [apply].flat()) await tamper.query(sql, [chain]);
      try {
        const result = await verifyChain(t.app.deps.orm.em.fork(), chain);
        expect(result.valid).toBe(false);
        expect(result.firstInvalidSeq).toBe(seq);
        const one = await singlePass();
        if (!one.valid) expect(result).toEqual({ valid: false, checked: one.checked, firstInvalidSeq: one.firstInvalidSeq, reason: one.reason });
        else expect(result.reason).toMatch(/missing: the chain head records seq 20000/); // only the head shows a truncated tail
      } finally {
        for (const sql of [revert].flat()) await tamper.query(sql, [chain]);
      }
      expect(await verifyChain(t.app.deps.orm.em.fork(), chain)).toMatchObject({ valid: true, checked: LENGTH });
    });
  }
});
