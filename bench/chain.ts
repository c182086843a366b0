/**
 * A long valid audit chain, made fast: envelopes sealed in JS with the server's own
 * `sealEvent` (so every hash is what the server would have written), bulk-inserted with
 * `unnest` arrays a batch at a time, then the chain head row. Verification is timed elsewhere.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { ENVELOPE_VERSION, sealEvent, type StoredEvent, ZERO_HASH } from '../src/modules/audit/envelope.js';
import { jcs, sha256Hex } from '../src/shared/hashing.js';

const INSERT = `/* benchSeedAuditEvents */ insert into audit_event (chain, seq, v, type, occurred_at, payload, prev_hash, hash)
  select $1::uuid, * from unnest($2::int[], $3::smallint[], $4::text[], $5::text[], $6::json[], $7::char(64)[], $8::char(64)[])`;
/** The head row as appendWithRow leaves it: the last event's seq, hash and prev_hash. */
const HEAD = `/* benchSeedChainHead */ insert into audit_chain_head (chain, seq, hash, prev_hash) values ($1, $2, $3, $4)
  on conflict (chain) do update set seq = excluded.seq, hash = excluded.hash, prev_hash = excluded.prev_hash`;

/** An `inference.routed` payload shaped like the server's (auditPayload in inference.repository.ts). */
function payload(agentId: string, i: number): Record<string, unknown> {
  const slow = i % 7 === 0;
  return {
    inferenceId: randomUUID(),
    agentId,
    requestedModel: 'ainfera-auto',
    routingMode: 'auto',
    model: slow ? 'gpt-4.1-mini' : 'claude-haiku-4-5',
    provider: slow ? 'openai' : 'anthropic',
    taskType: 'chat',
    taskTypeSource: 'caller',
    policyVersion: 'pv-32cbd4078a24',
    cell: 'chat/open',
    constraintBand: 'open',
    attempts: [{ model: slow ? 'gpt-4.1-mini' : 'claude-haiku-4-5', provider: slow ? 'openai' : 'anthropic', outcome: 'succeeded', latencyMs: 40 + (i % 17) }],
    usage: { inputTokens: 11 + (i % 5), outputTokens: 12 },
    costUsd: '0.000071',
    requestHash: sha256Hex(`request ${i}`),
  };
}

export async function seedChain(dbUrl: string, opts: { chain: string; agentId: string; events: number; batch?: number }): Promise<{ events: number; headHash: string; sealMs: number; insertMs: number }> {
  const batch = opts.batch ?? 5000;
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  let prevHash = ZERO_HASH;
  let lastPrev = ZERO_HASH;
  let sealMs = 0;
  let insertMs = 0;
  const start = Date.parse('2026-11-01T00:00:00.000Z');
  try {
    for (let from = 1; from <= opts.events; from += batch) {
      const t0 = performance.now();
      const rows: StoredEvent[] = [];
      for (let seq = from; seq < from + batch && seq <= opts.events; seq++) {
        const e = sealEvent({ v: ENVELOPE_VERSION, chain: opts.chain, seq, type: 'inference.routed', occurredAt: new Date(start + seq * 37).toISOString(), payload: payload(opts.agentId, seq), prevHash });
        rows.push(e);
        lastPrev = prevHash;
        prevHash = e.hash;
      }
      const t1 = performance.now();
      await client.query(INSERT, [
        opts.chain,
        rows.map((r) => r.seq),
        rows.map((r) => r.v),
        rows.map((r) => r.type),
        rows.map((r) => r.occurredAt),
        rows.map((r) => jcs(r.payload)), // stored as the server stores it: the payload's JCS text
        rows.map((r) => r.prevHash),
        rows.map((r) => r.hash),
      ]);
      sealMs += t1 - t0;
      insertMs += performance.now() - t1;
    }
    await client.query(HEAD, [opts.chain, opts.events, prevHash, lastPrev]);
    await client.query('/* benchAnalyze */ analyze audit_event');
  } finally {
    await client.end();
  }
  return { events: opts.events, headHash: prevHash, sealMs, insertMs };
}
