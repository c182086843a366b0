/**
 * Hashing primitives shared by the policy version (§2), the request fingerprint (§4) and the
 * audit chain (§5). Everything here is pure: same input, same bytes, on every machine.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/**
 * RFC 8785 (JCS) canonical JSON.
 *
 * `canonicalize` silently mangles some inputs (a function inside an object becomes the text
 * `undefined`, a Map becomes `{}`), and a hash over mangled data is worse than no hash, so we
 * check the value first and throw with the offending path.
 *
 * Undefined object properties are dropped, exactly like JSON.stringify does. That keeps hashes
 * stable across a round trip through jsonb (where such keys vanish) and lets optional fields be
 * spread without ceremony. Everything else that JSON cannot represent is an error.
 */
export function jcs(value: unknown): string {
  if (value === undefined) {
    throw new Error('jcs: cannot canonicalize undefined (at $)');
  }
  assertJsonValue(value, '$', new Set());
  let out: string | undefined;
  try {
    out = canonicalize(value);
  } catch (err) {
    // Lone surrogates and cycles reach here; keep the library's reason, add ours.
    throw new Error(`jcs: cannot canonicalize value: ${(err as Error).message}`);
  }
  if (out === undefined) {
    throw new Error('jcs: value has no JSON representation');
  }
  return out;
}

/** Lowercase hex SHA-256; strings are hashed as their UTF-8 bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of the UTF-8 bytes of the JCS form — the one hash recipe of the whole design. */
export function jcsHash(value: unknown): string {
  return sha256Hex(jcs(value));
}

function assertJsonValue(value: unknown, path: string, stack: Set<object>): void {
  // Mirror JSON.stringify / canonicalize: objects with toJSON (e.g. Date) are replaced first.
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    if (stack.has(value)) throw new Error(`jcs: circular reference at ${path}`);
    stack.add(value);
    assertJsonValue((value as { toJSON: () => unknown }).toJSON(), path, stack);
    stack.delete(value);
    return;
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`jcs: cannot canonicalize non-finite number ${value} at ${path}`);
      return;
    case 'undefined':
      // Only reachable for array elements: JSON would turn them into null behind our back.
      throw new Error(`jcs: cannot canonicalize undefined at ${path}`);
    case 'function':
    case 'symbol':
    case 'bigint':
      throw new Error(`jcs: cannot canonicalize a ${typeof value} at ${path}`);
    case 'object':
      break;
  }
  if (value === null) return;
  const obj = value as object;
  if (stack.has(obj)) throw new Error(`jcs: circular reference at ${path}`);
  stack.add(obj);
  if (Array.isArray(obj)) {
    obj.forEach((item, i) => assertJsonValue(item, `${path}[${i}]`, stack));
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      // Map, Set, class instances, typed arrays: their JSON form loses data.
      const name = (obj.constructor as { name?: string } | undefined)?.name ?? 'object';
      throw new Error(`jcs: cannot canonicalize a non-plain object (${name}) at ${path}`);
    }
    for (const [key, v] of Object.entries(obj)) {
      if (v === undefined) continue; // dropped, as JSON.stringify does
      assertJsonValue(v, `${path}.${key}`, stack);
    }
  }
  stack.delete(obj);
}
