import canonicalize from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { isJcsText, jcs } from '../../src/shared/hashing.js';

/** A small seeded PRNG, so a failure names a reproducible case. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ['a', 'Z', '0', ' ', '"', '\\', '\n', '\t', '\u0000', '\u001f', '\u007f', 'é', 'ß', '中', '\u2028', '\u2029', '😀', '\ud83d\ude00', '€', '\ufeff', '/', '<'];

function generate(rand: () => number, depth: number): unknown {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const str = () => Array.from({ length: Math.floor(rand() * 8) }, () => pick(ALPHABET)).join('');
  const kind = depth > 3 ? Math.floor(rand() * 4) : Math.floor(rand() * 6);
  switch (kind) {
    case 0:
      return str();
    case 1:
      return pick([0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789.123, -5e-324, 1.7976931348623157e308, 2 ** 53, 333333333.33333329, rand() * 1e6 - 5e5, Math.floor(rand() * 1e9)]);
    case 2:
      return pick([true, false, null]);
    case 3:
      return str();
    case 4:
      return Array.from({ length: Math.floor(rand() * 4) }, () => generate(rand, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(rand() * 5); i > 0; i--) o[str()] = generate(rand, depth + 1);
      return o;
    }
  }
}

describe('jcs (RFC 8785)', () => {
  it('matches the canonicalize package on 5,000 generated values', () => {
    const rand = prng(8785);
    for (let i = 0; i < 5000; i++) {
      const value = generate(rand, 0);
      expect(jcs(value), `case ${i}`).toBe(canonicalize(value));
    }
  });

  it('matches canonicalize on objects that repeat a few key sets (the cached key orders), in any insertion order', () => {
    const rand = prng(1885);
    const keySets = [['b', 'a', '10', '9', 'é', 'Z'], ['model', 'provider', 'outcome', 'latencyMs'], ['x'], ['2', '1', '__proto__x', '']];
    for (let i = 0; i < 2000; i++) {
      const keys = keySets[i % keySets.length].slice().sort(() => rand() - 0.5);
      const o: Record<string, unknown> = {};
      for (const k of keys) o[k] = rand() < 0.2 ? undefined : generate(rand, 2);
      const nested = { outer: o, list: [o, { ...o }], other: Object.fromEntries(Object.entries(o).reverse()) };
      expect(jcs(nested), `case ${i}`).toBe(canonicalize(JSON.parse(JSON.stringify(nested))));
    }
    // More distinct key sets than the cache holds, then the first ones again.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 100; i++) {
        const o = { [`k${i}`]: i, a: 1, [`z${i}`]: [i] };
        expect(jcs(o)).toBe(canonicalize(o));
      }
    }
  });

  it('passes the RFC 8785 number and ordering examples', () => {
    expect(jcs({ numbers: [333333333.33333329, 1e30, 4.5, 2e-3, 0.000000000000000000000000001] })).toBe('{"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27]}');
    expect(jcs({ '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' })).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    expect(jcs(-0)).toBe('0');
  });

  it('refuses what JSON cannot carry faithfully, naming where', () => {
    expect(() => jcs({ s: 'a\ud800' })).toThrow(/lone surrogate.*\$\.s/);
    expect(() => jcs({ ['k\udc00']: 1 })).toThrow(/lone surrogate/);
    expect(() => jcs({ a: [0, { b: Number.NaN }] })).toThrow(/non-finite.*\$\.a\[1\]\.b/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => jcs(cyclic)).toThrow(/circular/);
  });
});

/** Whether some object key in `v` needs an escape (isJcsText leaves those to the parse + jcs path). */
function hasEscapedKey(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasEscapedKey);
  if (v === null || typeof v !== 'object') return false;
  return Object.entries(v).some(([k, x]) => JSON.stringify(k) !== `"${k}"` || hasEscapedKey(x));
}

/** A text with the same content as `v` (or nearly), spelled in one of the ways JCS does not spell it. */
function respell(rand: () => number, v: unknown): string {
  const text = JSON.stringify(v) ?? 'null';
  const at = Math.floor(rand() * (text.length + 1));
  const edits: Array<() => string> = [
    () => JSON.stringify(v, null, 1) ?? 'null', // whitespace
    () => `${text.slice(0, at)} ${text.slice(at)}`, // one space anywhere
    () => text.slice(0, at) + text.slice(at + 1), // one character gone
    () => `${text.slice(0, at)}${String.fromCharCode(32 + Math.floor(rand() * 95))}${text.slice(at)}`, // one character more
    () => text.replace(/(\d)(?=[,\]}]|$)/, '$1.0'), // 1 → 1.0
    () => text.replace(/(-?\d+)(?=[,\]}]|$)/, '$1e0'), // 1 → 1e0
    () => text.replace(/\b0(?=[,\]}]|$)/, '-0'), // 0 → -0
    () => text.replace(/e\+/, 'E+'), // 1e+30 → 1E+30
    () => text.replace(/"([a-z])/i, (_m, c: string) => `"\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`), // a → \u0061
    () => text.replace(/\\u00([0-9a-f]{2})/, (_m, h: string) => `\\u00${h.toUpperCase()}`), // \u001f → \u001F
    () => text.replace(/\//, '\\/'), // / → \/
    () => text.replace(/\\n/, '\\u000a'), // \n → \u000a
    () => text.replace(/\{"([^"]*)":([^,}]*)/, '{"$1":$2,"$1":$2'), // a duplicate key
    () => text.replace(/"([^"\\]*)"/, '"$1\\ud800"'), // a lone surrogate, escaped
    () => text.replace(/\{(.*)\}/, (_m, inner: string) => `{${inner.split(',').reverse().join(',')}}`), // members reordered
  ];
  return edits[Math.floor(rand() * edits.length)]();
}

describe('isJcsText (the verifier\'s test for a stored payload it can hash as it is)', () => {
  it('accepts what jcs writes, except keys with escapes (left to the parse + jcs path)', () => {
    const rand = prng(1208);
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      const value = generate(rand, 0);
      const text = jcs(value);
      expect(isJcsText(text), `case ${i}: ${text}`).toBe(!hasEscapedKey(value));
      if (!hasEscapedKey(value)) accepted++;
    }
    expect(accepted).toBeGreaterThan(3000);
    // The shape of every audit payload the server writes.
    const payload = { inferenceId: '0c9d7f5e-1111-4a2b-8c3d-444455556666', agentId: 'a', attempts: [{ model: 'm', provider: 'p', outcome: 'succeeded', latencyMs: 40 }], usage: { inputTokens: 11, outputTokens: 12 }, costUsd: '0.000071', cell: 'chat/open', policyVersion: null };
    expect(isJcsText(jcs(payload))).toBe(true);
  });

  it('never accepts a text that is not exactly jcs(JSON.parse(text)), on 20,000 respelled texts', () => {
    const rand = prng(8259);
    const verdicts = { accepted: 0, refused: 0 };
    for (let i = 0; i < 20_000; i++) {
      const text = respell(rand, generate(rand, 0));
      if (!isJcsText(text)) {
        verdicts.refused++;
        continue;
      }
      verdicts.accepted++;
      // Accepted: it parses, jcs takes the value, and gives back the very same text.
      expect(jcs(JSON.parse(text)), `case ${i}: ${text}`).toBe(text);
    }
    // Both verdicts happen (an edit can leave a text canonical, e.g. a space inside a string).
    expect(verdicts.refused).toBeGreaterThan(5_000);
    expect(verdicts.accepted).toBeGreaterThan(500);
  });

  it('decides the known cases', () => {
    const yes = ['{}', '[]', '{"a":1,"b":[true,false,null]}', '{"":0,"a":{"b":"c"}}', '"\\u001f\\n\\"\\\\"', '1e+30', '-5e-324', '0.1', '"😀"', '{"\u20ac":1,"\ud83d\ude00":2,"\ufb33":3}', '{"a":1,"ab":2,"b":3}', '{"b":{"z":1},"c":{"a":1}}', '[1,-2,30,123456789012345,1234567890123456,9007199254740991]'];
    const no = ['{"b":1,"a":2}', '{"a":1,"a":1}', '{ }', '{"a": 1}', '1.0', '-0', '1E+30', '1e400', '01', '+1', '"\\u001F"', '"\\u0041"', '"\\/"', '"\\ud800"', '"\ud800"', '"a\u0001"', '"\\u000a"', 'tru', '[1,]', '{"a":1}x', '"abc', '', '{"\\u0061":1}', '{"ab":1,"a":2}', '{"a":1,"b":2,"b":3}', '{"a', '{"a":"b', '{"a":1,"\\n":2}', '[12-3]', '-01', '[-0]', '9007199254740993', '12.0', '1e3'];
    for (const t of yes) expect(isJcsText(t), t).toBe(true);
    for (const t of no) expect(isJcsText(t), t).toBe(false);
    for (const t of yes) expect(jcs(JSON.parse(t))).toBe(t);
  });
});
