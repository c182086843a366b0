import { describe, expect, it } from 'vitest';
import {
  ENVELOPE_VERSION,
  ZERO_HASH,
  eventHash,
  formatOccurredAt,
  sealEvent,
  verifyEvents,
  ChainVerifier,
  eventHashOfText,
  type AuditEnvelope,
  type StoredEvent,
  type StoredEventText,
} from '../../src/modules/audit/envelope.js';
import { jcs, sha256Hex } from '../../src/shared/hashing.js';

const CHAIN = '7b0f8f3e-2c1a-4d5e-9f60-0a1b2c3d4e5f';

// DESIGN §5 golden vector, verbatim.
const GOLDEN: AuditEnvelope = {
  v: 1,
  chain: CHAIN,
  seq: 1,
  type: 'inference.routed',
  occurredAt: '2026-11-25T19:08:04.123Z',
  payload: {
    inferenceId: '0c9d7f5e-1111-4a2b-8c3d-444455556666',
    model: 'claude-haiku-4-5',
    provider: 'anthropic',
    taskType: 'chat',
    taskTypeSource: 'caller',
    policyVersion: 'pv-32cbd4078a24',
    cell: 'chat/open',
    costUsd: '0.000021',
  },
  prevHash: ZERO_HASH,
};
const GOLDEN_HASH = 'dbb698e7f34d72306a23a1d98f647eaaae8140af9798244b5604fcbb8df42a31';

/** A valid chain of n events, built the way the writer does: each links to the previous hash. */
function buildChain(n: number, chain = CHAIN): StoredEvent[] {
  const out: StoredEvent[] = [];
  let prevHash = ZERO_HASH;
  const t0 = Date.parse('2026-11-25T19:08:04.123Z');
  for (let seq = 1; seq <= n; seq++) {
    const e = sealEvent({
      v: ENVELOPE_VERSION,
      chain,
      seq,
      type: seq % 7 === 0 ? 'inference.failed' : 'inference.routed',
      occurredAt: formatOccurredAt(new Date(t0 + seq * 1000)),
      payload: { inferenceId: `inf-${seq}`, costUsd: `0.0000${seq}`, attempts: [{ model: 'm', outcome: 'ok', latencyMs: seq }] },
      prevHash,
    });
    out.push(e);
    prevHash = e.hash;
  }
  return out;
}

/** Deep copy, as an export or a tampered database would hand it over. */
const clone = (events: StoredEvent[]): StoredEvent[] => structuredClone(events);

async function* asAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  for (const item of items) yield item;
}

describe('envelope hashing', () => {
  it('matches the DESIGN §5 golden vector', () => {
    expect(eventHash(GOLDEN)).toBe(GOLDEN_HASH);
    expect(sealEvent(GOLDEN).hash).toBe(GOLDEN_HASH);
  });

  it('hashes the UTF-8 bytes of the JCS envelope with exactly the seven v1 keys', () => {
    const expected = sha256Hex(jcs({ ...GOLDEN }));
    expect(eventHash(GOLDEN)).toBe(expected);
    // Extra properties (the stored hash, a row id) never enter the hash.
    const withExtras = { ...GOLDEN, hash: 'x', id: 42, createdAt: 'now' } as AuditEnvelope;
    expect(eventHash(withExtras)).toBe(GOLDEN_HASH);
  });

  it('is independent of key order, in the envelope and the payload', () => {
    const reordered: AuditEnvelope = {
      prevHash: GOLDEN.prevHash,
      payload: Object.fromEntries(Object.entries(GOLDEN.payload).reverse()),
      occurredAt: GOLDEN.occurredAt,
      type: GOLDEN.type,
      seq: GOLDEN.seq,
      chain: GOLDEN.chain,
      v: GOLDEN.v,
    };
    expect(eventHash(reordered)).toBe(GOLDEN_HASH);
  });

  it('changes with every field', () => {
    const variants: AuditEnvelope[] = [
      { ...GOLDEN, seq: 2 },
      { ...GOLDEN, chain: CHAIN.replace('7b0f', '7b0e') },
      { ...GOLDEN, type: 'inference.failed' },
      { ...GOLDEN, occurredAt: '2026-11-25T19:08:04.124Z' },
      { ...GOLDEN, prevHash: '1'.repeat(64) },
      { ...GOLDEN, payload: { ...GOLDEN.payload, costUsd: '0.000022' } },
    ];
    for (const v of variants) expect(eventHash(v)).not.toBe(GOLDEN_HASH);
  });

  it('refuses unknown envelope versions', () => {
    expect(() => eventHash({ ...GOLDEN, v: 2 })).toThrow(/version 2/);
    expect(() => eventHash({ ...GOLDEN, v: 0 })).toThrow(/version/);
  });

  it('formats occurredAt as UTC ISO-8601 with milliseconds', () => {
    expect(formatOccurredAt(new Date(Date.UTC(2026, 10, 25, 19, 8, 4, 123)))).toBe('2026-11-25T19:08:04.123Z');
    expect(formatOccurredAt(new Date(Date.UTC(2026, 0, 1, 0, 0, 0, 0)))).toBe('2026-01-01T00:00:00.000Z');
  });

  it('exports the constants of DESIGN §5', () => {
    expect(ZERO_HASH).toBe('0'.repeat(64));
    expect(ENVELOPE_VERSION).toBe(1);
  });
});

describe('verifyEvents', () => {
  const base = buildChain(10);

  it('accepts an empty chain', async () => {
    expect(await verifyEvents([], { chain: CHAIN })).toEqual({
      valid: true,
      checked: 0,
      firstInvalidSeq: null,
      reason: null,
      headHash: null,
    });
  });

  it('accepts the golden event as a one-event chain', async () => {
    const r = await verifyEvents([{ ...GOLDEN, hash: GOLDEN_HASH }], { chain: CHAIN });
    expect(r).toEqual({ valid: true, checked: 1, firstInvalidSeq: null, reason: null, headHash: GOLDEN_HASH });
  });

  it('verifies a valid chain of 1000 events, from arrays and async iterables', async () => {
    const events = buildChain(1000);
    const expected = { valid: true, checked: 1000, firstInvalidSeq: null, reason: null, headHash: events[999].hash };
    expect(await verifyEvents(events, { chain: CHAIN })).toEqual(expected);
    expect(await verifyEvents(asAsync(events), { chain: CHAIN })).toEqual(expected);
  });

  it('verifies events that went through a JSON round trip (an export)', async () => {
    const exported = JSON.parse(JSON.stringify(base)) as StoredEvent[];
    expect((await verifyEvents(exported, { chain: CHAIN })).valid).toBe(true);
  });

  it('detects a flipped payload byte', async () => {
    const events = clone(base);
    const p = events[4].payload as { inferenceId: string };
    p.inferenceId = p.inferenceId.replace('inf-', 'inf_');
    const r = await verifyEvents(events, { chain: CHAIN });
    expect(r).toMatchObject({ valid: false, checked: 4, firstInvalidSeq: 5, headHash: base[3].hash });
    expect(r.reason).toMatch(/^hash mismatch at seq 5/);
  });

  it('detects a changed stored hash (at that event, not the next)', async () => {
    const events = clone(base);
    events[6].hash = events[6].hash.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const r = await verifyEvents(events, { chain: CHAIN });
    expect(r).toMatchObject({ valid: false, checked: 6, firstInvalidSeq: 7 });
    expect(r.reason).toMatch(/^hash mismatch at seq 7/);
  });

  it('detects a changed prevHash', async () => {
    const events = clone(base);
    events[2].prevHash = 'f'.repeat(64);
    const r = await verifyEvents(events, { chain: CHAIN });
    expect(r).toMatchObject({ valid: false, checked: 2, firstInvalidSeq: 3 });
    expect(r.reason).toMatch(/^prevHash mismatch at seq 3/);
  });

  it('detects a non-zero prevHash on seq 1', async () => {
    const events = clone(base);
    events[0].prevHash = '1'.repeat(64);
    const r = await verifyEvents(events, { chain: CHAIN });
    expect(r).toMatchObject({ valid: false, checked: 0, firstInvalidSeq: 1, headHash: null });
    expect(r.reason).toMatch(/^prevHash mismatch at seq 1/);
  });

  it('detects a deleted event, naming the missing seq', async () => {
    const events = clone(base);
    events.splice(5, 1); // seq 6 is gone
    const r = await verifyEvents(events, { chain: CHAIN });
    expect(r).toEqual({
      valid: false,
      checked: 5,
      firstInvalidSeq: 6,
      reason: 'gap or reorder: expected seq 6, found 7',
      headHash: base[4].hash,
    });
  });

  it('detects a deleted first event', async () => {
    const r = await verifyEvents(clone(base).slice(1), { chain: CHAIN });
    expect(r).toMatchObject({ valid: false, checked: 0, firstInvalidSeq: 1, reason: 'gap or reorder: expected seq 1, found 2' });
  });

  it('detects a deleted event even when the later ones were renumbered', async () => {
    const events = clone(base);
    events.splice(5, 1);
    for (let i = 5; i < events.length; i++) events[i].seq = i + 1;
    const r = await verifyEvents(events, { chain: CHAIN });
    expect(r).toMatchObject({ valid: false, checked: 5, firstInvalidSeq: 6 });
    expect(r.reason).toMatch(/^prevHash mismatch at seq 6/);
  });

  it('detects two swapped events', async () => {
    const events = clone(base);
    [events[3], events[4]] = [events[4], events[3]];
    const r = await verifyEvents(events, { chain: CHAIN });
    expect(r).toMatchObject({ valid: false, checked: 3, firstInvalidSeq: 4, reason: 'gap or reorder: expected seq 4, found 5' });
  });

  it('detects two swapped events whose seqs were swapped back', async () => {
    const events = clone(base);
    [events[3], events[4]] = [events[4], events[3]];
    events[3].seq = 4;
    events[4].seq = 5;
    const r = await verifyEvents(events, { chain: CHAIN });
    expect(r).toMatchObject({ valid: false, checked: 3, firstInvalidSeq: 4 });
    expect(r.reason).toMatch(/^prevHash mismatch at seq 4/);
  });

  it('detects an inserted forged event that reuses a seq', async () => {
    const events = clone(base);
    // Forged after seq 5, claiming seq 6, correctly linked and hashed.
    const forged = sealEvent({ ...events[5], payload: { inferenceId: 'forged', costUsd: '0' }, prevHash: events[4].hash });
    events.splice(5, 0, forged);
    const r = await verifyEvents(events, { chain: CHAIN });
    // A well-made forgery is indistinguishable on its own; the break shows at the next position.
    expect(r).toMatchObject({ valid: false, checked: 6, firstInvalidSeq: 7, reason: 'gap or reorder: expected seq 7, found 6' });
  });

  it('detects an inserted forged event with the later events renumbered', async () => {
    const events = clone(base);
    const forged = sealEvent({ ...events[5], payload: { inferenceId: 'forged', costUsd: '0' }, prevHash: events[4].hash });
    events.splice(5, 0, forged);
    for (let i = 6; i < events.length; i++) events[i].seq = i + 1;
    const r = await verifyEvents(events, { chain: CHAIN });
    expect(r).toMatchObject({ valid: false, checked: 6, firstInvalidSeq: 7 });
    expect(r.reason).toMatch(/^prevHash mismatch at seq 7/);
  });

  it('detects an inserted forged event whose hash was not recomputed, at the forged seq', async () => {
    const events = clone(base);
    const forged: StoredEvent = { ...events[5], payload: { inferenceId: 'forged' } }; // keeps seq 6's hash
    events.splice(5, 0, forged);
    const r = await verifyEvents(events, { chain: CHAIN });
    expect(r).toMatchObject({ valid: false, checked: 5, firstInvalidSeq: 6 });
    expect(r.reason).toMatch(/^hash mismatch at seq 6/);
  });

  it('detects an event from another chain', async () => {
    const other = buildChain(3, '00000000-0000-4000-8000-000000000000');
    const events = clone(base).slice(0, 2).concat(other[2]);
    const r = await verifyEvents(events, { chain: CHAIN });
    expect(r).toMatchObject({ valid: false, checked: 2, firstInvalidSeq: 3 });
    expect(r.reason).toMatch(/^chain mismatch at seq 3/);
    // And a whole valid chain checked against the wrong tenant fails at seq 1.
    expect(await verifyEvents(other, { chain: CHAIN })).toMatchObject({ valid: false, checked: 0, firstInvalidSeq: 1 });
  });

  it('reports an event it cannot hash instead of throwing', async () => {
    const events = clone(base);
    events[1].v = 99;
    const r = await verifyEvents(events, { chain: CHAIN });
    expect(r).toMatchObject({ valid: false, checked: 1, firstInvalidSeq: 2 });
    expect(r.reason).toMatch(/cannot hash event at seq 2: unsupported audit envelope version 99/);
  });

  it('stops at the first failure without reading further (streaming)', async () => {
    let pulled = 0;
    const events = clone(base);
    events[2].prevHash = ZERO_HASH;
    async function* source(): AsyncGenerator<StoredEvent> {
      for (const e of events) {
        pulled++;
        yield e;
      }
    }
    const r = await verifyEvents(source(), { chain: CHAIN });
    expect(r.firstInvalidSeq).toBe(3);
    expect(pulled).toBe(3);
  });

  it('exposes the head hash so truncation can be checked against a known head', async () => {
    const truncated = await verifyEvents(clone(base).slice(0, 8), { chain: CHAIN });
    expect(truncated.valid).toBe(true);
    expect(truncated.headHash).toBe(base[7].hash);
    expect(truncated.headHash).not.toBe(base[9].hash);
  });
});

describe('envelopeHashParts (the hash the database finishes inside the append statement)', () => {
  it('rebuilds exactly the JCS hash for any payload, seq and prevHash', async () => {
    const { envelopeHashParts, eventHash } = await import('../../src/modules/audit/envelope.js');
    const { sha256Hex } = await import('../../src/shared/hashing.js');
    const payloads = [
      {},
      { costUsd: '0.000021', usage: { outputTokens: 12, inputTokens: 3 }, attempts: [{ model: 'm', outcome: 'succeeded', latencyMs: 0 }] },
      { text: 'é ü 中文 😀 "quoted" \\ back\nslash\t\u0001', nested: { z: null, a: [1, -2, 3.5, true, false] } },
      { '\u00e9': 1, e: 2, '\ud83d\ude00': 3, '10': 4, '9': 5 },
    ];
    for (const [i, payload] of payloads.entries()) {
      for (const [seq, prevHash] of [[1, '0'.repeat(64)], [123456, 'ab'.repeat(32)]] as const) {
        const e = { v: 1, chain: '7b0f8f3e-2c1a-4d5e-9f60-0a1b2c3d4e5f', type: i % 2 ? 'inference.failed' : 'inference.routed', occurredAt: '2026-11-25T19:08:04.123Z', payload };
        const { prefix, suffix, payload: stored } = envelopeHashParts(e);
        expect(sha256Hex(`${prefix}${prevHash}","seq":${seq}${suffix}`)).toBe(eventHash({ ...e, seq, prevHash }));
        // What the event stores is the payload's JCS text.
        expect(stored).toBe(jcs(payload));
      }
    }
  });
});

describe('eventHashOfText (the verifier reading a stored payload as text)', () => {
  const textOf = (e: StoredEvent, payloadText: string): StoredEventText => {
    const { payload, ...rest } = e;
    return { ...rest, payloadText };
  };

  it('gives eventHash of the parsed payload, for the canonical text and for other spellings of it', () => {
    const events = [sealEvent(GOLDEN), ...buildChain(50)];
    for (const e of events) {
      const spellings = [jcs(e.payload), JSON.stringify(e.payload), JSON.stringify(e.payload, null, 2), ` ${JSON.stringify(Object.fromEntries(Object.entries(e.payload).reverse()))}\n`];
      for (const text of spellings) expect(eventHashOfText(textOf(e, text)), text).toBe(e.hash);
    }
    expect(eventHashOfText(textOf(sealEvent(GOLDEN), jcs(GOLDEN.payload)))).toBe(GOLDEN_HASH);
  });

  it('differs when the content differs, canonical or not', () => {
    const [e] = buildChain(1);
    expect(eventHashOfText(textOf(e, jcs({ ...e.payload, costUsd: '9' })))).not.toBe(e.hash);
    expect(eventHashOfText(textOf(e, JSON.stringify({ ...e.payload, costUsd: '9' }, null, 1)))).not.toBe(e.hash);
  });

  it('takes the general path for what is not a plain v1 case, with eventHash\'s answer or error', () => {
    const [e] = buildChain(1);
    expect(eventHashOfText(textOf(e, '[1,2]'))).toBe(eventHash({ ...e, payload: [1, 2] as unknown as Record<string, unknown> }));
    expect(() => eventHashOfText(textOf({ ...e, v: 2 }, jcs(e.payload)))).toThrow(/unsupported audit envelope version 2/);
    expect(() => eventHashOfText(textOf(e, '{"a":1e400}'))).toThrow(/non-finite/);
    expect(() => eventHashOfText(textOf(e, '{"a":'))).toThrow(SyntaxError);
  });

  it('lets the streaming verifier check events as stored text', async () => {
    const events = buildChain(20);
    const asText = events.map((e, i) => textOf(e, i % 2 ? jcs(e.payload) : JSON.stringify(e.payload, null, 1)));
    const verifier = new ChainVerifier(CHAIN);
    for (const e of asText) expect(verifier.push(e)).toBe(true);
    expect(verifier.headHash).toBe(events[19].hash);
    // One changed value in a canonical text (hashed as stored) and in a respelled one (parsed first).
    for (const [index, from, to] of [[7, '"costUsd":"0.00008"', '"costUsd":"0.00009"'], [6, '"costUsd": "0.00007"', '"costUsd": "0.00009"']] as const) {
      const tampered = asText.map((e) => ({ ...e }));
      expect(tampered[index].payloadText).toContain(from);
      tampered[index].payloadText = tampered[index].payloadText.replace(from, to);
      const verifier2 = new ChainVerifier(CHAIN);
      for (const e of tampered) if (!verifier2.push(e)) break;
      expect(verifier2.failure).toMatchObject({ seq: index + 1, reason: expect.stringMatching(new RegExp(`hash mismatch at seq ${index + 1}`)) });
    }
  });
});
