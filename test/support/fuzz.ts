/**
 * A seeded, reproducible generator of malformed GraphQL-over-HTTP requests (issue #8).
 *
 * Case `i` of seed `s` depends on (s, i) alone, so one failing case replays by itself:
 * `FUZZ_SEED=<s> FUZZ_ONLY=<i> npx vitest run test/integration/fuzz.test.ts`.
 *
 * Every case is malformed somewhere — bad JSON, wrong content type, wrong or missing variable types,
 * out-of-range values, unknown fields, oversized bodies, odd methods — or, for dispatches that are
 * well-formed apart from their text (unicode edge cases, deep metadata), names a model that does not
 * exist. So no case may write a row: a dispatch that got through would show in the row counts.
 */

export interface FuzzContext {
  agentKey: string;
  adminKey: string;
  memberKey: string;
  agentId: string;
  /** Another tenant's ids, to mix in where ids are expected. */
  foreignIds: string[];
  maxBodyBytes: number;
}

export interface FuzzRequest {
  index: number;
  /** Generator name plus the mutation applied, for the failure report. */
  label: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

// ---------------------------------------------------------------------------------------------
// randomness

/** mulberry32: tiny, fast, and good enough to spread cases. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rand {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  weighted<T>(items: ReadonlyArray<readonly [number, T]>): T {
    const total = items.reduce((s, [w]) => s + w, 0);
    let x = this.next() * total;
    for (const [w, v] of items) {
      x -= w;
      if (x < 0) return v;
    }
    return items[items.length - 1][1];
  }
}

export function caseSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// building blocks

/** Strings that have broken parsers, encoders, databases and log pipelines. */
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff',
  'x\udc00\ud800y',
  '\ud83d',
  '\u202eevil\u202c',
  'مرحبا بالعالم',
  'שלום',
  '😀🔥👩‍👩‍👧‍👦🏳️‍🌈',
  'e\u0301\u0301\u0301',
  '\ufeffbom',
  '\uffff\ufffe',
  '\u{10ffff}',
  '\u2028\u2029',
  '\r\n\t\v\f\b',
  '%00%ff',
  '../../../etc/passwd',
  "' or 1=1; drop table inference; --",
  '$1',
  '?',
  '${jndi:ldap://127.0.0.1/x}',
  '<script>alert(1)</script>',
  '\\',
  '"',
  '{{7*7}}',
  '__proto__',
  'constructor',
  'null',
  'NaN',
  '-0',
  '1e309',
  '99999999999999999999999999999',
  'ainfera-auto',
  'ainfera-auto\u0000',
  'AINFERA-AUTO',
  ' claude-haiku-4-5',
  'claude-haiku-4-5 ',
  'gpt-4.1-mini\n',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '0c9d7f5e-1111-4a2b-8c3d-44445555666',
  '0c9d7f5e-1111-4a2b-8c3d-4444555566667',
  'zc9d7f5e-1111-4a2b-8c3d-444455556666',
  '{0c9d7f5e-1111-4a2b-8c3d-444455556666}',
];

function randomCodePoints(r: Rand, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const cp = r.weighted([
      [4, r.int(0, 0x1f)],
      [4, r.int(0x20, 0x7e)],
      [2, r.int(0x80, 0x7ff)],
      [2, r.int(0xd800, 0xdfff)], // lone surrogates
      [2, r.int(0x800, 0xffff)],
      [2, r.int(0x10000, 0x10ffff)],
    ] as const);
    s += cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
  }
  return s;
}

export function nastyString(r: Rand): string {
  return r.weighted([
    [6, () => r.pick(NASTY_STRINGS)],
    [3, () => randomCodePoints(r, r.int(1, 40))],
    [1, () => 'x'.repeat(r.pick([256, 257, 1000, 4096, 65_536]))],
    [1, () => '😀'.repeat(r.int(1, 5000))],
    [1, () => r.pick(NASTY_STRINGS) + randomCodePoints(r, r.int(1, 10))],
  ] as const)();
}

const NASTY_NUMBERS = [0, -1, 1, -0, 0.5, 1.5, -1.5, 2 ** 31, 2 ** 31 - 1, -(2 ** 31), -(2 ** 31) - 1, 2 ** 53 + 1, 1e21, 1e308, -1e308, 5e-324, 64_000, 64_001, 1e-7, 2.0000001, 600_001];

export function nastyValue(r: Rand, depth = 0): unknown {
  const kind = r.int(0, depth > 3 ? 5 : 8);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
    case 3:
      return r.pick(NASTY_NUMBERS);
    case 4:
    case 5:
      return nastyString(r);
    case 6:
      return Array.from({ length: r.int(0, 4) }, () => nastyValue(r, depth + 1));
    case 7:
      return Object.fromEntries(Array.from({ length: r.int(0, 4) }, () => [r.chance(0.5) ? nastyString(r).slice(0, 50) : r.pick(['__proto__', 'constructor', 'role', 'content', '']), nastyValue(r, depth + 1)]));
    default:
      return deepJson(r, r.pick([50, 500, 2000]));
  }
}

/** A JSON value nested `n` levels deep (arrays or objects); deeper than ~2000 only as raw text (deepJsonText), as JSON.stringify recurses. */
export function deepJson(r: Rand, n: number): unknown {
  let v: unknown = r.chance(0.5) ? 'bottom' : null;
  const arrays = r.chance(0.5);
  for (let i = 0; i < n; i++) v = arrays ? [v] : { a: v };
  return v;
}

/** Deep nesting as raw text (JSON.stringify of a very deep value would itself blow the stack). */
function deepJsonText(n: number, arrays: boolean): string {
  return arrays ? `${'['.repeat(n)}1${']'.repeat(n)}` : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
}

// ---------------------------------------------------------------------------------------------
// operations

const OPS = {
  dispatch: `mutation Dispatch($input: DispatchInferenceInput!) { dispatchInference(input: $input) { replayed inference { id status } } }`,
  inference: `query Inference($id: ID!) { inference(id: $id) { id status outputText } }`,
  inferences: `query Inferences($first: Int, $after: String, $filter: InferenceFilter) { inferences(first: $first, after: $after, filter: $filter) { nodes { id } pageInfo { endCursor hasNextPage } } }`,
  user: `query User($handle: String!, $since: DateTime) { user(handle: $handle) { id handle agents { id } cellCoverage(since: $since) { summary { inferences } } } }`,
  publish: `mutation Publish($r: JSON!) { publishRoutingPolicy(input: { ruleset: $r }) { id policyVersion } }`,
  audit: `query Audit($first: Int, $afterSeq: Int) { auditChain { length events(first: $first, afterSeq: $afterSeq) { seq hash } } }`,
  checkpoint: `query Check($c: AuditCheckpointInput!) { auditChain { verifyCheckpoint(checkpoint: $c) { valid reason } } }`,
  viewer: `query Viewer { viewer { role tenant { slug } } models { slug } }`,
} as const;

type Vars = Record<string, unknown>;

/** A model slug no catalog holds: the dispatch fails with MODEL_NOT_FOUND before anything is written. */
function unknownModel(r: Rand): string {
  return r.pick(['fuzz-no-such-model', 'gpt-9-fuzz', 'fuzz-claude-haiku-4-5', 'fuzz-sim-medium', `fuzz-${nastyString(r).slice(0, 64)}`]);
}

/** Mutations of a dispatch input. `invalid` ones alone guarantee a validation error. */
const DISPATCH_MUTATIONS: Array<{ name: string; invalid: boolean; apply: (r: Rand, input: Vars, ctx: FuzzContext) => void }> = [
  { name: 'model wrong type', invalid: true, apply: (r, i) => (i.model = r.pick([123, true, [], {}, 1.5])) },
  { name: 'model null', invalid: true, apply: (_, i) => (i.model = null) },
  { name: 'model missing', invalid: true, apply: (_, i) => delete i.model },
  { name: 'model blank', invalid: true, apply: (r, i) => (i.model = r.pick(['', ' ', '\t\n'])) },
  { name: 'messages null', invalid: true, apply: (_, i) => (i.messages = null) },
  { name: 'messages missing', invalid: true, apply: (_, i) => delete i.messages },
  { name: 'messages empty', invalid: true, apply: (_, i) => (i.messages = []) },
  { name: 'messages too many', invalid: true, apply: (_, i) => (i.messages = Array.from({ length: 257 }, () => ({ role: 'USER', content: 'x' }))) },
  { name: 'messages wrong type', invalid: true, apply: (r, i) => (i.messages = r.pick(['hello', 42, { role: 'USER', content: 'x' }, [1, 2], [[{ role: 'USER', content: 'x' }]]])) },
  { name: 'message null', invalid: true, apply: (_, i) => (i.messages = [null]) },
  { name: 'role invalid enum', invalid: true, apply: (r, i) => (i.messages = [{ role: r.pick(['SYSTEM', 'user', 'User', '', 'TOOL', 0, null, 'USER\u0000']), content: 'x' }]) },
  { name: 'content null', invalid: true, apply: (_, i) => (i.messages = [{ role: 'USER', content: null }]) },
  { name: 'content wrong type', invalid: true, apply: (r, i) => (i.messages = [{ role: 'USER', content: r.pick([1, true, ['a'], { text: 'a' }]) }]) },
  { name: 'content too long', invalid: true, apply: (r, i) => (i.messages = [{ role: 'USER', content: 'x'.repeat(200_001 + r.int(0, 1000)) }]) },
  { name: 'message unknown field', invalid: true, apply: (r, i) => (i.messages = [{ role: 'USER', content: 'x', [r.pick(['name', 'tool_calls', '__proto__', 'x'])]: 'y' }]) },
  { name: 'system too long', invalid: true, apply: (_, i) => (i.system = 's'.repeat(200_001)) },
  { name: 'system wrong type', invalid: true, apply: (r, i) => (i.system = r.pick([1, [], {}, false])) },
  { name: 'maxTokens out of range', invalid: true, apply: (r, i) => (i.maxTokens = r.pick([0, -1, 64_001, 2 ** 31 - 1, -(2 ** 31)])) },
  { name: 'maxTokens not an Int', invalid: true, apply: (r, i) => (i.maxTokens = r.pick([1.5, '10', 2 ** 31, 1e21, true, [], {}, 'NaN'])) },
  { name: 'temperature out of range', invalid: true, apply: (r, i) => (i.temperature = r.pick([-0.0001, 2.0001, 3, -1, 1e308, -1e308])) },
  { name: 'temperature not a Float', invalid: true, apply: (r, i) => (i.temperature = r.pick(['hot', '1', true, [], {}, 'Infinity'])) },
  { name: 'taskType invalid enum', invalid: true, apply: (r, i) => (i.taskType = r.pick(['POETRY', 'chat', 'Chat', '', 'CHAT ', 0, true, ['CHAT'], 'GENERAL\u0000'])) },
  { name: 'constraints wrong type', invalid: true, apply: (r, i) => (i.constraints = r.pick(['fast', 1, [], [{ maxLatencyMs: 1 }]])) },
  { name: 'maxLatencyMs out of range', invalid: true, apply: (r, i) => (i.constraints = { maxLatencyMs: r.pick([0, -1, 600_001, 2 ** 31 - 1]) }) },
  { name: 'maxLatencyMs not an Int', invalid: true, apply: (r, i) => (i.constraints = { maxLatencyMs: r.pick([1.5, '100', 2 ** 31, true]) }) },
  { name: 'maxCostUsd negative', invalid: true, apply: (r, i) => (i.constraints = { maxCostUsd: r.pick([-1, -0.000001, -1e308]) }) },
  { name: 'maxCostUsd not a Float', invalid: true, apply: (r, i) => (i.constraints = { maxCostUsd: r.pick(['cheap', true, [], {}]) }) },
  { name: 'constraints unknown field', invalid: true, apply: (_, i) => (i.constraints = { maxLatencyMs: 100, budget: 1 }) },
  { name: 'idempotencyKey invalid', invalid: true, apply: (r, i) => (i.idempotencyKey = r.pick(['', ' ', 'has space', 'k'.repeat(256), 'ключ', 'key\u0000', 'key\n', '😀', '\ud800', 'tab\there'])) },
  { name: 'idempotencyKey wrong type', invalid: true, apply: (r, i) => (i.idempotencyKey = r.pick([1, true, [], {}])) },
  { name: 'agentId wrong type', invalid: true, apply: (r, i) => (i.agentId = r.pick([1.5, true, [], {}])) },
  { name: 'metadata too large', invalid: true, apply: (r, i) => (i.metadata = { blob: 'm'.repeat(16 * 1024 + r.int(1, 5000)) }) },
  { name: 'unknown input field', invalid: true, apply: (r, i) => (i[r.pick(['stream', 'tools', 'provider', '__proto__', 'maxtokens', 'Model', ''])] = r.pick([true, 1, 'x', {}])) },
  // Not invalid by themselves: these ride on an unknown model (MODEL_NOT_FOUND, nothing written).
  { name: 'unicode content', invalid: false, apply: (r, i) => (i.messages = Array.from({ length: r.int(1, 3) }, () => ({ role: r.pick(['USER', 'ASSISTANT']), content: nastyString(r) }))) },
  { name: 'unicode system', invalid: false, apply: (r, i) => (i.system = nastyString(r)) },
  { name: 'nasty metadata', invalid: false, apply: (r, i) => (i.metadata = nastyValue(r)) },
  { name: 'deep metadata', invalid: false, apply: (r, i) => (i.metadata = deepJson(r, r.pick([100, 1000, 2000]))) },
  { name: 'agentId not a uuid', invalid: false, apply: (r, i) => (i.agentId = nastyString(r).slice(0, 100)) },
  { name: "another tenant's agentId", invalid: false, apply: (r, i, ctx) => (i.agentId = r.pick(ctx.foreignIds)) },
  { name: 'unicode model', invalid: false, apply: (r, i) => (i.model = nastyString(r)) },
  { name: 'extreme but valid numbers', invalid: false, apply: (r, i) => Object.assign(i, { maxTokens: r.pick([1, 64_000]), temperature: r.pick([0, 2, 5e-324]), constraints: { maxLatencyMs: r.pick([1, 600_000]), maxCostUsd: r.pick([0, 1e308]) } }) },
];

function dispatchVars(r: Rand, ctx: FuzzContext): { vars: Vars; label: string } {
  // The carrier first: an unknown model fails with MODEL_NOT_FOUND after validation and before any write,
  // so the other fields are all validated and, whatever the mutations leave valid, nothing is written.
  const input: Vars = { model: unknownModel(r), messages: [{ role: 'USER', content: 'fuzz' }], taskType: 'CHAT' };
  const names: string[] = [];
  for (let k = r.int(1, 3); k > 0; k--) {
    const m = r.pick(DISPATCH_MUTATIONS);
    m.apply(r, input, ctx);
    names.push(m.name);
  }
  // A mutation may have picked a real model name out of the nasty strings: swap it for an unknown one.
  if (typeof input.model === 'string' && /^\s*(ainfera|claude|gpt|sim)/i.test(input.model)) input.model = unknownModel(r).replace(/^(claude|gpt|sim)/, 'fuzz');
  return { vars: r.chance(0.05) ? { input: r.pick([null, 'input', 1, []]) } : { input }, label: `dispatch: ${names.join(' + ')}` };
}

const bad = <T>(r: Rand, good: () => T): unknown => (r.chance(0.5) ? good() : nastyValue(r));

/** Variables for the read operations: every field at least sometimes wrong. */
function readVars(r: Rand, op: keyof typeof OPS, ctx: FuzzContext): Vars {
  switch (op) {
    case 'inference':
      return { id: r.weighted([[3, () => nastyString(r).slice(0, 300)], [1, () => r.pick(ctx.foreignIds)], [2, () => nastyValue(r)]] as const)() };
    case 'inferences':
      return {
        first: bad(r, () => r.pick([0, -1, 101, 2 ** 31 - 1, 1, 100])),
        after: bad(r, () => r.pick([nastyString(r).slice(0, 200), Buffer.from(`${r.pick(['+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00.000Z', '0000-01-01T00:00:00Z', 'garbage', ''])}|${r.pick(ctx.foreignIds)}`).toString('base64url')])),
        filter: bad(r, () => ({
          [r.pick(['agentId', 'status', 'taskType', 'model', 'createdAfter', 'createdBefore', 'tenantId'])]: r.pick([nastyString(r).slice(0, 200), r.pick(ctx.foreignIds), 'SUCCEEDED', 'succeeded', 'CHAT', '2026-01-01T00:00:00Z', '10000-01-01T00:00:00Z', '2026-13-45T25:61:61Z', '0000-01-01T00:00:00Z', 1, true]),
        })),
      };
    case 'user':
      return { handle: bad(r, () => nastyString(r).slice(0, 1000)), since: r.chance(0.5) ? bad(r, () => r.pick(['2026-01-01T00:00:00Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999999999+14:00', '2026-02-30T00:00:00Z', 'yesterday', ''])) : undefined };
    case 'publish':
      // Always broken somewhere (an unknown model at least), so no policy is ever published.
      return {
        r: r.weighted([
          [2, () => nastyValue(r)],
          [2, () => ({ rules: bad(r, () => [{ when: { taskTypes: [nastyString(r)], bands: ['fast'] }, route: ['fuzz-model'] }]), fallback: ['fuzz-no-such-model', ...(r.chance(0.5) ? ['gpt-4.1-mini'] : [])] })],
          [1, () => ({ rules: [], fallback: ['fuzz-no-such-model'], extra: deepJson(r, r.pick([100, 2000])) })],
          [1, () => deepJson(r, r.pick([100, 1000, 2000]))],
        ] as const)(),
      };
    case 'audit':
      return { first: bad(r, () => r.pick([0, -1, 1001, 2 ** 31 - 1, 1])), afterSeq: bad(r, () => r.pick([-1, -(2 ** 31), 2 ** 31 - 1, 0])) };
    case 'checkpoint':
      return {
        c: bad(r, () => ({
          chain: r.chance(0.5) ? r.pick(ctx.foreignIds) : nastyString(r).slice(0, 100),
          seq: bad(r, () => r.pick([0, -1, 1, 2 ** 31 - 1])),
          hash: bad(r, () => r.pick(['0'.repeat(64), 'zz', nastyString(r).slice(0, 100)])),
          signedAt: bad(r, () => nastyString(r).slice(0, 100)),
          signature: bad(r, () => r.pick(['', '!!!', 'AAAA', 'A'.repeat(10_000), nastyString(r).slice(0, 200)])),
          keyId: bad(r, () => nastyString(r).slice(0, 100)),
          ...(r.chance(0.2) ? { extra: 1 } : {}),
        })),
      };
    default:
      return r.chance(0.5) ? {} : { unexpected: nastyValue(r) };
  }
}

/** Queries that are broken as documents: syntax, validation, limits, depth. */
function brokenQuery(r: Rand): { query: string; label: string } {
  const kinds: Array<[number, () => { query: string; label: string }]> = [
    [2, () => ({ query: OPS[r.pick(Object.keys(OPS) as Array<keyof typeof OPS>)].slice(0, r.int(0, 80)), label: 'truncated document' })],
    [1, () => ({ query: `{ ${'viewer { '.repeat(r.int(2, 400))}role${' }'.repeat(r.int(0, 400))} }`, label: 'deep invalid nesting' })],
    [
      1,
      () => {
        const n = r.int(6, 40);
        return { query: `{ viewer { user { ${'agents { owner { '.repeat(n)}handle${' } }'.repeat(n)} } } }`, label: 'too deep (depth limit)' };
      },
    ],
    [1, () => ({ query: `{ ${Array.from({ length: r.int(16, 200) }, (_, i) => `a${i}: viewer { role }`).join(' ')} }`, label: 'too many aliases' })],
    [1, () => ({ query: `{ viewer { ${'role '.repeat(r.int(3001, 6000))} } }`, label: 'too many tokens' })],
    [1, () => ({ query: `{ viewer ${'@skip(if: false) '.repeat(r.int(31, 300))}{ role } }`, label: 'too many directives' })],
    [1, () => ({ query: `query { inferences(first: 1, filter: ${deepInputLiteral(r.int(10, 2000))}) { nodes { id } } }`, label: 'deep input literal' })],
    [1, () => ({ query: `query { models { slug nope ${nastyString(r).replace(/[^_A-Za-z0-9]/g, '').slice(0, 20) || 'x'} } }`, label: 'unknown fields' })],
    [1, () => ({ query: `query { user(handle: "x", extra: 1) { id } inference { id } }`, label: 'unknown / missing arguments' })],
    [1, () => ({ query: `query A { viewer { role } } query B { models { slug } }`, label: 'two operations, no name' })],
    [1, () => ({ query: `subscription { viewer { role } }`, label: 'subscription' })],
    [1, () => ({ query: `query { ...F } fragment F on Query { ...G } fragment G on Query { ...F }`, label: 'fragment cycle' })],
    [1, () => ({ query: `query($x: Int) { viewer { role } }`, label: 'unused variable' })],
    [1, () => ({ query: `query { user(handle: $undefined) { id } }`, label: 'undefined variable' })],
    [1, () => ({ query: `query($h: Int!) { user(handle: $h) { id } }`, label: 'variable type mismatch' })],
    [1, () => ({ query: `query { user(handle: "${nastyString(r).replace(/["\\]/g, '').slice(0, 300)}") { id } }`, label: 'unicode in a string literal' })],
    [1, () => ({ query: `{ __schema { types { ${'ofType { '.repeat(r.int(5, 60))}name${' }'.repeat(60)} } } }`.slice(0, 5000), label: 'deep introspection' })],
    [1, () => ({ query: nastyString(r), label: 'nasty string as document' })],
    [1, () => ({ query: `mutation { dispatchInference(input: { model: "gpt-9", messages: [{ role: USER, content: "${'x'.repeat(r.int(10, 5000))}" }] }) { replayed } }`, label: 'inline unknown-model dispatch' })],
  ];
  return r.weighted(kinds.map(([w, f]) => [w, f] as const))();
}

function deepInputLiteral(n: number): string {
  // InferenceFilter has no nested input, so depth here is a validation error: it must be a clean one.
  return `${'{ agentId: '.repeat(n)}"x"${' }'.repeat(n)}`;
}

// ---------------------------------------------------------------------------------------------
// the request itself

const JSON_CT = 'application/json';

function bearer(r: Rand, ctx: FuzzContext): Record<string, string> {
  const key = r.weighted<() => string | null>([
    [80, () => ctx.agentKey],
    [6, () => ctx.adminKey],
    [5, () => ctx.memberKey],
    [3, () => null],
    [2, () => 'ainf_' + 'A'.repeat(32)],
    [1, () => ctx.agentKey.slice(0, -1)],
    [1, () => `${ctx.agentKey} ${ctx.agentKey}`],
    [1, () => 'x'.repeat(r.pick([10, 4000]))],
    [1, () => `ainf_${randomCodePoints(r, 5).replace(/[^\x21-\x7e]/g, 'q')}`],
  ] as const)();
  if (key === null) return {};
  const scheme = r.weighted([
    [95, 'Bearer '],
    [1, 'bearer '],
    [1, 'Basic '],
    [1, ''],
    [1, 'Bearer  '],
    [1, 'Token '],
  ] as const);
  return { authorization: `${scheme}${key}` };
}

function jsonBody(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function generateCase(seed: number, index: number, ctx: FuzzContext): FuzzRequest {
  const r = new Rand(caseSeed(seed, index));
  const headers: Record<string, string> = { 'content-type': JSON_CT, ...bearer(r, ctx) };
  const post = (label: string, body: Buffer, extra: Record<string, string> = {}): FuzzRequest => ({ index, label, method: 'POST', path: '/graphql', headers: { ...headers, ...extra }, body });

  const generators: Array<readonly [number, () => FuzzRequest]> = [
    [
      30,
      () => {
        const { vars, label } = dispatchVars(r, ctx);
        return post(label, jsonBody({ query: OPS.dispatch, variables: vars }));
      },
    ],
    [
      22,
      () => {
        const op = r.pick(['inference', 'inferences', 'user', 'publish', 'audit', 'checkpoint', 'viewer'] as const);
        return post(`${op}: nasty variables`, jsonBody({ query: OPS[op], variables: readVars(r, op, ctx), ...(r.chance(0.2) ? { operationName: r.pick([null, 'Nope', 1, '']) } : {}) }));
      },
    ],
    [
      12,
      () => {
        const { query, label } = brokenQuery(r);
        return post(`document: ${label}`, jsonBody({ query, variables: r.chance(0.3) ? nastyValue(r) : undefined }));
      },
    ],
    [
      8,
      () => {
        const valid = JSON.stringify({ query: OPS.viewer });
        const text = r.weighted([
          [2, () => valid.slice(0, r.int(0, valid.length - 1))],
          [1, () => `${valid}${r.pick(['}', ',', ' x', '\u0000', '{}'])}`],
          [1, () => r.pick(['', ' ', 'null', '[]', '{}', '"query"', '123', 'true', "{'query': '{ viewer { role } }'}", '{"query": NaN}', '{"query":"{ viewer { role } }",}', '{"query":undefined}', '\ufeff' + valid])],
          [1, () => deepJsonText(r.pick([1000, 10_000, 100_000]), r.chance(0.5))],
          [1, () => `{"query":"{ viewer { role } }","variables":${deepJsonText(r.pick([1000, 50_000]), r.chance(0.5))}}`],
          [1, () => `{"query":"query($h: String!) { user(handle: $h) { id } }","variables":{"h":"${r.pick(['\\ud800', '\\udfff\\ud800', '\\u0000', '\\uZZZZ', '\\', '\\x41', '\\u00'])}"}}`],
        ] as const)();
        return post('malformed JSON body', Buffer.from(text, 'utf8'));
      },
    ],
    [
      3,
      () => {
        // Bytes that are not UTF-8 at all: overlong forms, lone continuation bytes, encoded surrogates.
        const junk = Buffer.from(r.pick([[0xff, 0xfe], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]));
        const prefix = Buffer.from('{"query":"query($h: String!) { user(handle: $h) { id } }","variables":{"h":"');
        return post('invalid UTF-8 bytes', Buffer.concat([prefix, junk, Buffer.from('"}}')]));
      },
    ],
    [
      6,
      () => {
        const ct = r.pick(['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/graphql', 'application/graphql-response+json', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/jsonx', 'Application/JSON', '*/*', '', 'application/json, text/plain']);
        const body = r.chance(0.5) ? jsonBody({ query: OPS.viewer }) : Buffer.from(r.pick(['query={ viewer { role } }', '{ viewer { role } }', '--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{}\r\n--x--']));
        const h: Record<string, string> = { ...headers, 'content-type': ct };
        if (ct === '') delete h['content-type'];
        return { index, label: `content type "${ct}"`, method: 'POST', path: '/graphql', headers: h, body };
      },
    ],
    [
      5,
      () => {
        const method = r.pick(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'FUZZ', 'get']);
        const q = encodeURIComponent(r.pick([OPS.viewer, OPS.dispatch, 'mutation { publishRoutingPolicy(input: { ruleset: {} }) { id } }', nastyString(r).slice(0, 100).replace(/[\ud800-\udfff]/g, '?')]));
        const path = r.pick([`/graphql?query=${q}`, '/graphql', `/graphql?query=${q}&variables=${encodeURIComponent('{"input":')}`, '/graphql?variables=%7B%7D', `/graphql?extensions=${encodeURIComponent('{"persistedQuery":{"version":1,"sha256Hash":"abc"}}')}`]);
        const h: Record<string, string> = { ...headers };
        if (r.chance(0.5)) h['apollo-require-preflight'] = 'true';
        return { index, label: `method ${method}`, method: method.toUpperCase() === method ? method : 'GET', path, headers: h, body: r.chance(0.3) && method !== 'GET' && method !== 'HEAD' ? jsonBody({ query: OPS.viewer }) : undefined };
      },
    ],
    [
      4,
      () => {
        const path = r.pick(['/graphql/', '/GRAPHQL', '/graphql%00', '/graphql/..%2f..%2fetc%2fpasswd', '//graphql', '/graphql;x', '/', '/nope', `/graphql?${'a=1&'.repeat(r.int(1, 2000))}`, `/${'x'.repeat(r.pick([100, 8000]))}`, '/graphql#frag', '/healthz?x=%ff', '/readyz', '/metrics?x=1']);
        return { index, label: `path ${path.slice(0, 40)}`, method: r.pick(['GET', 'POST']), path, headers, body: jsonBody({ query: OPS.viewer }) };
      },
    ],
    [
      4,
      () => {
        const body = r.weighted([
          [2, () => jsonBody([{ query: OPS.viewer }, { query: OPS.viewer }])],
          [1, () => jsonBody({ query: OPS.viewer, variables: r.pick(['{"a":1}', 1, [], true]) })],
          [1, () => jsonBody({ query: r.pick([1, null, [], {}, true]) })],
          [1, () => jsonBody({ query: OPS.viewer, extensions: { persistedQuery: { version: 1, sha256Hash: r.pick(['0'.repeat(64), 'x', 1]) } } })],
          [1, () => jsonBody({ query: OPS.viewer, operationName: r.pick([1, [], {}, 'Nope']) })],
          [1, () => jsonBody({ variables: { a: 1 } })],
          [1, () => jsonBody({ query: OPS.viewer, extensions: nastyValue(r) })],
        ] as const)();
        return post('odd request envelope', body);
      },
    ],
    [
      1,
      () => {
        // Variables nested deeper than JSON.stringify could write: built as text.
        const deep = deepJsonText(r.pick([33, 1500, 2500, 3000, 5000, 20_000, 100_000]), r.chance(0.5));
        const where = r.pick(['metadata', 'ruleset', 'filter']);
        const text =
          where === 'metadata'
            ? `{"query":${JSON.stringify(OPS.dispatch)},"variables":{"input":{"model":"fuzz-no-such-model","messages":[{"role":"USER","content":"x"}],"metadata":${deep}}}}`
            : where === 'ruleset'
              ? `{"query":${JSON.stringify(OPS.publish)},"variables":{"r":${deep}}}`
              : `{"query":${JSON.stringify(OPS.inferences)},"variables":{"filter":${deep}}}`;
        return post(`deep JSON variables (${where})`, Buffer.from(text));
      },
    ],
    [
      1,
      () => {
        // Large bodies: some just under the limit (must parse and be refused cleanly), some over it (413).
        const over = r.chance(0.5);
        const size = over ? ctx.maxBodyBytes + r.int(1, 4096) : ctx.maxBodyBytes - r.int(200, 4096);
        const filler = 'x'.repeat(Math.max(0, size - 200));
        const body = jsonBody({ query: OPS.dispatch, variables: { input: { model: 'fuzz-no-such-model', messages: [{ role: 'USER', content: filler }] } } });
        return post(`${over ? 'oversized' : 'near-limit'} body (${body.length} bytes)`, body);
      },
    ],
    [
      2,
      () => {
        const h: Record<string, string> = { ...headers };
        const pick = r.int(0, 5);
        if (pick === 0) h['x-request-id'] = 'r'.repeat(r.pick([129, 4000]));
        else if (pick === 1) h['accept-encoding'] = 'gzip, br, zstd, x-fuzz';
        else if (pick === 2) h['x-forwarded-for'] = nastyString(r).replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
        else if (pick === 3) h.cookie = 'a=b; '.repeat(500);
        else if (pick === 4) h['accept'] = r.pick(['text/html', 'application/graphql-response+json', 'application/xml', '*/*;q=0']);
        else h['apollo-require-preflight'] = 'x'.repeat(100);
        return post(`odd header ${Object.keys(h).pop()}`, jsonBody({ query: OPS.viewer }), h);
      },
    ],
  ];
  return r.weighted(generators)();
}
