/**
 * The audit envelope (DESIGN §5): how one event is hashed and how a chain is verified.
 * Pure, so the same code checks the database, an API export, or a test fixture.
 */
import { isJcsText, jcs, jcsMember, sha256Hex } from '../../shared/hashing.js';

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

/** A stored event with its payload as the JSON text the database holds (what the verifier reads). */
export type StoredEventText = Omit<StoredEvent, 'payload'> & { payloadText: string };

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
      return sha256Hex(v1Text(e) ?? jcs({
        v: e.v,
        chain: e.chain,
        seq: e.seq,
        type: e.type,
        occurredAt: e.occurredAt,
        payload: e.payload,
        prevHash: e.prevHash,
      }));
    default:
      throw new Error(`unsupported audit envelope version ${String(e.v)}`);
  }
}

/** Strings that JCS writes as `"<s>"` verbatim: no quote, backslash, control character or surrogate. */
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** The v1 envelope's header values are ones JCS writes verbatim (plain strings, a safe-integer seq). */
function plainV1Header(e: Omit<AuditEnvelope, 'payload'>): boolean {
  const { chain, occurredAt, prevHash, seq, type } = e;
  return (
    typeof chain === 'string' && PLAIN.test(chain) &&
    typeof occurredAt === 'string' && PLAIN.test(occurredAt) &&
    typeof prevHash === 'string' && PLAIN.test(prevHash) &&
    typeof type === 'string' && PLAIN.test(type) &&
    Number.isSafeInteger(seq)
  );
}

/** The v1 envelope's JCS text in its fixed key order (chain, occurredAt, payload, prevHash, seq, type, v) around the payload's JCS text. */
function v1Envelope(e: Omit<AuditEnvelope, 'payload'>, payloadJcs: string): string {
  return `{"chain":"${e.chain}","occurredAt":"${e.occurredAt}","payload":${payloadJcs},"prevHash":"${e.prevHash}","seq":${e.seq},"type":"${e.type}","v":1}`;
}

/**
 * The v1 envelope's JCS text written directly, with the generic JCS run on the payload alone — the
 * verifier's hot path. Only for the common case, where the result is the same text `jcs` gives for
 * the envelope object: a plain header (plainV1Header) and a payload that is a plain object.
 * Anything else (or a payload JCS refuses) returns null, and eventHash takes the generic path,
 * which also produces the same error messages as before.
 */
function v1Text(e: AuditEnvelope): string | null {
  const { payload } = e;
  if (!plainV1Header(e) || typeof payload !== 'object' || payload === null || Array.isArray(payload) || Object.getPrototypeOf(payload) !== Object.prototype) {
    return null;
  }
  let body: string;
  try {
    body = jcsMember(payload);
  } catch {
    return null;
  }
  return v1Envelope(e, body);
}

/**
 * eventHash of the event whose payload is JSON.parse(payloadText) — always the same answer — taken
 * from the text itself when it already is the payload's JCS, as the server stores it (the audit
 * payload column is `json`, which keeps the text byte for byte): then the envelope's JCS text is
 * the header around it, with no parse and no re-serialising. Any other text (events stored before
 * that, or by hand) is parsed and hashed the general way.
 */
export function eventHashOfText(e: StoredEventText): string {
  const text = e.payloadText;
  if (e.v === 1 && text.charCodeAt(0) === 0x7b /* { */ && plainV1Header(e) && isJcsText(text)) return sha256Hex(v1Envelope(e, text));
  // eventHash takes its fields one by one, so payloadText and hash never reach the hashed object.
  return eventHash({ ...e, payload: JSON.parse(text) as Record<string, unknown> });
}

/**
 * The v1 envelope's JCS text around its two chain-dependent values, so the database can finish
 * the hash inside the appending statement (where it knows the head):
 *   hash = sha256(prefix + prevHash + '","seq":' + seq + suffix).
 * JCS orders the keys chain, occurredAt, payload, prevHash, seq, type, v, and prevHash (64 hex)
 * and seq (an integer) have exactly one canonical spelling, so the split text is exact JCS.
 * `payload` is the payload's JCS text, which is what the event stores (so the verifier can hash it as it is).
 */
export function envelopeHashParts(e: Omit<AuditEnvelope, 'seq' | 'prevHash'>): { prefix: string; suffix: string; payload: string } {
  if (e.v !== 1) throw new Error(`unsupported audit envelope version ${String(e.v)}`);
  const payload = jcs(e.payload);
  return {
    prefix: `{"chain":${jcs(e.chain)},"occurredAt":${jcs(e.occurredAt)},"payload":${payload},"prevHash":"`,
    suffix: `,"type":${jcs(e.type)},"v":1}`,
    payload,
  };
}

/** The envelope with its hash attached, ready to store. */
export function sealEvent(e: AuditEnvelope): StoredEvent {
  return { ...e, hash: eventHash(e) };
}

/** Where a verification starts: seq 1 after ZERO_HASH, or mid-chain with the link left to the caller. */
export type VerifyFrom = { seq: number; prevHash: string } | { seq: number; prevHash: null };

/**
 * The streaming verifier's state, one event at a time (verifyEvents drives it; the database
 * verifier feeds it rows as they arrive). Checks per event, in order: seq is the next expected
 * one, chain matches, prevHash links to the previous event (ZERO_HASH for seq 1), and the
 * recomputed hash equals the stored hash. Started mid-chain with `prevHash: null`, the first
 * event's link cannot be checked here: its stored prevHash is kept (`firstPrevHash`) for
 * joinRanges to compare with the previous range's last hash.
 */
export class ChainVerifier {
  expectedSeq: number;
  prevHash: string | null;
  /** Hash of the last event that verified. */
  headHash: string | null = null;
  /** seq of the first event pushed, whatever it was. */
  firstSeq: number | null = null;
  /** The first event's stored prevHash, once it passed the seq and chain checks (mid-chain start only). */
  firstPrevHash: string | null = null;
  failure: { seq: number; reason: string } | null = null;

  constructor(
    readonly chain: string,
    readonly from: VerifyFrom = { seq: 1, prevHash: ZERO_HASH },
  ) {
    this.expectedSeq = from.seq;
    this.prevHash = from.prevHash;
  }

  /** Events that verified so far. */
  get checked(): number {
    return this.expectedSeq - this.from.seq;
  }

  /** Checks one event, its payload as an object or as stored JSON text; false once the chain has failed (further events are ignored). */
  push(e: StoredEvent | StoredEventText): boolean {
    if (this.failure) return false;
    const expectedSeq = this.expectedSeq;
    this.firstSeq ??= e.seq;
    if (e.seq !== expectedSeq) {
      // A missing event is named by the seq that should have been there.
      return this.fail(`gap or reorder: expected seq ${expectedSeq}, found ${String(e.seq)}`);
    }
    if (e.chain !== this.chain) {
      return this.fail(`chain mismatch at seq ${expectedSeq}: expected ${this.chain}, found ${String(e.chain)}`);
    }
    if (this.prevHash === null) {
      this.firstPrevHash = e.prevHash;
    } else if (e.prevHash !== this.prevHash) {
      return this.fail(`prevHash mismatch at seq ${expectedSeq}: expected ${this.prevHash}, found ${String(e.prevHash)}`);
    }
    let recomputed: string;
    try {
      recomputed = 'payloadText' in e ? eventHashOfText(e) : eventHash(e);
    } catch (err) {
      return this.fail(`cannot hash event at seq ${expectedSeq}: ${(err as Error).message}`);
    }
    if (recomputed !== e.hash) {
      return this.fail(`hash mismatch at seq ${expectedSeq}: stored ${String(e.hash)}, recomputed ${recomputed}`);
    }
    this.prevHash = e.hash;
    this.headHash = e.hash;
    this.expectedSeq = expectedSeq + 1;
    return true;
  }

  /** What a range verification hands back (plain data, so it crosses a worker boundary). */
  rangeResult(): RangeResult {
    return { fromSeq: this.from.seq, firstSeq: this.firstSeq, firstPrevHash: this.firstPrevHash, count: this.checked, lastHash: this.headHash, failure: this.failure };
  }

  private fail(reason: string): false {
    this.failure = { seq: this.expectedSeq, reason };
    return false;
  }
}

/** One seq range verified on its own by a ChainVerifier started at `{ seq: fromSeq, prevHash: null }`. */
export interface RangeResult {
  fromSeq: number;
  /** seq of the range's first event; null when the range holds none. */
  firstSeq: number | null;
  /** The first event's stored prevHash, when it passed the seq and chain checks. */
  firstPrevHash: string | null;
  /** Events that verified, from fromSeq on. */
  count: number;
  lastHash: string | null;
  failure: { seq: number; reason: string } | null;
}

/**
 * Joins ranges that partition the seq line in ascending order (the first reaching down to the
 * lowest seq, the last up to the highest; each starting right after the previous one's upper
 * bound) into exactly the result one pass over the whole chain gives: the same first bad seq and
 * the same reason. A range's own verdict holds only if the chain before it ended exactly at its
 * start and its first event links to that end; otherwise the single pass would already have failed
 * there, and that failure is the one reported.
 */
export function joinRanges(ranges: RangeResult[]): VerifyResult {
  let expectedSeq = 1;
  let prevHash = ZERO_HASH;
  let headHash: string | null = null;
  const fail = (seq: number, reason: string): VerifyResult => ({ valid: false, checked: seq - 1, firstInvalidSeq: seq, reason, headHash });
  for (const r of ranges) {
    if (r.firstSeq === null) continue;
    if (expectedSeq !== r.fromSeq) return fail(expectedSeq, `gap or reorder: expected seq ${expectedSeq}, found ${r.firstSeq}`);
    if (r.firstPrevHash !== null && r.firstPrevHash !== prevHash) {
      return fail(expectedSeq, `prevHash mismatch at seq ${expectedSeq}: expected ${prevHash}, found ${String(r.firstPrevHash)}`);
    }
    if (r.count > 0) headHash = r.lastHash;
    if (r.failure) return fail(r.failure.seq, r.failure.reason);
    expectedSeq = r.fromSeq + r.count;
    prevHash = r.lastHash ?? prevHash;
  }
  return { valid: true, checked: expectedSeq - 1, firstInvalidSeq: null, reason: null, headHash };
}

/**
 * Verifies a chain in one streaming pass with O(1) memory: only the previous hash is kept
 * (ChainVerifier holds the checks).
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
  const verifier = new ChainVerifier(opts.chain);
  for await (const e of events) {
    if (!verifier.push(e)) break;
  }
  const { failure, headHash } = verifier;
  if (failure) return { valid: false, checked: verifier.checked, firstInvalidSeq: failure.seq, reason: failure.reason, headHash };
  return { valid: true, checked: verifier.checked, firstInvalidSeq: null, reason: null, headHash };
}
