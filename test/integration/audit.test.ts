import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventHash, verifyEvents, ZERO_HASH } from '../../src/modules/audit/envelope.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { sqlClient } from '../support/database.js';

/**
 * An independent verifier, written from DESIGN §5 alone: JCS (sorted keys by UTF-16 code units,
 * JSON.stringify for strings and integers) + SHA-256 over the envelope. Shares no code with src/.
 */
function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}
interface Exported { v: number; seq: number; type: string; occurredAt: string; payload: unknown; prevHash: string; hash: string; chain?: string }
function independentVerify(chain: string, events: Exported[]): { valid: boolean; firstInvalidSeq: number | null } {
  let prev = '0'.repeat(64);
  for (const [i, e] of events.entries()) {
    const envelope = { v: e.v, chain, seq: e.seq, type: e.type, occurredAt: e.occurredAt, payload: e.payload, prevHash: e.prevHash };
    const hash = createHash('sha256').update(canonical(envelope), 'utf8').digest('hex');
    if (e.seq !== i + 1 || e.prevHash !== prev || hash !== e.hash) return { valid: false, firstInvalidSeq: i + 1 };
    prev = e.hash;
  }
  return { valid: true, firstInvalidSeq: null };
}

const DISPATCH = `mutation($input: DispatchInferenceInput!) { dispatchInference(input: $input) { inference { id } } }`;
const CHAIN = `query($first: Int, $after: Int) { auditChain { chain length headHash verify { valid checked firstInvalidSeq reason } events(first: $first, afterSeq: $after) { v seq type occurredAt payload prevHash hash } } }`;

describe('the audit chain', () => {
  let t: TestApp;
  let tamper: pg.Client;

  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'silent' } });
    tamper = await sqlClient(t.dbUrl);
    // Tampering happens behind the application's back, with triggers off for this session only.
    await tamper.query(`set session_replication_role = replica`);
  });
  afterAll(async () => {
    await tamper.end();
    await t.stop();
  });

  async function chainOf(n: number) {
    const tenant = await t.newTenant();
    for (let i = 0; i < n; i++) {
      const r = await t.gql(DISPATCH, { input: { model: 'sim-small', taskType: 'CHAT', messages: [{ role: 'USER', content: `event ${i}` }] } }, tenant.agentKey);
      expect(r.errors).toBeUndefined();
    }
    return tenant;
  }
  const verifyVia = async (key: string) => (await t.gql(`{ auditChain { verify { valid checked firstInvalidSeq reason } } }`, undefined, key)).data.auditChain.verify;

  it('verifies the golden vector of DESIGN §5', () => {
    const payload = { inferenceId: '0c9d7f5e-1111-4a2b-8c3d-444455556666', model: 'claude-haiku-4-5', provider: 'anthropic', taskType: 'chat', taskTypeSource: 'caller', policyVersion: 'pv-32cbd4078a24', cell: 'chat/open', costUsd: '0.000021' };
    const envelope = { v: 1, chain: '7b0f8f3e-2c1a-4d5e-9f60-0a1b2c3d4e5f', seq: 1, type: 'inference.routed', occurredAt: '2026-11-25T19:08:04.123Z', payload, prevHash: ZERO_HASH };
    expect(eventHash(envelope)).toBe('dbb698e7f34d72306a23a1d98f647eaaae8140af9798244b5604fcbb8df42a31');
    expect(independentVerify(envelope.chain, [{ ...envelope, hash: 'dbb698e7f34d72306a23a1d98f647eaaae8140af9798244b5604fcbb8df42a31' }]).valid).toBe(true);
  });

  it('keeps verifying the committed v1 fixture chain', async () => {
    const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/audit-chain-v1.jsonl');
    const events = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(events.length).toBe(5);
    expect(events.every((e) => e.v === 1)).toBe(true);
    const chain = events[0].chain;
    expect(await verifyEvents(events, { chain })).toMatchObject({ valid: true, checked: 5 });
    expect(independentVerify(chain, events)).toEqual({ valid: true, firstInvalidSeq: null });
    const flipped = events.map((e, i) => (i === 2 ? { ...e, payload: { ...e.payload, costUsd: '1' } } : e));
    expect(await verifyEvents(flipped, { chain })).toMatchObject({ valid: false, firstInvalidSeq: 3 });
  });

  it('exposes each event exactly as hashed, so an independent verifier agrees with ours', async () => {
    const tenant = await chainOf(7);
    const res = await t.gql(CHAIN, { first: 4 }, tenant.userKey);
    expect(res.errors).toBeUndefined();
    const page2 = await t.gql(CHAIN, { first: 100, after: 4 }, tenant.userKey);
    const events: Exported[] = [...res.data.auditChain.events, ...page2.data.auditChain.events];
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(res.data.auditChain).toMatchObject({ chain: tenant.tenantId, length: 7, headHash: events[6].hash, verify: { valid: true, checked: 7, firstInvalidSeq: null, reason: null } });
    expect(independentVerify(tenant.tenantId, events)).toEqual({ valid: true, firstInvalidSeq: null });
    expect(events[0].prevHash).toBe(ZERO_HASH);
    expect(events[3].occurredAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('is readable by member and admin keys, not by agent keys', async () => {
    const res = await t.gql(`{ auditChain { length } }`, undefined, t.keys.agentKey);
    expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it('ends 1,000 concurrent dispatches across 10 tenants with 10 gapless, verifying chains', async () => {
    const tenants = await Promise.all(Array.from({ length: 10 }, () => t.newTenant()));
    // Several on one tenant: tenant 0 gets a third of the load.
    const targets = Array.from({ length: 1000 }, (_, i) => (i < 334 ? tenants[0] : tenants[1 + (i % 9)]));
    const results = await Promise.all(
      targets.map((tenant, i) => t.gql(DISPATCH, { input: { model: 'ainfera-auto', taskType: 'CHAT', messages: [{ role: 'USER', content: `load ${i}` }] } }, tenant.agentKey)),
    );
    const errors = results.flatMap((r) => r.errors ?? []);
    expect(errors.map((e) => e.message)).toEqual([]);
    const ids = tenants.map((x) => x.tenantId);
    const rows = await t.sql(`select chain, count(*)::int as n, min(seq) as lo, max(seq) as hi, count(distinct seq)::int as d from audit_event where chain = any($1) group by chain`, [ids]);
    expect(rows.length).toBe(10);
    for (const r of rows) expect([r.lo, r.hi, r.d]).toEqual([1, r.n, r.n]);
    expect(rows.reduce((s, r) => s + r.n, 0)).toBe(results.filter((r) => !r.errors).length);
    expect(rows.find((r) => r.chain === tenants[0].tenantId)!.n).toBe(334);
    for (const tenant of tenants) expect(await verifyVia(tenant.userKey)).toMatchObject({ valid: true, firstInvalidSeq: null });
  });

  it('makes a fork a loud error even when the chain-head lock is bypassed', async () => {
    const tenant = await chainOf(2);
    const [head] = await t.sql(`select seq, hash from audit_event where chain = $1 order by seq desc limit 1`, [tenant.tenantId]);
    const fork = (payload: Record<string, unknown>, seq: number, prevHash: string) => {
      const e = { v: 1, chain: tenant.tenantId, seq, type: 'inference.routed', occurredAt: new Date().toISOString(), payload, prevHash };
      return t.sql(`insert into audit_event (chain, seq, v, type, occurred_at, payload, prev_hash, hash) values ($1, $2, 1, $3, $4, $5, $6, $7)`, [e.chain, e.seq, e.type, e.occurredAt, JSON.stringify(payload), e.prevHash, eventHash(e)]);
    };
    // Two writers that both read the head without the lock and append "the next" event.
    await fork({ writer: 'a' }, head.seq + 1, head.hash);
    await expect(fork({ writer: 'b' }, head.seq + 1, head.hash)).rejects.toThrow(/audit_event_pkey|duplicate key/);
    // A fork that skips a seq but links to the same parent.
    await expect(fork({ writer: 'c' }, head.seq + 2, head.hash)).rejects.toThrow(/audit_event_chain_prev_hash_unique|duplicate key/);
  });

  it('refuses UPDATE, DELETE and TRUNCATE through the application’s own connection', async () => {
    const tenant = await chainOf(1);
    const em = t.app.deps.orm.em.fork();
    await expect(em.execute(`update audit_event set type = 'x' where chain = ?`, [tenant.tenantId])).rejects.toThrow(/append-only/);
    await expect(em.execute(`delete from audit_event where chain = ?`, [tenant.tenantId])).rejects.toThrow(/append-only/);
    await expect(em.execute(`truncate audit_event`)).rejects.toThrow(/append-only/);
  });

  describe('detects tampering at exactly the right seq', () => {
    const cases: Array<[string, (chain: string) => Promise<unknown>, number]> = [
      // One byte of the stored (canonical) text: the verifier hashes that text as it is.
      ['a flipped payload byte', (c) => tamper.query(`update audit_event set payload = replace(payload::text, '"costUsd":"0', '"costUsd":"1')::json where chain = $1 and seq = 3`, [c]), 3],
      // The same change, with the payload respelled as jsonb renders it: the verifier re-canonicalises it.
      ['a changed payload value, respelled', (c) => tamper.query(`update audit_event set payload = jsonb_set(payload::jsonb, '{costUsd}', '"1"')::json where chain = $1 and seq = 3`, [c]), 3],
      ['a changed hash', (c) => tamper.query(`update audit_event set hash = repeat('a', 64) where chain = $1 and seq = 4`, [c]), 4],
      ['a changed prev_hash', (c) => tamper.query(`update audit_event set prev_hash = repeat('b', 64) where chain = $1 and seq = 2`, [c]), 2],
      ['a deleted event', (c) => tamper.query(`delete from audit_event where chain = $1 and seq = 3`, [c]), 3],
      [
        'two swapped events',
        async (c) => {
          await tamper.query(`update audit_event set seq = -2 where chain = $1 and seq = 2`, [c]);
          await tamper.query(`update audit_event set seq = 2 where chain = $1 and seq = 3`, [c]);
          await tamper.query(`update audit_event set seq = 3 where chain = $1 and seq = -2`, [c]);
        },
        2,
      ],
      [
        'a forged event replacing a real one (hash recomputed)',
        async (c) => {
          const [prev] = (await tamper.query(`select hash from audit_event where chain = $1 and seq = 2`, [c])).rows;
          const e = { v: 1, chain: c, seq: 3, type: 'inference.routed', occurredAt: '2026-11-25T00:00:00.000Z', payload: { forged: true }, prevHash: prev.hash };
          await tamper.query(`delete from audit_event where chain = $1 and seq = 3`, [c]);
          await tamper.query(`insert into audit_event (chain, seq, v, type, occurred_at, payload, prev_hash, hash) values ($1, 3, 1, $2, $3, $4, $5, $6)`, [c, e.type, e.occurredAt, JSON.stringify(e.payload), e.prevHash, eventHash(e)]);
        },
        4,
      ],
      [
        'a forged event appended after the head',
        async (c) => {
          const [last] = (await tamper.query(`select hash from audit_event where chain = $1 and seq = 5`, [c])).rows;
          const e = { v: 1, chain: c, seq: 6, type: 'inference.routed', occurredAt: '2026-11-25T00:00:00.000Z', payload: { forged: true }, prevHash: last.hash };
          await tamper.query(`insert into audit_event (chain, seq, v, type, occurred_at, payload, prev_hash, hash) values ($1, 6, 1, $2, $3, $4, $5, $6)`, [c, e.type, e.occurredAt, JSON.stringify(e.payload), e.prevHash, eventHash(e)]);
        },
        6,
      ],
      ['a truncated tail', (c) => tamper.query(`delete from audit_event where chain = $1 and seq >= 4`, [c]), 4],
    ];
    for (const [name, act, seq] of cases) {
      it(name, async () => {
        const tenant = await chainOf(5);
        const untouched = await chainOf(2);
        expect(await verifyVia(tenant.userKey)).toMatchObject({ valid: true, checked: 5 });
        await act(tenant.tenantId);
        const result = await verifyVia(tenant.userKey);
        expect(result.valid).toBe(false);
        expect(result.firstInvalidSeq).toBe(seq);
        expect(result.reason).toBeTruthy();
        expect(await verifyVia(untouched.userKey)).toMatchObject({ valid: true, checked: 2 });
      });
    }
  });

  it('stores each payload as its JCS text, and still verifies one stored in another spelling', async () => {
    const tenant = await chainOf(4);
    const { rows } = await tamper.query<{ seq: number; text: string; payload: Record<string, unknown> }>(`select seq, payload::text as text, payload from audit_event where chain = $1 order by seq`, [tenant.tenantId]);
    expect(rows).toHaveLength(4);
    // The stored bytes are exactly the payload's canonical form (the independent canonicaliser above).
    for (const r of rows) expect(r.text).toBe(canonical(r.payload));
    // Respelled as jsonb renders it (keys by length, spaces), and with whitespace: same content, same hashes.
    await tamper.query(`update audit_event set payload = payload::jsonb::json where chain = $1 and seq = 2`, [tenant.tenantId]);
    await tamper.query(`update audit_event set payload = ('  ' || replace(payload::text, '":', '" :  ') || E'\\n')::json where chain = $1 and seq = 3`, [tenant.tenantId]);
    const respelled = await tamper.query<{ text: string }>(`select payload::text as text from audit_event where chain = $1 and seq in (2, 3) order by seq`, [tenant.tenantId]);
    for (const [i, r] of respelled.rows.entries()) {
      expect(r.text).not.toBe(rows[i + 1].text);
      expect(JSON.parse(r.text)).toEqual(rows[i + 1].payload);
    }
    expect(await verifyVia(tenant.userKey)).toMatchObject({ valid: true, checked: 4 });
    // A changed value inside a respelled payload is still caught, at its seq.
    await tamper.query(`update audit_event set payload = replace(payload::text, '"costUsd" :  "0', '"costUsd" :  "1')::json where chain = $1 and seq = 3`, [tenant.tenantId]);
    expect(await verifyVia(tenant.userKey)).toMatchObject({ valid: false, firstInvalidSeq: 3 });
  });

  it('signs checkpoints that catch a full rewrite of history', async () => {
    const tenant = await chainOf(3);
    const key = (await t.gql(`{ auditSigningKey { keyId algorithm publicKeyPem } }`, undefined, tenant.userKey)).data.auditSigningKey;
    expect(key.algorithm).toBe('Ed25519');
    const cp = (await t.gql(`{ auditChain { checkpoint { chain seq hash signedAt signature keyId } } }`, undefined, tenant.userKey)).data.auditChain.checkpoint;
    expect(cp).toMatchObject({ chain: tenant.tenantId, seq: 3, keyId: key.keyId });
    // Anyone can check the signature with the published key and the documented message.
    const message = canonical({ type: 'ainfera.checkpoint', v: 1, chain: cp.chain, seq: cp.seq, hash: cp.hash, signedAt: cp.signedAt });
    expect(verifySignature(null, Buffer.from(message), createPublicKey(key.publicKeyPem), Buffer.from(cp.signature, 'base64'))).toBe(true);

    const VERIFY = `query($c: AuditCheckpointInput!) { auditChain { verifyCheckpoint(checkpoint: $c) { valid signatureValid extendsCheckpoint reason } } }`;
    await chainOf(0);
    await t.gql(DISPATCH, { input: { model: 'sim-small', taskType: 'CODE', messages: [{ role: 'USER', content: 'later' }] } }, tenant.agentKey);
    expect((await t.gql(VERIFY, { c: cp }, tenant.userKey)).data.auditChain.verifyCheckpoint).toEqual({ valid: true, signatureValid: true, extendsCheckpoint: true, reason: null });
    const forgedSig = { ...cp, seq: 2 };
    expect((await t.gql(VERIFY, { c: forgedSig }, tenant.userKey)).data.auditChain.verifyCheckpoint).toMatchObject({ valid: false, signatureValid: false });

    // A full rewrite: change event 2 and recompute every later hash and the head. The chain verifies...
    const rows = (await tamper.query(`select * from audit_event where chain = $1 order by seq`, [tenant.tenantId])).rows;
    let prev = ZERO_HASH;
    for (const r of rows) {
      const payload = r.seq === 2 ? { ...r.payload, costUsd: '999' } : r.payload;
      const hash = eventHash({ v: r.v, chain: r.chain, seq: r.seq, type: r.type, occurredAt: r.occurred_at, payload, prevHash: prev });
      await tamper.query(`update audit_event set payload = $3, prev_hash = $4, hash = $5 where chain = $1 and seq = $2`, [r.chain, r.seq, JSON.stringify(payload), prev, hash]);
      prev = hash;
    }
    await tamper.query(`update audit_chain_head set hash = $2 where chain = $1`, [tenant.tenantId, prev]);
    expect(await verifyVia(tenant.userKey)).toMatchObject({ valid: true });
    // ...but no longer extends the checkpoint taken before the rewrite.
    const after = (await t.gql(VERIFY, { c: cp }, tenant.userKey)).data.auditChain.verifyCheckpoint;
    expect(after).toMatchObject({ valid: false, signatureValid: true, extendsCheckpoint: false });
    expect(after.reason).toMatch(/seq 3/);
  });
});
