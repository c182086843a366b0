/**
 * Hashing primitives shared by the policy version (§2), the request fingerprint (§4) and the
 * audit chain (§5). Everything here is pure: same input, same bytes, on every machine.
 */
import crypto, { createHash } from 'node:crypto';

/** Deeper than any payload we write; also what stops a circular structure. */
const MAX_DEPTH = 256;

/**
 * RFC 8785 (JCS) canonical JSON, in one pass.
 *
 * Written here rather than taken from the `canonicalize` package for a measured reason: the audit
 * verifier hashes every event (target: 100k events/s), and side by side on this machine
 * `canonicalize` did ~25k audit envelopes/s where this does ~100k. The rules are short: strings and numbers serialize as
 * ECMAScript's JSON.stringify does (which is what JCS specifies), object keys sort by UTF-16 code
 * units (JavaScript's default sort), no whitespace. test/unit/jcs.test.ts checks it against
 * `canonicalize` on thousands of generated values.
 *
 * Undefined object properties are dropped, exactly like JSON.stringify does, which keeps hashes
 * stable across a round trip through jsonb. Everything else JSON cannot represent faithfully —
 * undefined at the top or in arrays, functions, symbols, bigints, non-finite numbers, lone
 * surrogates, Maps, Sets and class instances, cycles — throws, naming where.
 */
export function jcs(value: unknown): string {
  return canonical(value, 0);
}

/**
 * jcs(value) for a value written as a member of an object whose other members the caller writes
 * itself (the audit envelope): the same text, with the nesting limit counted from one level down,
 * as it is when the whole object goes through jcs.
 */
export function jcsMember(value: unknown): string {
  return canonical(value, 1);
}

function canonical(value: unknown, depth: number): string {
  if (value === undefined) throw new Error('jcs: cannot canonicalize undefined (at $)');
  try {
    return serialize(value, depth);
  } catch (err) {
    if (err instanceof JcsError) throw new Error(`jcs: ${err.message} at $${err.path.reverse().join('')}`);
    throw err;
  }
}

/** Collects the path on the way out, so the happy path builds no path strings. */
class JcsError extends Error {
  readonly path: string[] = [];
}

function addSegment(err: unknown, segment: string): unknown {
  if (err instanceof JcsError) err.path.push(segment);
  return err;
}

/** String.prototype.isWellFormed (V8 ≥ 11.1, so Node 20) — not yet in the ES2023 lib types. */
const isWellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

/** Characters JSON.stringify escapes (control characters, quote, backslash) or that need a check (surrogates). */
const NEEDS_CARE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A JSON string literal exactly as JSON.stringify writes it; plain strings skip the slow path. */
function quote(s: string): string {
  if (!NEEDS_CARE.test(s)) return `"${s}"`;
  if (!isWellFormed(s)) throw new JcsError('lone surrogate in a string');
  return JSON.stringify(s);
}

function serialize(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      if (!Number.isFinite(value)) throw new JcsError(`cannot canonicalize non-finite number ${value}`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      throw new JcsError(`cannot canonicalize ${typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`}`);
  }
  if (value === null) return 'null';
  if (depth >= MAX_DEPTH) throw new JcsError(`nested deeper than ${MAX_DEPTH} levels (circular reference?)`);
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return serialize((value as { toJSON: () => unknown }).toJSON(), depth + 1);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      try {
        out += (i ? ',' : '') + serialize(value[i], depth + 1);
      } catch (err) {
        throw addSegment(err, `[${i}]`);
      }
    }
    return `${out}]`;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const name = (value.constructor as { name?: string } | undefined)?.name ?? 'object';
    throw new JcsError(`cannot canonicalize a non-plain object (${name})`);
  }
  const obj = value as Record<string, unknown>;
  const shape = shapeOf(Object.keys(obj));
  if (!shape) return serializeMembers(obj, Object.keys(obj).sort(), depth);
  const { sorted, quoted } = shape;
  let out = '{';
  let first = true;
  for (let i = 0; i < sorted.length; i++) {
    const v = obj[sorted[i]];
    if (v === undefined) continue; // dropped, as JSON.stringify does
    try {
      out += (first ? quoted[i] : `,${quoted[i]}`) + serialize(v, depth + 1);
    } catch (err) {
      throw addSegment(err, `.${sorted[i]}`);
    }
    first = false;
  }
  return `${out}}`;
}

/** The general member loop, for key sets the shape cache does not take (see shapeOf). */
function serializeMembers(obj: Record<string, unknown>, keys: string[], depth: number): string {
  let out = '{';
  let first = true;
  for (const key of keys) {
    const v = obj[key];
    if (v === undefined) continue; // dropped, as JSON.stringify does
    try {
      out += `${first ? '' : ','}${quote(key)}:${serialize(v, depth + 1)}`;
    } catch (err) {
      throw addSegment(err, `.${key}`);
    }
    first = false;
  }
  return `${out}}`;
}

/** One key set in own-key order, with its JCS order and each key already quoted with its colon. */
interface Shape {
  keys: string[];
  sorted: string[];
  quoted: string[];
}

/**
 * Sorting and quoting the keys was half of the cost of a payload, and the objects we hash come in
 * a handful of shapes (every `inference.routed` payload, every attempt, every usage), so the
 * sorted, quoted keys are kept for the last few key lists seen. A hit compares the key list
 * element by element, so it is exact; only keys that quote cleanly are cached, so errors (a lone
 * surrogate in a key) still come from the general loop, with their path.
 */
const SHAPES_MAX = 32;
const shapes: Shape[] = [];

function shapeOf(keys: string[]): Shape | null {
  const n = keys.length;
  search: for (let s = 0; s < shapes.length; s++) {
    const cached = shapes[s].keys;
    if (cached.length !== n) continue;
    for (let i = 0; i < n; i++) if (cached[i] !== keys[i]) continue search;
    return shapes[s];
  }
  if (n === 0 || n > 64) return null;
  const sorted = keys.slice().sort();
  const quoted: string[] = [];
  for (const key of sorted) {
    if (NEEDS_CARE.test(key) && !isWellFormed(key)) return null;
    quoted.push(`${NEEDS_CARE.test(key) ? JSON.stringify(key) : `"${key}"`}:`);
  }
  if (shapes.length === SHAPES_MAX) shapes.pop();
  const shape = { keys, sorted, quoted };
  shapes.unshift(shape);
  return shape;
}

/**
 * True only if `text` is exactly `jcs(JSON.parse(text))`, decided by one scan of the text with no
 * parse: no whitespace, object keys in strictly increasing UTF-16 order (so no duplicates), strings
 * escaped exactly as JSON.stringify escapes them and well formed, numbers spelled as ECMAScript
 * prints them, nesting within jcs's limit. It may answer false for a text that is canonical (a key
 * with an escape, nesting past 64 levels): callers then take the parse + jcs path, which decides.
 * The audit verifier uses it to hash a stored payload's text as it is (test/unit/jcs.test.ts checks
 * it against jcs(JSON.parse(text)) on generated texts, canonical and not).
 */
export function isJcsText(text: string): boolean {
  const scan = new CanonicalScan(text, !HAS_ESCAPE_OR_CONTROL.test(text));
  return scan.value(0) && scan.at === text.length;
}

/** What a JSON text needs for any of its strings to hold an escape, a control character or a surrogate. */
const HAS_ESCAPE_OR_CONTROL = /[\\\u0000-\u001f\ud800-\udfff]/;

/** Containers nested deeper than this are left to the parse + jcs path (jcs itself stops at MAX_DEPTH). */
const SCAN_DEPTH = 64;

class CanonicalScan {
  at = 0;
  /**
   * @param plain the whole text has no backslash, control character or surrogate (one regex test
   * instead of one per string): then every string runs to the next quote, and is canonical as it is.
   */
  constructor(
    private readonly s: string,
    private readonly plain: boolean,
  ) {}

  value(depth: number): boolean {
    const c = this.s.charCodeAt(this.at);
    if (c === 0x22 /* " */) return this.plain ? this.plainString() : this.string() !== null;
    if (c === 0x7b /* { */) return depth < SCAN_DEPTH && this.object(depth + 1);
    if (c === 0x5b /* [ */) return depth < SCAN_DEPTH && this.array(depth + 1);
    if (c === 0x74 /* t */) return this.word('true');
    if (c === 0x66 /* f */) return this.word('false');
    if (c === 0x6e /* n */) return this.word('null');
    return this.number();
  }

  private word(w: string): boolean {
    if (!this.s.startsWith(w, this.at)) return false;
    this.at += w.length;
    return true;
  }

  /** The number token, canonical iff ECMAScript prints the number it denotes the same way (so "-0", "1.0", "1E3", "1e400" are not). */
  private number(): boolean {
    const start = this.at;
    const s = this.s;
    // The common case first: a short integer, [-]digits with no leading zero, which prints as it is spelled.
    let at = s.charCodeAt(start) === 0x2d /* - */ ? start + 1 : start;
    const first = s.charCodeAt(at);
    if (first >= 0x31 && first <= 0x39) {
      let c = s.charCodeAt(++at);
      while (c >= 0x30 && c <= 0x39) c = s.charCodeAt(++at);
      if (at - start <= 15 && c !== 0x2e && c !== 0x65 && c !== 0x45 /* . e E */) {
        this.at = at;
        return true;
      }
    }
    for (let c = s.charCodeAt(this.at); (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45; c = s.charCodeAt(++this.at));
    if (this.at === start) return false;
    const token = s.slice(start, this.at);
    const n = Number(token);
    return Number.isFinite(n) && String(n) === token;
  }

  /** Whether the last string scanned had an escape. */
  private escaped = false;

  /**
   * A string as JSON.stringify writes it: only \" \\ \b \f \n \r \t and \u00xx (lower-case,
   * for the other control characters) as escapes, no raw control character, every surrogate paired.
   * Returns its raw content (between the quotes), or null.
   */
  private string(): string | null {
    const s = this.s;
    const start = ++this.at;
    this.escaped = false;
    // Most strings have nothing to escape: up to the next quote, with nothing that needs care before it.
    const end = s.indexOf('"', start);
    if (end < 0) return null;
    const plain = s.slice(start, end);
    if (this.plain || !NEEDS_CARE.test(plain)) {
      this.at = end + 1;
      return plain;
    }
    for (;;) {
      const c = s.charCodeAt(this.at);
      if (c === 0x22) break;
      if (Number.isNaN(c) || c < 0x20) return null;
      if (c === 0x5c /* \ */) {
        this.escaped = true;
        const e = s.charCodeAt(this.at + 1);
        if (e === 0x22 || e === 0x5c || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
          this.at += 2;
          continue;
        }
        if (e !== 0x75 || s.charCodeAt(this.at + 2) !== 0x30 || s.charCodeAt(this.at + 3) !== 0x30) return null;
        const hex = s.slice(this.at + 4, this.at + 6);
        if (!/^[01][0-9a-f]$/.test(hex)) return null;
        const code = parseInt(hex, 16);
        if (code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d) return null;
        this.at += 6;
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = s.charCodeAt(this.at + 1);
        if (c >= 0xdc00 || !(next >= 0xdc00 && next <= 0xdfff)) return null;
        this.at += 2;
        continue;
      }
      this.at++;
    }
    const raw = s.slice(start, this.at);
    this.at++;
    return raw;
  }

  /** A string of a `plain` text: it runs to the next quote, and only where it ends is needed. */
  private plainString(): boolean {
    const end = this.s.indexOf('"', this.at + 1);
    if (end < 0) return false;
    this.at = end + 1;
    return true;
  }

  private object(depth: number): boolean {
    const s = this.s;
    this.at++;
    if (s.charCodeAt(this.at) === 0x7d /* } */) {
      this.at++;
      return true;
    }
    // The previous key as its place in the text [prevStart, prevEnd): keys are compared where they stand, not sliced.
    let prevStart = -1;
    let prevEnd = -1;
    for (;;) {
      if (s.charCodeAt(this.at) !== 0x22) return false;
      const start = this.at + 1;
      // A key with an escape is left to the parse + jcs path: comparing its raw text would not be its order.
      if (this.plain ? !this.plainString() : this.string() === null || this.escaped) return false;
      const end = this.at - 1;
      if (prevStart >= 0 && !textLess(s, prevStart, prevEnd, start, end)) return false;
      prevStart = start;
      prevEnd = end;
      if (s.charCodeAt(this.at) !== 0x3a /* : */) return false;
      this.at++;
      if (!this.value(depth)) return false;
      const c = s.charCodeAt(this.at++);
      if (c === 0x7d) return true;
      if (c !== 0x2c /* , */) return false;
    }
  }

  private array(depth: number): boolean {
    const s = this.s;
    this.at++;
    if (s.charCodeAt(this.at) === 0x5d /* ] */) {
      this.at++;
      return true;
    }
    for (;;) {
      if (!this.value(depth)) return false;
      const c = s.charCodeAt(this.at++);
      if (c === 0x5d) return true;
      if (c !== 0x2c) return false;
    }
  }
}

/** Whether s[a, aEnd) sorts strictly before s[b, bEnd) by UTF-16 code units (what `<` does on the slices). */
function textLess(s: string, a: number, aEnd: number, b: number, bEnd: number): boolean {
  for (; a < aEnd && b < bEnd; a++, b++) {
    const d = s.charCodeAt(a) - s.charCodeAt(b);
    if (d !== 0) return d < 0;
  }
  return a === aEnd && b < bEnd;
}

/** crypto.hash (Node ≥ 20.12): the same digest without a Hash object, about twice as fast on short inputs. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string | Uint8Array, encoding: 'hex') => string }).hash;

/** Lowercase hex SHA-256; strings are hashed as their UTF-8 bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return oneShot ? oneShot('sha256', data, 'hex') : createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of the UTF-8 bytes of the JCS form — the one hash recipe of the whole design. */
export function jcsHash(value: unknown): string {
  return sha256Hex(jcs(value));
}
