/**
 * Hashing primitives shared by the policy version (§2), the request fingerprint (§4) and the
 * audit chain (§5). Everything here is pure: same input, same bytes, on every machine.
 */
import { createHash } from 'node:crypto';

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
  if (value === undefined) throw new Error('jcs: cannot canonicalize undefined (at $)');
  try {
    return serialize(value, 0);
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
  const keys = Object.keys(obj).sort();
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

/** Lowercase hex SHA-256; strings are hashed as their UTF-8 bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of the UTF-8 bytes of the JCS form — the one hash recipe of the whole design. */
export function jcsHash(value: unknown): string {
  return sha256Hex(jcs(value));
}
