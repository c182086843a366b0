/**
 * The audit envelope (DESIGN §5): how one event is hashed and how a chain is verified.
 * Pure, so the same code checks the database, an API export, or a test fixture.
 */
import { jcs, jcsHash } from '../../shared/hashing.js';

/** prevHash of the first event of every chain. */
export const ZERO_HASH = '0'.repeat(64);
/** The envelope version new events are written with. */
export const ENVELOPE_VERSION = 1;

export type AuditEnvelope = {
  v: number;
  chain: string;
  seq: number;
  type: string;
  occurredAt: string;
  payload: Record<string, unknown>;
  prevHash: string;
};

export type StoredEvent = AuditEnvelope & { hash: string };

export type VerifyResult = {
  valid: boolean;
  /** Events that verified before the first failure (all of them when valid). */
  checked: number;
  firstInvalidSeq: number | null;
  reason: string | null;
  /** Hash of the last event that verified; compare with a known head to detect truncation. */
  headHash: string | null;
};

/** UTC ISO-8601 with milliseconds, e.g. 2026-11-25T19:08:04.123Z — the only accepted form. */
export function formatOccurredAt(d: Date): string {
  return d.toISOString();
}

/**
 * SHA-256 of the JCS form of the envelope. The hashed object is built field by field so that
 * extra properties on the input (the stored `hash`, a database id) can never leak into it.
 * Each version pins its own field list forever: old events must keep verifying (§5).
 */
export function eventHash(e: AuditEnvelope): string {
  switch (e.v) {
    case 1:
      return jcsHash({
        v: e.v,
        chain: e.chain,
        seq: e.seq,
        type: e.type,
        occurredAt: e.occurredAt,
        payload: e.payload,
        prevHash: e.prevHash,
      });
    default:
      throw new Error(`unsupported audit envelope version ${String(e.v)}`);
  }
}

/**
 * The v1 envelope's JCS text around its two chain-dependent values, so the database can finish
 * the hash inside the appending statement (where it knows the head):
 *   hash = sha256(prefix + prevHash + '","seq":' + seq + suffix).
 * JCS orders the keys chain, occurredAt, payload, prevHash, seq, type, v, and prevHash (64 hex)
 * and seq (an integer) have exactly one canonical spelling, so the split text is exact JCS.
 */
export function envelopeHashParts(e: Omit<AuditEnvelope, 'seq' | 'prevHash'>): { prefix: string; suffix: string } {
  if (e.v !== 1) throw new Error(`unsupported audit envelope version ${String(e.v)}`);
  return {
    prefix: `{"chain":${jcs(e.chain)},"occurredAt":${jcs(e.occurredAt)},"payload":${jcs(e.payload)},"prevHash":"`,
    suffix: `,"type":${jcs(e.type)},"v":1}`,
  };
}

/** The envelope with its hash attached, ready to store. */
export function sealEvent(e: AuditEnvelope): StoredEvent {
  return { ...e, hash: eventHash(e) };
}

/**
 * Verifies a chain in one streaming pass with O(1) memory: only the previous hash is kept.
 * Checks per event, in order: seq is the next expected one, chain matches, prevHash links to
 * the previous event (ZERO_HASH for seq 1), and the recomputed hash equals the stored hash.
 *
 * What it can and cannot see: a deleted, swapped or renumbered event shows as a seq or link
 * break at the first affected position; a forged event that is correctly linked and hashed is
 * indistinguishable on its own and shows at the next original event; a truncated tail is only
 * visible by comparing `headHash` with an independently known head.
 */
export async function verifyEvents(
  events: Iterable<StoredEvent> | AsyncIterable<StoredEvent>,
  opts: { chain: string },
): Promise<VerifyResult> {
  let expectedSeq = 1;
  let prevHash = ZERO_HASH;
  let headHash: string | null = null;
  const fail = (seq: number, reason: string): VerifyResult => ({
    valid: false,
    checked: expectedSeq - 1,
    firstInvalidSeq: seq,
    reason,
    headHash,
  });

  for await (const e of events) {
    if (e.seq !== expectedSeq) {
      // A missing event is named by the seq that should have been there.
      return fail(expectedSeq, `gap or reorder: expected seq ${expectedSeq}, found ${String(e.seq)}`);
    }
    if (e.chain !== opts.chain) {
      return fail(expectedSeq, `chain mismatch at seq ${expectedSeq}: expected ${opts.chain}, found ${String(e.chain)}`);
    }
    if (e.prevHash !== prevHash) {
      return fail(expectedSeq, `prevHash mismatch at seq ${expectedSeq}: expected ${prevHash}, found ${String(e.prevHash)}`);
    }
    let recomputed: string;
    try {
      recomputed = eventHash(e);
    } catch (err) {
      return fail(expectedSeq, `cannot hash event at seq ${expectedSeq}: ${(err as Error).message}`);
    }
    if (recomputed !== e.hash) {
      return fail(expectedSeq, `hash mismatch at seq ${expectedSeq}: stored ${String(e.hash)}, recomputed ${recomputed}`);
    }
    prevHash = e.hash;
    headHash = e.hash;
    expectedSeq++;
  }
  return { valid: true, checked: expectedSeq - 1, firstInvalidSeq: null, reason: null, headHash };
}
