/**
 * The §16 vocabulary (DESIGN §2) and the pure helpers of the resolution pipeline (DESIGN §4):
 * task types, constraint bands, cells, rulesets and their policy version, route selection,
 * task-type resolution, classifier-label parsing, token estimates and exact money arithmetic.
 * No I/O here, so every rule of the design can be unit-tested in isolation.
 */
import { z } from 'zod';
import { jcsHash } from '../../shared/hashing.js';

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

export const TASK_TYPES = [
  'reasoning',
  'code',
  'extraction',
  'chat',
  'summarization',
  'classification',
  'translation',
  'creative',
  'general',
] as const;
export type TaskType = (typeof TASK_TYPES)[number];

export const TIER1_TASK_TYPES = ['reasoning', 'code', 'extraction', 'chat'] as const satisfies readonly TaskType[];

export const TASK_TYPE_SOURCES = ['caller', 'classifier', 'default'] as const;
export type TaskTypeSource = (typeof TASK_TYPE_SOURCES)[number];

export const CONSTRAINT_BANDS = ['open', 'fast', 'cheap', 'tight'] as const;
export type ConstraintBand = (typeof CONSTRAINT_BANDS)[number];

export type TaskTier = 'tier1' | 'tier2';

const TASK_TYPE_SET: ReadonlySet<string> = new Set(TASK_TYPES);
const BAND_SET: ReadonlySet<string> = new Set(CONSTRAINT_BANDS);
const TIER1_SET: ReadonlySet<string> = new Set(TIER1_TASK_TYPES);

export function isTaskType(x: unknown): x is TaskType {
  return typeof x === 'string' && TASK_TYPE_SET.has(x);
}

export function isConstraintBand(x: unknown): x is ConstraintBand {
  return typeof x === 'string' && BAND_SET.has(x);
}

export function taskTier(t: TaskType): TaskTier {
  return TIER1_SET.has(t) ? 'tier1' : 'tier2';
}

/** 4 Tier-1 task types × 4 bands. */
export const TIER1_CELLS_POSSIBLE = 16;

export function cell(taskType: TaskType, band: ConstraintBand): string {
  return `${taskType}/${band}`;
}

export function parseCell(s: string): { taskType: TaskType; band: ConstraintBand } | null {
  if (typeof s !== 'string') return null;
  const parts = s.split('/');
  if (parts.length !== 2) return null;
  const [taskType, band] = parts;
  return isTaskType(taskType) && isConstraintBand(band) ? { taskType, band } : null;
}

/** All 36 cells, task-type major, in vocabulary order. */
export const ALL_CELLS: readonly string[] = Object.freeze(
  TASK_TYPES.flatMap((t) => CONSTRAINT_BANDS.map((b) => cell(t, b))),
);

/** The 16 Tier-1 cells (the coverage gauge's denominator). */
export const TIER1_CELLS: readonly string[] = Object.freeze(
  TIER1_TASK_TYPES.flatMap((t) => CONSTRAINT_BANDS.map((b) => cell(t, b))),
);

// ---------------------------------------------------------------------------------------------
// Constraint band
// ---------------------------------------------------------------------------------------------

export const FAST_LATENCY_MS = 2000;
export const CHEAP_COST_USD = 0.01;

export function constraintBand(
  c?: { maxLatencyMs?: number | null; maxCostUsd?: number | null } | null,
): ConstraintBand {
  // "given" means present and not null; a NaN fails the comparison and so is not fast/cheap.
  const latency = c?.maxLatencyMs;
  const cost = c?.maxCostUsd;
  const fast = latency != null && latency <= FAST_LATENCY_MS;
  const cheap = cost != null && cost <= CHEAP_COST_USD;
  if (fast && cheap) return 'tight';
  if (fast) return 'fast';
  if (cheap) return 'cheap';
  return 'open';
}

// ---------------------------------------------------------------------------------------------
// Rulesets and policy version
// ---------------------------------------------------------------------------------------------

export type RulesetRule = {
  when?: { taskTypes?: TaskType[]; bands?: ConstraintBand[] };
  route: string[];
};
export type Ruleset = { rules: RulesetRule[]; fallback: string[] };

const describe = (x: unknown): string => (typeof x === 'string' ? JSON.stringify(x) : x === null ? 'null' : typeof x);

const taskTypeSchema = z.enum(TASK_TYPES, {
  error: (iss) => `unknown task type ${describe(iss.input)} (expected one of ${TASK_TYPES.join(', ')})`,
});
const bandSchema = z.enum(CONSTRAINT_BANDS, {
  error: (iss) => `unknown constraint band ${describe(iss.input)} (expected one of ${CONSTRAINT_BANDS.join(', ')})`,
});
const slugSchema = z.string({ error: (iss) => `expected a model slug (string), got ${describe(iss.input)}` }).min(1, {
  error: 'model slug must not be empty',
});
// An empty route would make a rule that can never dispatch; an empty selector list would make
// a rule that never matches — both are mistakes, and omitting the key is the way to say "any".
const slugListSchema = z.array(slugSchema).min(1, { error: 'must list at least one model' });

export const rulesetSchema = z.strictObject({
  rules: z.array(
    z.strictObject({
      when: z
        .strictObject({
          taskTypes: z
            .array(taskTypeSchema)
            .min(1, { error: 'must not be empty (omit taskTypes to match any task type)' })
            .optional(),
          bands: z
            .array(bandSchema)
            .min(1, { error: 'must not be empty (omit bands to match any band)' })
            .optional(),
        })
        .optional(),
      route: slugListSchema,
    }),
  ),
  fallback: slugListSchema,
});

/** `rules[1].route[0]` style path; the root is called `ruleset`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    out += typeof seg === 'number' ? `[${seg}]` : out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? 'ruleset' : out;
}

export function parseRuleset(
  input: unknown,
  knownModelSlugs: ReadonlySet<string>,
): { ok: true; ruleset: Ruleset } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const parsed = rulesetSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) problems.push(`${formatPath(issue.path)}: unknown key ${JSON.stringify(key)}`);
      } else if (issue.code === 'invalid_type' && issue.path.length === 0) {
        problems.push(`ruleset: expected an object with "rules" and "fallback"`);
      } else {
        problems.push(`${formatPath(issue.path)}: ${issue.message}`);
      }
    }
  }
  // Walk the raw input rather than the parse result, so that a shape error elsewhere does not
  // hide an unknown slug: the author gets every problem in one round trip.
  for (const { path, slug } of slugsIn(input)) {
    if (slug !== '' && !knownModelSlugs.has(slug)) problems.push(`${path}: unknown model ${JSON.stringify(slug)}`);
  }
  if (problems.length > 0 || !parsed.success) return { ok: false, problems };
  return { ok: true, ruleset: parsed.data };
}

function* slugsIn(input: unknown): Generator<{ path: string; slug: string }> {
  if (input === null || typeof input !== 'object') return;
  const { rules, fallback } = input as { rules?: unknown; fallback?: unknown };
  if (Array.isArray(rules)) {
    for (let i = 0; i < rules.length; i++) {
      const route = (rules[i] as { route?: unknown } | null)?.route;
      if (Array.isArray(route)) {
        for (let j = 0; j < route.length; j++) {
          if (typeof route[j] === 'string') yield { path: `rules[${i}].route[${j}]`, slug: route[j] };
        }
      }
    }
  }
  if (Array.isArray(fallback)) {
    for (let j = 0; j < fallback.length; j++) {
      if (typeof fallback[j] === 'string') yield { path: `fallback[${j}]`, slug: fallback[j] };
    }
  }
}

/** Lowercase hex SHA-256 of the JCS form: key order never matters, content always does. */
export function rulesetHash(ruleset: unknown): string {
  return jcsHash(ruleset);
}

export function policyVersion(ruleset: unknown): string {
  return `pv-${rulesetHash(ruleset).slice(0, 12)}`;
}

export function selectRoute(
  ruleset: Ruleset,
  taskType: TaskType,
  band: ConstraintBand,
): { route: string[]; ruleIndex: number | null } {
  for (let i = 0; i < ruleset.rules.length; i++) {
    const rule = ruleset.rules[i];
    const { taskTypes, bands } = rule.when ?? {};
    if (taskTypes && !taskTypes.includes(taskType)) continue;
    if (bands && !bands.includes(band)) continue;
    return { route: [...rule.route], ruleIndex: i };
  }
  // Copies: callers filter candidates and must not be able to mutate the stored policy.
  return { route: [...ruleset.fallback], ruleIndex: null };
}

// ---------------------------------------------------------------------------------------------
// Task type resolution and the classifier's answer
// ---------------------------------------------------------------------------------------------

export function resolveTaskType(
  callerTaskType: TaskType | null | undefined,
  classifierLabel: TaskType | null | undefined,
): { taskType: TaskType; source: TaskTypeSource } {
  if (callerTaskType != null) {
    // The GraphQL enum has already guarded this; reaching here with junk is a programming error.
    if (!isTaskType(callerTaskType)) {
      throw new TypeError(`resolveTaskType: invalid caller task type ${describe(callerTaskType)}`);
    }
    return { taskType: callerTaskType, source: 'caller' };
  }
  // The classifier is outside our control, so anything it says that is not a label is "no answer".
  if (isTaskType(classifierLabel)) return { taskType: classifierLabel, source: 'classifier' };
  return { taskType: 'general', source: 'default' };
}

const QUOTE_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['```', '```'],
  ['`', '`'],
  ['"', '"'],
  ["'", "'"],
  ['\u201c', '\u201d'], // “ ”
  ['\u2018', '\u2019'], // ‘ ’
];
const LABEL_PREFIX = /^(?:label|task[ _-]?type)\s*:\s*/i;

/**
 * Reads one task-type label out of a model's reply. Deliberately strict: a wrong label would be
 * recorded with source `classifier` forever, while `null` merely falls back to `general/default`.
 * Tolerated decoration: surrounding whitespace, matching quotes or backticks, one trailing
 * period, a leading `label:` / `task type:`, any letter case — in any nesting order.
 */
export function parseClassifierLabel(text: string | null | undefined): TaskType | null {
  if (typeof text !== 'string') return null;
  let s = text.trim();
  // Peel decorations until nothing changes; each pass strictly shortens s, so this terminates.
  // The prefix and the period may each appear once ("code.." is not a clean answer).
  let prefixSeen = false;
  let periodSeen = false;
  for (;;) {
    const before = s;
    if (!prefixSeen && LABEL_PREFIX.test(s)) {
      s = s.replace(LABEL_PREFIX, '').trim();
      prefixSeen = true;
    }
    if (!periodSeen && s.endsWith('.')) {
      s = s.slice(0, -1).trim();
      periodSeen = true;
    }
    for (const [open, close] of QUOTE_PAIRS) {
      if (s.length >= open.length + close.length && s.startsWith(open) && s.endsWith(close)) {
        s = s.slice(open.length, s.length - close.length).trim();
        break;
      }
    }
    if (s === before) break;
  }
  const label = s.toLowerCase();
  return isTaskType(label) ? label : null;
}

/** A deliberately crude estimate (≈4 characters per token) used only for worst-case cost checks. */
export function estimateInputTokens(
  system: string | null | undefined,
  messages: Array<{ content: string }>,
): number {
  let chars = system?.length ?? 0;
  for (const m of messages) chars += m.content.length;
  return Math.max(1, Math.ceil(chars / 4));
}

// ---------------------------------------------------------------------------------------------
// Money: exact decimals, never floats (payloads and the numeric column hold decimal strings)
// ---------------------------------------------------------------------------------------------

/** Prices are USD per million tokens with at most this many decimals. */
export const PRICE_MAX_DECIMALS = 6;
/** Costs are exact in units of 1e-12 USD: tokens × (price in 1e-6 USD/MTok) / 1e6 tokens/MTok. */
export const COST_DECIMALS = 12;

const DECIMAL_RE = /^(-)?(\d+)(?:\.(\d+))?$/;

/** A decimal string as sign·digits·10^-scale; rejects exponents, blanks and stray characters. */
export function parseDecimal(s: string): { units: bigint; scale: number } {
  const m = typeof s === 'string' ? DECIMAL_RE.exec(s) : null;
  if (!m) throw new RangeError(`not a decimal number: ${describe(s)}`);
  const frac = m[3] ?? '';
  const units = BigInt(m[2] + frac);
  return { units: m[1] ? -units : units, scale: frac.length };
}

/** `units · 10^-scale` as a plain decimal string, trailing zeros trimmed, "0" for zero. */
export function formatDecimal(units: bigint, scale: number): string {
  const negative = units < 0n;
  let digits = (negative ? -units : units).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    const intPart = digits.slice(0, digits.length - scale);
    const fracPart = digits.slice(digits.length - scale).replace(/0+$/, '');
    digits = fracPart === '' ? intPart : `${intPart}.${fracPart}`;
  }
  if (digits === '0') return '0';
  return negative ? `-${digits}` : digits;
}

/** A price (USD per MTok) in units of 1e-6 USD per MTok. */
export function priceMicros(price: string): bigint {
  const { units, scale } = parseDecimal(price);
  if (units < 0n) throw new RangeError(`price must not be negative: ${price}`);
  if (scale > PRICE_MAX_DECIMALS) {
    throw new RangeError(`price ${price} has more than ${PRICE_MAX_DECIMALS} decimals`);
  }
  return units * 10n ** BigInt(PRICE_MAX_DECIMALS - scale);
}

function tokenCount(n: number, what: string): bigint {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer, got ${n}`);
  return BigInt(n);
}

export function costUsd(
  inputTokens: number,
  outputTokens: number,
  inputPricePerMTok: string,
  outputPricePerMTok: string,
): string {
  const picoUsd =
    tokenCount(inputTokens, 'inputTokens') * priceMicros(inputPricePerMTok) +
    tokenCount(outputTokens, 'outputTokens') * priceMicros(outputPricePerMTok);
  return formatDecimal(picoUsd, COST_DECIMALS);
}

/** Upper bound used to skip candidates whose cost could exceed `maxCostUsd` (DESIGN §4.6). */
export function worstCaseCostUsd(
  estInputTokens: number,
  maxTokens: number,
  inputPricePerMTok: string,
  outputPricePerMTok: string,
): string {
  return costUsd(estInputTokens, maxTokens, inputPricePerMTok, outputPricePerMTok);
}

export function compareDecimal(a: string, b: string): -1 | 0 | 1 {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  const scale = Math.max(x.scale, y.scale);
  const xu = x.units * 10n ** BigInt(scale - x.scale);
  const yu = y.units * 10n ** BigInt(scale - y.scale);
  return xu < yu ? -1 : xu > yu ? 1 : 0;
}

/**
 * The exact decimal a JS number prints as (its shortest round-trip form), without exponent:
 * 1e-7 → "0.0000001", 1.5e+21 → "1500000000000000000000". Meant for `maxCostUsd`, which arrives
 * as a GraphQL Float; the decimal the client typed is the one we compare against.
 */
export function decimalFromNumber(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`not a finite number: ${x}`);
  const m = /^(-)?(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(x.toString());
  if (!m) throw new RangeError(`unexpected number format: ${x.toString()}`);
  const frac = m[3] ?? '';
  const exponent = Number(m[4] ?? '0');
  let units = BigInt(m[2] + frac);
  let scale = frac.length - exponent;
  if (scale < 0) {
    units *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return formatDecimal(m[1] ? -units : units, scale);
}

/** A decimal as PostgreSQL's numeric returns it ("0.000021000000") in canonical form ("0.000021"). */
export function normalizeDecimal(s: string): string {
  const d = parseDecimal(s);
  return formatDecimal(d.units, d.scale);
}
