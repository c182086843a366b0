import { describe, expect, it } from 'vitest';
import { jcs, jcsHash, sha256Hex } from '../../src/shared/hashing.js';
import {
  ALL_CELLS,
  CHEAP_COST_USD,
  CONSTRAINT_BANDS,
  FAST_LATENCY_MS,
  TASK_TYPES,
  TASK_TYPE_SOURCES,
  TIER1_CELLS,
  TIER1_CELLS_POSSIBLE,
  TIER1_TASK_TYPES,
  cell,
  compareDecimal,
  constraintBand,
  costUsd,
  decimalFromNumber,
  estimateInputTokens,
  isTaskType,
  parseCell,
  parseClassifierLabel,
  parseRuleset,
  policyVersion,
  resolveTaskType,
  rulesetHash,
  rulesetSchema,
  selectRoute,
  taskTier,
  worstCaseCostUsd,
  type Ruleset,
  type TaskType,
} from '../../src/modules/routing/sixteen.js';

// DESIGN §2 golden vector, verbatim.
const GOLDEN_JSON = `{"rules":[{"when":{"taskTypes":["code","reasoning"],"bands":["fast","tight"]},"route":["claude-haiku-4-5","gpt-4.1-mini"]},
          {"when":{"taskTypes":["code","reasoning"]},"route":["claude-sonnet-4-5","gpt-4.1"]}],
 "fallback":["claude-haiku-4-5","gpt-4.1-mini"]}`;
const GOLDEN_HASH = '32cbd4078a24b136c8acd0bff4cf0926902f506c9143921ab284ce63892c3dbe';
const GOLDEN_PV = 'pv-32cbd4078a24';
const golden = (): Ruleset => JSON.parse(GOLDEN_JSON) as Ruleset;
const KNOWN = new Set(['claude-haiku-4-5', 'gpt-4.1-mini', 'claude-sonnet-4-5', 'gpt-4.1']);

/** Deterministic pseudo-random generator so the shuffles are reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Rebuilds every object with its keys in a shuffled order; arrays keep their order. */
function shuffleKeys(value: unknown, rand: () => number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, rand));
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [keys[i], keys[j]] = [keys[j], keys[i]];
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = shuffleKeys((value as Record<string, unknown>)[k], rand);
    return out;
  }
  return value;
}

describe('hashing', () => {
  it('produces RFC 8785 canonical JSON', () => {
    expect(jcs({ b: 1, a: [true, null, 'x'], c: { z: 1.5, y: -0 } })).toBe('{"a":[true,null,"x"],"b":1,"c":{"y":0,"z":1.5}}');
    expect(jcs(1e21)).toBe('1e+21');
    expect(jcs('é')).toBe('"é"');
  });

  it('drops undefined object properties like JSON.stringify (stable across a jsonb round trip)', () => {
    expect(jcs({ a: 1, b: undefined })).toBe('{"a":1}');
  });

  it('throws a clear error for values that cannot be canonicalized', () => {
    expect(() => jcs(undefined)).toThrow(/undefined/);
    expect(() => jcs(() => 1)).toThrow(/function/);
    expect(() => jcs({ a: { f: () => 1 } })).toThrow(/function at \$\.a\.f/);
    expect(() => jcs({ n: Number.NaN })).toThrow(/non-finite/);
    expect(() => jcs([1, Number.POSITIVE_INFINITY])).toThrow(/non-finite.*\$\[1\]/);
    expect(() => jcs([undefined])).toThrow(/undefined at \$\[0\]/);
    expect(() => jcs({ big: 1n })).toThrow(/bigint/);
    expect(() => jcs(new Map([['a', 1]]))).toThrow(/non-plain/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => jcs(cyclic)).toThrow(/circular/);
  });

  it('hashes UTF-8 bytes to lowercase hex', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('é')).toBe(sha256Hex(new Uint8Array([0xc3, 0xa9])));
    expect(jcsHash({ b: 2, a: 1 })).toBe(sha256Hex('{"a":1,"b":2}'));
  });
});

describe('vocabulary', () => {
  it('has 9 task types, 4 of them Tier-1, 3 sources and 4 bands', () => {
    expect(TASK_TYPES).toHaveLength(9);
    expect(TIER1_TASK_TYPES).toEqual(['reasoning', 'code', 'extraction', 'chat']);
    expect(TASK_TYPE_SOURCES).toEqual(['caller', 'classifier', 'default']);
    expect(CONSTRAINT_BANDS).toEqual(['open', 'fast', 'cheap', 'tight']);
  });

  it('classifies tiers and guards task types', () => {
    expect(TIER1_TASK_TYPES.map(taskTier)).toEqual(['tier1', 'tier1', 'tier1', 'tier1']);
    for (const t of ['summarization', 'classification', 'translation', 'creative', 'general'] as const) {
      expect(taskTier(t)).toBe('tier2');
    }
    expect(isTaskType('code')).toBe(true);
    expect(isTaskType('Code')).toBe(false);
    expect(isTaskType('')).toBe(false);
    expect(isTaskType(null)).toBe(false);
    expect(isTaskType(3)).toBe(false);
  });

  it('has 36 cells, 16 of them Tier-1', () => {
    expect(ALL_CELLS).toHaveLength(36);
    expect(new Set(ALL_CELLS).size).toBe(36);
    expect(TIER1_CELLS).toHaveLength(TIER1_CELLS_POSSIBLE);
    expect(TIER1_CELLS_POSSIBLE).toBe(16);
    for (const c of TIER1_CELLS) expect(ALL_CELLS).toContain(c);
    expect(TIER1_CELLS).toContain('code/fast');
    expect(TIER1_CELLS).not.toContain('general/open');
  });

  it('formats and parses cells', () => {
    expect(cell('code', 'fast')).toBe('code/fast');
    expect(parseCell('code/fast')).toEqual({ taskType: 'code', band: 'fast' });
    for (const c of ALL_CELLS) expect(cell(parseCell(c)!.taskType, parseCell(c)!.band)).toBe(c);
    for (const bad of ['code', 'code/', '/fast', 'code/fast/x', 'Code/fast', 'code/slow', 'poetry/open', '']) {
      expect(parseCell(bad)).toBeNull();
    }
  });
});

describe('constraintBand', () => {
  it('uses the documented thresholds', () => {
    expect(FAST_LATENCY_MS).toBe(2000);
    expect(CHEAP_COST_USD).toBe(0.01);
  });

  it.each([
    [1999, 'fast'],
    [2000, 'fast'],
    [2001, 'open'],
  ] as const)('maxLatencyMs %d → %s', (ms, band) => {
    expect(constraintBand({ maxLatencyMs: ms })).toBe(band);
  });

  it.each([
    [0.0099, 'cheap'],
    [0.01, 'cheap'],
    [0.0101, 'open'],
    [0, 'cheap'],
  ] as const)('maxCostUsd %d → %s', (usd, band) => {
    expect(constraintBand({ maxCostUsd: usd })).toBe(band);
  });

  it('is tight only when both are tight, at every boundary', () => {
    expect(constraintBand({ maxLatencyMs: 2000, maxCostUsd: 0.01 })).toBe('tight');
    expect(constraintBand({ maxLatencyMs: 1999, maxCostUsd: 0.0099 })).toBe('tight');
    expect(constraintBand({ maxLatencyMs: 2001, maxCostUsd: 0.01 })).toBe('cheap');
    expect(constraintBand({ maxLatencyMs: 2000, maxCostUsd: 0.0101 })).toBe('fast');
    expect(constraintBand({ maxLatencyMs: 2001, maxCostUsd: 0.0101 })).toBe('open');
  });

  it('treats absent and null values as not given', () => {
    expect(constraintBand()).toBe('open');
    expect(constraintBand(null)).toBe('open');
    expect(constraintBand({})).toBe('open');
    expect(constraintBand({ maxLatencyMs: null, maxCostUsd: null })).toBe('open');
    expect(constraintBand({ maxLatencyMs: undefined, maxCostUsd: 0.01 })).toBe('cheap');
    expect(constraintBand({ maxLatencyMs: 500, maxCostUsd: null })).toBe('fast');
  });
});

describe('policy version', () => {
  it('matches the DESIGN §2 golden vector', () => {
    expect(rulesetHash(golden())).toBe(GOLDEN_HASH);
    expect(policyVersion(golden())).toBe(GOLDEN_PV);
  });

  it('does not depend on key order at any level', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const shuffled = shuffleKeys(golden(), rng(seed));
      expect(policyVersion(shuffled)).toBe(GOLDEN_PV);
      expect(rulesetHash(shuffled)).toBe(GOLDEN_HASH);
    }
    // And one hand-written, fully reversed order for good measure.
    const reversed = {
      fallback: ['claude-haiku-4-5', 'gpt-4.1-mini'],
      rules: [
        { route: ['claude-haiku-4-5', 'gpt-4.1-mini'], when: { bands: ['fast', 'tight'], taskTypes: ['code', 'reasoning'] } },
        { route: ['claude-sonnet-4-5', 'gpt-4.1'], when: { taskTypes: ['code', 'reasoning'] } },
      ],
    };
    expect(policyVersion(reversed)).toBe(GOLDEN_PV);
  });

  it('is unchanged by a parse round trip', () => {
    const parsed = parseRuleset(golden(), KNOWN);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(policyVersion(parsed.ruleset)).toBe(GOLDEN_PV);
  });

  it('detects drift: every small change of content changes it', () => {
    const mutations: Array<[string, (r: Ruleset) => void]> = [
      ['reordered route', (r) => r.rules[0].route.reverse()],
      ['reordered fallback', (r) => r.fallback.reverse()],
      ['reordered rules', (r) => r.rules.reverse()],
      ['reordered task types', (r) => r.rules[1].when!.taskTypes!.reverse()],
      ['extra band', (r) => r.rules[0].when!.bands!.push('cheap')],
      ['removed band', (r) => r.rules[0].when!.bands!.pop()],
      ['extra task type', (r) => r.rules[1].when!.taskTypes!.push('chat')],
      ['changed slug', (r) => (r.rules[1].route[1] = 'gpt-4.1-mini')],
      ['changed fallback slug', (r) => (r.fallback[0] = 'claude-sonnet-4-5')],
      ['case of a slug', (r) => (r.fallback[1] = 'GPT-4.1-mini')],
      ['trailing space in a slug', (r) => (r.fallback[1] = 'gpt-4.1-mini ')],
      ['dropped when.bands', (r) => delete r.rules[0].when!.bands],
      ['dropped when', (r) => delete r.rules[1].when],
      ['empty when instead of absent', (r) => (r.rules[1].when = {})],
      ['extra rule', (r) => r.rules.push({ route: ['gpt-4.1'] })],
      ['removed rule', (r) => r.rules.pop()],
      ['duplicated route entry', (r) => r.rules[0].route.push('gpt-4.1-mini')],
    ];
    const seen = new Set([GOLDEN_PV]);
    for (const [name, mutate] of mutations) {
      const r = golden();
      mutate(r);
      const pv = policyVersion(r);
      expect(pv, name).not.toBe(GOLDEN_PV);
      expect(pv, name).toMatch(/^pv-[0-9a-f]{12}$/);
      seen.add(pv);
    }
    expect(seen.size).toBe(mutations.length + 1);
  });
});

describe('parseRuleset', () => {
  it('accepts a valid ruleset, including rules without when or with partial when', () => {
    const input = {
      rules: [{ route: ['gpt-4.1'] }, { when: { bands: ['cheap'] }, route: ['gpt-4.1-mini'] }, { when: {}, route: ['gpt-4.1'] }],
      fallback: ['claude-haiku-4-5'],
    };
    const r = parseRuleset(input, KNOWN);
    expect(r).toEqual({ ok: true, ruleset: input });
    expect(rulesetSchema.safeParse(input).success).toBe(true);
  });

  it('accepts an empty rule list (everything goes to the fallback)', () => {
    expect(parseRuleset({ rules: [], fallback: ['gpt-4.1'] }, KNOWN).ok).toBe(true);
  });

  it('names the path of an unknown model slug', () => {
    const input = golden();
    input.rules[1].route[0] = 'gpt-9';
    input.fallback[1] = 'llama-7';
    const r = parseRuleset(input, KNOWN);
    expect(r).toEqual({
      ok: false,
      problems: ['rules[1].route[0]: unknown model "gpt-9"', 'fallback[1]: unknown model "llama-7"'],
    });
  });

  it('reports every shape problem with its path', () => {
    const r = parseRuleset(
      {
        rules: [
          { when: { taskTypes: ['poetry'], bands: ['slow'] }, route: [] },
          { when: { taskTypes: [] }, route: ['gpt-4.1', ''], extra: 1 },
          { when: { bands: [] }, route: 'gpt-4.1' },
          { when: { models: ['x'] }, route: [42] },
        ],
        fallback: [],
        version: 2,
      },
      KNOWN,
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const text = r.problems.join('\n');
    expect(text).toContain('rules[0].when.taskTypes[0]: unknown task type "poetry"');
    expect(text).toContain('rules[0].when.bands[0]: unknown constraint band "slow"');
    expect(text).toContain('rules[0].route: must list at least one model');
    expect(text).toContain('rules[1].when.taskTypes: must not be empty');
    expect(text).toContain('rules[1].route[1]: model slug must not be empty');
    expect(text).toContain('rules[1]: unknown key "extra"');
    expect(text).toContain('rules[2].when.bands: must not be empty');
    expect(text).toMatch(/rules\[2\]\.route: .*array/);
    expect(text).toContain('rules[3].when: unknown key "models"');
    expect(text).toContain('rules[3].route[0]: expected a model slug (string), got number');
    expect(text).toContain('fallback: must list at least one model');
    expect(text).toContain('ruleset: unknown key "version"');
  });

  it('reports shape problems and unknown slugs together', () => {
    const r = parseRuleset({ rules: [{ route: ['gpt-9'] }] }, KNOWN);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems).toContain('rules[0].route[0]: unknown model "gpt-9"');
      expect(r.problems.some((p) => p.startsWith('fallback:'))).toBe(true);
    }
  });

  it('rejects non-objects at the root', () => {
    for (const input of [null, undefined, [], 'rules', 42]) {
      const r = parseRuleset(input, KNOWN);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.problems[0]).toMatch(/^ruleset: /);
    }
  });
});

describe('selectRoute', () => {
  const rs: Ruleset = {
    rules: [
      { when: { taskTypes: ['code', 'reasoning'], bands: ['fast', 'tight'] }, route: ['a'] },
      { when: { taskTypes: ['code'] }, route: ['b'] },
      { when: { bands: ['cheap'] }, route: ['c'] },
      { when: { taskTypes: ['code'], bands: ['open'] }, route: ['unreachable'] },
    ],
    fallback: ['z'],
  };

  it('takes the first matching rule', () => {
    expect(selectRoute(rs, 'code', 'fast')).toEqual({ route: ['a'], ruleIndex: 0 });
    expect(selectRoute(rs, 'reasoning', 'tight')).toEqual({ route: ['a'], ruleIndex: 0 });
    // Rule 1 (taskTypes only) shadows rule 3 for code/open and rule 2 for code/cheap.
    expect(selectRoute(rs, 'code', 'open')).toEqual({ route: ['b'], ruleIndex: 1 });
    expect(selectRoute(rs, 'code', 'cheap')).toEqual({ route: ['b'], ruleIndex: 1 });
  });

  it('treats absent taskTypes or bands as "any"', () => {
    expect(selectRoute(rs, 'chat', 'cheap')).toEqual({ route: ['c'], ruleIndex: 2 });
    expect(selectRoute(rs, 'general', 'cheap')).toEqual({ route: ['c'], ruleIndex: 2 });
  });

  it('falls back when nothing matches', () => {
    expect(selectRoute(rs, 'reasoning', 'open')).toEqual({ route: ['z'], ruleIndex: null });
    expect(selectRoute(rs, 'chat', 'fast')).toEqual({ route: ['z'], ruleIndex: null });
    expect(selectRoute({ rules: [], fallback: ['z'] }, 'code', 'open')).toEqual({ route: ['z'], ruleIndex: null });
  });

  it('lets a rule without when, or with an empty when, match everything', () => {
    const catchAll: Ruleset = { rules: [{ when: { bands: ['tight'] }, route: ['t'] }, { route: ['all'] }], fallback: ['z'] };
    for (const c of ALL_CELLS) {
      const { taskType, band } = parseCell(c)!;
      expect(selectRoute(catchAll, taskType, band)).toEqual(
        band === 'tight' ? { route: ['t'], ruleIndex: 0 } : { route: ['all'], ruleIndex: 1 },
      );
    }
    expect(selectRoute({ rules: [{ when: {}, route: ['e'] }], fallback: ['z'] }, 'creative', 'open').ruleIndex).toBe(0);
  });

  it('routes the golden ruleset as DESIGN §2 describes', () => {
    const g = golden();
    expect(selectRoute(g, 'code', 'fast').route).toEqual(['claude-haiku-4-5', 'gpt-4.1-mini']);
    expect(selectRoute(g, 'reasoning', 'open').route).toEqual(['claude-sonnet-4-5', 'gpt-4.1']);
    expect(selectRoute(g, 'chat', 'tight')).toEqual({ route: ['claude-haiku-4-5', 'gpt-4.1-mini'], ruleIndex: null });
  });

  it('returns a copy the caller may mutate', () => {
    const r = selectRoute(rs, 'code', 'fast');
    r.route.push('x');
    expect(rs.rules[0].route).toEqual(['a']);
  });
});

describe('resolveTaskType', () => {
  it('prefers the caller, then the classifier, then the default', () => {
    expect(resolveTaskType('code', 'chat')).toEqual({ taskType: 'code', source: 'caller' });
    expect(resolveTaskType('general', 'chat')).toEqual({ taskType: 'general', source: 'caller' });
    expect(resolveTaskType(null, 'chat')).toEqual({ taskType: 'chat', source: 'classifier' });
    expect(resolveTaskType(undefined, 'general')).toEqual({ taskType: 'general', source: 'classifier' });
    expect(resolveTaskType(null, null)).toEqual({ taskType: 'general', source: 'default' });
    expect(resolveTaskType(undefined, undefined)).toEqual({ taskType: 'general', source: 'default' });
  });

  it('treats an invalid classifier label as no label', () => {
    expect(resolveTaskType(null, 'poetry' as TaskType)).toEqual({ taskType: 'general', source: 'default' });
    expect(resolveTaskType(null, 'CODE' as TaskType)).toEqual({ taskType: 'general', source: 'default' });
  });

  it('throws a TypeError for an invalid caller value', () => {
    expect(() => resolveTaskType('poetry' as TaskType, 'code')).toThrow(TypeError);
    expect(() => resolveTaskType('' as TaskType, null)).toThrow(TypeError);
  });
});

describe('parseClassifierLabel', () => {
  it.each([
    ['code', 'code'],
    ['  Code \n', 'code'],
    ['REASONING', 'reasoning'],
    ['"chat"', 'chat'],
    ["'extraction'", 'extraction'],
    ['`summarization`', 'summarization'],
    ['```translation```', 'translation'],
    ['\u201ccreative\u201d', 'creative'],
    ['general.', 'general'],
    ['"code".', 'code'],
    ['"code."', 'code'],
    ['label: code', 'code'],
    ['Label:classification', 'classification'],
    ['Task type: Reasoning.', 'reasoning'],
    ['task_type: "chat"', 'chat'],
    ['"label: code"', 'code'],
  ] as const)('accepts %j → %s', (text, label) => {
    expect(parseClassifierLabel(text)).toBe(label);
  });

  it.each([
    'code or reasoning',
    "I think it's code",
    'code, reasoning',
    'code reasoning',
    'code\nreasoning',
    'The task type is code.',
    'poetry',
    'codes',
    'code..',
    '"code',
    'code"',
    '**code**',
    'label:',
    'label: label: code',
    '',
    '   ',
    '""',
    '.',
    'tier1',
  ])('rejects %j', (text) => {
    expect(parseClassifierLabel(text)).toBeNull();
  });

  it('rejects null and undefined', () => {
    expect(parseClassifierLabel(null)).toBeNull();
    expect(parseClassifierLabel(undefined)).toBeNull();
  });

  it('accepts every task type', () => {
    for (const t of TASK_TYPES) expect(parseClassifierLabel(t.toUpperCase())).toBe(t);
  });
});

describe('estimateInputTokens', () => {
  it('is ceil(chars / 4) with a minimum of 1', () => {
    expect(estimateInputTokens(null, [])).toBe(1);
    expect(estimateInputTokens(undefined, [{ content: '' }])).toBe(1);
    expect(estimateInputTokens('abcd', [])).toBe(1);
    expect(estimateInputTokens('abcd', [{ content: 'e' }])).toBe(2);
    expect(estimateInputTokens('ab', [{ content: 'cd' }, { content: 'efgh' }])).toBe(2);
    expect(estimateInputTokens(null, [{ content: 'x'.repeat(4001) }])).toBe(1001);
  });

  it('counts UTF-16 code units', () => {
    expect(estimateInputTokens('😀😀😀', [])).toBe(2); // 6 code units
  });
});

describe('money', () => {
  it('computes exact costs', () => {
    expect(costUsd(21, 0, '1', '1')).toBe('0.000021');
    expect(costUsd(1, 0, '0.40', '0')).toBe('0.0000004');
    expect(costUsd(1_000_000, 0, '15', '75')).toBe('15');
    expect(costUsd(0, 1_000_000, '15', '75')).toBe('75');
    expect(costUsd(0, 0, '15', '75')).toBe('0');
    expect(costUsd(1, 1, '0.000001', '0.000001')).toBe('0.000000000002');
    expect(costUsd(1234, 567, '3', '15')).toBe('0.012207');
    expect(costUsd(3, 7, '0.10', '0.30')).toBe('0.0000024');
    expect(costUsd(1_000_000, 1_000_000, '0.1', '0.2')).toBe('0.3'); // where 0.1 + 0.2 floats fail
    expect(costUsd(Number.MAX_SAFE_INTEGER, 0, '1000', '0')).toBe('9007199254740.991');
  });

  it('never uses exponents or trailing zeros', () => {
    const c = costUsd(1, 0, '0.000001', '0');
    expect(c).toBe('0.000000000001');
    expect(c).not.toMatch(/e/i);
    expect(costUsd(500_000, 0, '2.000000', '0')).toBe('1');
  });

  it('rejects bad prices and token counts', () => {
    expect(() => costUsd(1, 1, '0.0000001', '1')).toThrow(/decimals/);
    expect(() => costUsd(1, 1, '1e-6', '1')).toThrow(RangeError);
    expect(() => costUsd(1, 1, '-1', '1')).toThrow(/negative/);
    expect(() => costUsd(1, 1, '', '1')).toThrow(RangeError);
    expect(() => costUsd(1, 1, ' 1', '1')).toThrow(RangeError);
    expect(() => costUsd(1, 1, '1.', '1')).toThrow(RangeError);
    expect(() => costUsd(-1, 1, '1', '1')).toThrow(RangeError);
    expect(() => costUsd(1.5, 1, '1', '1')).toThrow(RangeError);
    expect(() => costUsd(Number.NaN, 1, '1', '1')).toThrow(RangeError);
  });

  it('computes worst-case cost from estimated input and maxTokens', () => {
    expect(worstCaseCostUsd(100, 1000, '3', '15')).toBe('0.0153');
    expect(worstCaseCostUsd(100, 1000, '3', '15')).toBe(costUsd(100, 1000, '3', '15'));
  });

  it('compares decimals exactly', () => {
    expect(compareDecimal('0.01', '0.010')).toBe(0);
    expect(compareDecimal('0.0153', '0.01')).toBe(1);
    expect(compareDecimal('0.000000000001', '0')).toBe(1);
    expect(compareDecimal('0', '0.000000000001')).toBe(-1);
    expect(compareDecimal('15', '14.999999999999')).toBe(1);
    expect(compareDecimal('-0.5', '0')).toBe(-1);
    expect(compareDecimal('-0', '0')).toBe(0);
    expect(compareDecimal('100', '99.99')).toBe(1);
    expect(() => compareDecimal('1e-3', '0')).toThrow(RangeError);
  });

  it('converts floats to the decimal they print as, exponent forms included', () => {
    expect(decimalFromNumber(0.01)).toBe('0.01');
    expect(decimalFromNumber(1e-7)).toBe('0.0000001');
    expect(decimalFromNumber(1.5e-7)).toBe('0.00000015');
    expect(decimalFromNumber(1.23456e-10)).toBe('0.000000000123456');
    expect(decimalFromNumber(5e-324)).toBe(`0.${'0'.repeat(323)}5`);
    expect(decimalFromNumber(1e21)).toBe('1000000000000000000000');
    expect(decimalFromNumber(1.5e21)).toBe('1500000000000000000000');
    expect(decimalFromNumber(-2.5e-8)).toBe('-0.000000025');
    expect(decimalFromNumber(0)).toBe('0');
    expect(decimalFromNumber(-0)).toBe('0');
    expect(decimalFromNumber(15)).toBe('15');
    expect(decimalFromNumber(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(() => decimalFromNumber(Number.NaN)).toThrow(RangeError);
    expect(() => decimalFromNumber(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it('supports the worst-case budget check end to end', () => {
    const worst = worstCaseCostUsd(estimateInputTokens(null, [{ content: 'x'.repeat(400) }]), 100, '1', '5');
    expect(worst).toBe('0.0006');
    expect(compareDecimal(worst, decimalFromNumber(0.0006))).toBe(0);
    expect(compareDecimal(worst, decimalFromNumber(5.99e-4))).toBe(1);
    expect(compareDecimal(worst, decimalFromNumber(6e-4 + 1e-12))).toBe(-1);
  });
});
