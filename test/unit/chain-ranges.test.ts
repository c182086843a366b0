import { describe, expect, it } from 'vitest';
import {
  ChainVerifier,
  ENVELOPE_VERSION,
  eventHash,
  joinRanges,
  type RangeResult,
  sealEvent,
  type StoredEvent,
  verifyEvents,
  ZERO_HASH,
} from '../../src/modules/audit/envelope.js';
import { jcs, sha256Hex } from '../../src/shared/hashing.js';

const CHAIN = '7b0f8f3e-2c1a-4d5e-9f60-0a1b2c3d4e5f';
const N = 24;

function buildChain(n: number): StoredEvent[] {
  const out: StoredEvent[] = [];
  let prevHash = ZERO_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const e = sealEvent({ v: ENVELOPE_VERSION, chain: CHAIN, seq, type: 'inference.routed', occurredAt: new Date(Date.UTC(2026, 10, 25, 0, 0, seq)).toISOString(), payload: { n: seq, attempts: [{ model: 'm', latencyMs: seq }] }, prevHash });
    out.push(e);
    prevHash = e.hash;
  }
  return out;
}

/**
 * What the database verifier does with ranges: the events as `order by seq` returns them, cut by
 * seq at `bounds` (range i holds bounds[i-1] < seq ≤ bounds[i], the first reaching down to any seq
 * and the last up to any), each verified on its own from bounds[i-1] + 1, then joined.
 */
function verifyInRanges(events: StoredEvent[], bounds: number[]): ReturnType<typeof joinRanges> {
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  const cuts = [-Infinity, ...bounds, Infinity];
  const results: RangeResult[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const verifier = new ChainVerifier(CHAIN, { seq: i === 0 ? 1 : cuts[i] + 1, prevHash: null });
    for (const e of sorted) if (e.seq > cuts[i] && e.seq <= cuts[i + 1] && !verifier.push(e)) break;
    results.push(verifier.rangeResult());
  }
  return joinRanges(results);
}

const base = buildChain(N);
const clone = (): StoredEvent[] => structuredClone(base);
const forge = (events: StoredEvent[], at: number, prevHash: string): StoredEvent =>
  sealEvent({ ...events[at - 1], payload: { forged: true }, prevHash });

/** Every kind of tampering the single pass is tested against, at seq k. */
const tampers: Array<[string, (k: number) => StoredEvent[]]> = [
  ['untouched', () => clone()],
  ['a changed payload', (k) => { const e = clone(); e[k - 1].payload = { n: -1 }; return e; }],
  ['a changed hash', (k) => { const e = clone(); e[k - 1].hash = 'a'.repeat(64); return e; }],
  ['a changed prevHash', (k) => { const e = clone(); e[k - 1].prevHash = 'b'.repeat(64); return e; }],
  ['a deleted event', (k) => clone().filter((e) => e.seq !== k)],
  ['a deleted event, later ones renumbered', (k) => clone().filter((e) => e.seq !== k).map((e) => (e.seq > k ? { ...e, seq: e.seq - 1 } : e))],
  ['two swapped seqs', (k) => clone().map((e) => (e.seq === k ? { ...e, seq: k + 1 } : e.seq === k + 1 ? { ...e, seq: k } : e))],
  ['a seq moved below 1', (k) => clone().map((e) => (e.seq === k ? { ...e, seq: -2 } : e))],
  ['a forged, relinked replacement', (k) => { const e = clone(); e[k - 1] = forge(e, k, k === 1 ? ZERO_HASH : e[k - 2].hash); return e; }],
  ['a forged event appended', () => { const e = clone(); e.push(forge(e, N, e[N - 1].hash)); e[N].seq = N + 1; e[N].hash = eventHash(e[N]); return e; }],
  ['a truncated tail', (k) => clone().filter((e) => e.seq < k)],
  ['an event of another chain', (k) => { const e = clone(); e[k - 1] = sealEvent({ ...e[k - 1], chain: '00000000-0000-4000-8000-000000000000' }); return e; }],
  ['an empty chain', () => []],
];

describe('verification in seq ranges (joinRanges)', () => {
  it('gives exactly the single pass result for every tampering, at every position and every range boundary', async () => {
    let compared = 0;
    for (const [name, tamper] of tampers) {
      for (let k = 1; k < N; k++) {
        const events = tamper(k);
        const expected = await verifyEvents([...events].sort((a, b) => a.seq - b.seq), { chain: CHAIN });
        // One range; two ranges cut everywhere, including exactly at k - 1, k and k + 1; three ranges around k.
        const splits: number[][] = [[], ...Array.from({ length: N + 2 }, (_, b) => [b]), [k - 1, k], [k, k + 1], [k - 2, k, k + 2], [1, 2, N - 1]];
        // As verifyChain cuts them: ascending, none below 0.
        for (const bounds of splits.filter((b) => b.every((x, i) => x >= 0 && (i === 0 || x > b[i - 1])))) {
          expect(verifyInRanges(events, bounds), `${name} at ${k}, bounds ${bounds.join(',')}`).toEqual(expected);
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(5000);
  });

  it('names the break at a range boundary like the single pass', () => {
    const events = clone();
    events[12].prevHash = 'c'.repeat(64); // seq 13, the first event of the second range
    expect(verifyInRanges(events, [12])).toEqual({
      valid: false,
      checked: 12,
      firstInvalidSeq: 13,
      reason: `prevHash mismatch at seq 13: expected ${base[11].hash}, found ${'c'.repeat(64)}`,
      headHash: base[11].hash,
    });
    expect(verifyInRanges(clone().filter((e) => e.seq !== 13), [12])).toMatchObject({ firstInvalidSeq: 13, reason: 'gap or reorder: expected seq 13, found 14' });
    // A range that ends early (seq 12 gone) and a next range that starts on time.
    expect(verifyInRanges(clone().filter((e) => e.seq !== 12), [12])).toMatchObject({ firstInvalidSeq: 12, reason: 'gap or reorder: expected seq 12, found 13' });
  });
});

describe('eventHash fast path', () => {
  const golden = base[0];
  const generic = (e: StoredEvent) => sha256Hex(jcs({ v: e.v, chain: e.chain, seq: e.seq, type: e.type, occurredAt: e.occurredAt, payload: e.payload, prevHash: e.prevHash }));
  const outcome = (f: () => string) => {
    try {
      return f();
    } catch (err) {
      return `throws ${(err as Error).message}`;
    }
  };
  let deep: unknown = 1;
  for (let i = 0; i < 255; i++) deep = [deep];

  it('hashes exactly like JCS of the whole envelope, and fails the same way', () => {
    const variants: Array<Partial<StoredEvent> | Record<string, unknown>> = [
      {},
      { type: 'quote " and \\ backslash' },
      { type: 'tab\there', occurredAt: 'é中😀' },
      { occurredAt: 'lone \ud800 surrogate' },
      { chain: 42 },
      { seq: 0 },
      { seq: -0 },
      { seq: -7 },
      { seq: 1.5 },
      { seq: 2 ** 53 },
      { seq: '3' },
      { prevHash: undefined },
      { payload: undefined },
      { payload: null },
      { payload: [1, 2] },
      { payload: Object.assign(Object.create(null) as object, { a: 1 }) },
      { payload: { a: undefined, b: 'x\u2028', '': 0 } },
      { payload: { bad: 1n } },
      { payload: { deep } },
      { payload: { deep: [deep] } },
      { payload: { nested: { toJSON: () => 'as json' } } },
    ];
    for (const v of variants) {
      const e = { ...golden, ...v } as StoredEvent;
      expect(outcome(() => eventHash(e)), JSON.stringify(Object.keys(v))).toBe(outcome(() => generic(e)));
    }
  });
});
