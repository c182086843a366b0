import { availableParallelism } from 'node:os';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { query, withPoolConnection } from '../../db/sql.js';
import { AuditEvent } from './audit-event.entity.js';
import type { AuditSigner, Checkpoint } from './signing.js';
import { type QueryTarget, type RangeSpec, SEQ_MAX, verifyRange, verifyRangesInWorkers } from './chain-verify.js';
import { ENVELOPE_VERSION, envelopeHashParts, joinRanges, type RangeResult, type StoredEvent, ZERO_HASH } from './envelope.js';

/** What `auditChain` resolves to: the chain id, and its head read at most once per request. */
export interface ChainView {
  chain: string;
  head(): Promise<{ seq: number; hash: string } | null>;
}

export function chainView(em: EntityManager, chain: string): ChainView {
  let head: Promise<{ seq: number; hash: string } | null> | undefined;
  return { chain, head: () => (head ??= chainHead(em, chain)) };
}

export interface ChainVerification {
  valid: boolean;
  checked: number;
  firstInvalidSeq: number | null;
  reason: string | null;
}

/** A data-modifying CTE (`with row as (… returning …)`) whose rows the audit event records. */
export interface RowCte {
  sql: string;
  params: unknown[];
}

/**
 * One statement that writes a row (the `row` CTE) and appends its audit event to the tenant's
 * chain — atomic on its own, so the row and the event commit together or not at all. The upsert
 * on the chain head locks it, so appends to one chain serialize; the database finishes the
 * SHA-256 of the envelope from the JCS text around the head's hash and seq
 * (envelopeHashParts), and UNIQUE (chain, seq) / UNIQUE (chain, prev_hash) turn any fork into an
 * error even if the lock were bypassed. Returns no row when the `row` CTE wrote none.
 */
/** The statement text for each row CTE's text (a handful of fixed shapes), built once. */
const appendSql = new Map<string, string>();

function appendStatement(rowSql: string): string {
  const hashOf = (prev: string, seq: string) => `encode(sha256(convert_to(?::text || ${prev} || '","seq":' || (${seq})::text || ?::text, 'UTF8')), 'hex')`;
  return `/* appendAuditEvent */ ${rowSql},
    head as (
      insert into audit_chain_head as h (chain, seq, hash, prev_hash)
      select ?::uuid, 1, ${hashOf('?::text', '1')}, ? from row
      on conflict (chain) do update set seq = h.seq + 1, prev_hash = h.hash, hash = ${hashOf('h.hash', 'h.seq + 1')}
      returning seq, hash, prev_hash)
    insert into audit_event (chain, seq, v, type, occurred_at, payload, prev_hash, hash)
    select ?::uuid, seq, ?, ?, ?, ?::json, prev_hash, hash from head
    returning seq, hash`;
}

export function appendWithRow(
  row: RowCte,
  event: { chain: string; type: string; occurredAt: string; payload: Record<string, unknown> },
): { sql: string; params: unknown[] } {
  const { prefix, suffix, payload } = envelopeHashParts({ v: ENVELOPE_VERSION, chain: event.chain, type: event.type, occurredAt: event.occurredAt, payload: event.payload });
  let sql = appendSql.get(row.sql);
  if (sql === undefined) appendSql.set(row.sql, (sql = appendStatement(row.sql)));
  const params = [
    ...row.params,
    event.chain, prefix, ZERO_HASH, suffix, ZERO_HASH,
    prefix, suffix,
    event.chain, ENVELOPE_VERSION, event.type, event.occurredAt, payload,
  ];
  return { sql, params };
}

export async function chainHead(em: EntityManager, chain: string): Promise<{ seq: number; hash: string } | null> {
  const [row] = await em.execute<{ seq: number; hash: string }[]>(`/* chainHead */ select seq, hash from audit_chain_head where chain = ?`, [chain]);
  return row && row.seq > 0 ? row : null;
}

export async function listEvents(em: EntityManager, chain: string, afterSeq: number, limit: number): Promise<AuditEvent[]> {
  return em.find(AuditEvent, { chain, seq: { $gt: afterSeq } }, { orderBy: { seq: 'asc' }, limit });
}

/** Stream a chain in seq order, a batch at a time, so verifying a long chain holds one batch in memory. */
export async function* streamEvents(em: EntityManager, chain: string, batch = 5000): AsyncGenerator<StoredEvent> {
  let after = 0;
  for (;;) {
    const rows = await query<{ v: number; seq: number; type: string; occurred_at: string; payload: Record<string, unknown>; prev_hash: string; hash: string }>(
      em,
      `/* streamAuditEvents */ select v, seq, type, occurred_at, payload, prev_hash, hash from audit_event where chain = ? and seq > ? order by seq limit ?`,
      [chain, after, batch],
    );
    for (const r of rows) yield { v: r.v, chain, seq: r.seq, type: r.type, occurredAt: r.occurred_at, payload: r.payload, prevHash: r.prev_hash, hash: r.hash };
    if (rows.length < batch) return;
    after = rows[rows.length - 1].seq;
  }
}

/** Below this many events one pass in process is quicker than handing ranges to worker threads. */
const PARALLEL_FROM = 20_000;
/**
 * Two threads per core (2 to 8): each alternates between waiting for its connection's next rows and
 * hashing them, so one per core leaves the cores idle while PostgreSQL sends. On the 2-core
 * benchmark machine, 4 threads verified 116k–158k events/s where 2 did 107k–128k (bench/NOTES.md).
 */
const WORKERS = Math.min(8, Math.max(2, 2 * availableParallelism()));

/**
 * The chain's events, verified in one pass on a pool connection, or — for a long chain — cut by
 * seq into equal ranges (from the head's seq; the last range reaches up to any seq, and like the
 * single pass always did, none looks below seq 1) that worker threads verify at once, each on its own connection. joinRanges makes the
 * verdict exactly the single pass's. Workers that cannot start (no connection URL, no tsx for a
 * .ts worker) leave the single pass, with a warning in `logger`.
 */
async function verifyRanges(em: EntityManager, chain: string, logger?: Logger): Promise<RangeResult[]> {
  const whole: RangeSpec = { chain, fromSeq: 1, after: 0, upTo: SEQ_MAX };
  const length = (await chainHead(em, chain))?.seq ?? 0;
  const url = em.config.get('clientUrl');
  if (length >= PARALLEL_FROM && url) {
    const bounds = Array.from({ length: WORKERS + 1 }, (_, i) => Math.floor((length * i) / WORKERS));
    const specs = bounds.slice(0, -1).map((from, i): RangeSpec => ({
      chain,
      fromSeq: from + 1,
      after: from,
      upTo: i === WORKERS - 1 ? SEQ_MAX : bounds[i + 1],
    }));
    try {
      return await verifyRangesInWorkers(url, specs);
    } catch (err) {
      // The same verdict from the single pass, only slower: worth a line in the logs.
      logger?.warn({ err, chain, events: length }, 'chain verification workers failed; verifying in one pass');
    }
  }
  return [await withPoolConnection(em, (client: QueryTarget) => verifyRange(client, whole))];
}

/**
 * Recompute every hash from stored data alone. Also compares the end of the chain with its head
 * row, so removing the newest events is caught too.
 */
export async function verifyChain(em: EntityManager, chain: string, logger?: Logger): Promise<ChainVerification> {
  const result = joinRanges(await verifyRanges(em, chain, logger));
  if (!result.valid) return { valid: false, checked: result.checked, firstInvalidSeq: result.firstInvalidSeq, reason: result.reason };
  const head = await chainHead(em, chain);
  const headSeq = head?.seq ?? 0;
  if (result.checked < headSeq) {
    return { valid: false, checked: result.checked, firstInvalidSeq: result.checked + 1, reason: `event ${result.checked + 1} is missing: the chain head records seq ${headSeq} but the events end at seq ${result.checked}` };
  }
  if (result.checked > headSeq) {
    return { valid: false, checked: headSeq, firstInvalidSeq: headSeq + 1, reason: `event ${headSeq + 1} lies beyond the chain head (seq ${headSeq})` };
  }
  if (head && head.hash !== result.headHash) {
    return { valid: false, checked: result.checked - 1, firstInvalidSeq: result.checked, reason: `the chain head's hash differs from event ${result.checked}'s hash` };
  }
  return { valid: true, checked: result.checked, firstInvalidSeq: null, reason: null };
}

export async function signCheckpoint(em: EntityManager, signer: AuditSigner, chain: string): Promise<Checkpoint | null> {
  const head = await chainHead(em, chain);
  return head ? signer.sign({ chain, seq: head.seq, hash: head.hash }) : null;
}

/**
 * Today's chain extends an earlier checkpoint when the signature is ours, the event at the
 * checkpoint's seq still has the checkpoint's hash, and the whole chain verifies. Someone able to
 * recompute every hash still cannot keep an old checkpoint valid after rewriting history.
 */
export async function verifyCheckpoint(
  em: EntityManager,
  signer: AuditSigner,
  chain: string,
  checkpoint: Checkpoint,
  logger?: Logger,
): Promise<{ valid: boolean; signatureValid: boolean; extendsCheckpoint: boolean; reason: string | null }> {
  const signatureValid = checkpoint.chain === chain && signer.verify(checkpoint);
  const [event] = await em.execute<{ hash: string }[]>(`/* checkpointEvent */ select hash from audit_event where chain = ? and seq = ?`, [chain, checkpoint.seq]);
  const extendsCheckpoint = !!event && event.hash === checkpoint.hash;
  const chainResult = await verifyChain(em, chain, logger);
  const reason = !signatureValid
    ? 'the checkpoint signature is not valid for this chain and key'
    : !extendsCheckpoint
      ? `the chain no longer holds the checkpoint's hash at seq ${checkpoint.seq}: history was rewritten or removed`
      : !chainResult.valid
        ? `the chain does not verify: ${chainResult.reason}`
        : null;
  return { valid: reason === null, signatureValid, extendsCheckpoint, reason };
}
