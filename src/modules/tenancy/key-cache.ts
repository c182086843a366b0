import type { PgListener } from '../../db/listener.js';
import type { Viewer } from './auth.js';

/** The channel the api_key trigger notifies on (migration api_key_notify): the changed key's secret_hash, or '*'. */
export const API_KEY_CHANNEL = 'ainfera_api_key';

/**
 * Authenticated keys, by secret hash, so a request does not need a statement to know its caller.
 * Safe against revocation across processes: every UPDATE, DELETE or TRUNCATE of api_key notifies
 * after commit, and every process drops the key on the notification; while the listener is down
 * (or when it cannot LISTEN) nothing is served from here. A lookup that raced a revocation is not
 * stored: `ticket()` is taken before the statement, and any invalidation since voids it. The TTL
 * bounds how long an entry lives at all; the size bound keeps memory flat.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, { viewer: Viewer; expires: number }>();
  private generation = 0;

  constructor(
    private readonly listener: PgListener | null,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {
    listener?.subscribe(API_KEY_CHANNEL, {
      onMessage: (hash) => (hash === '*' ? this.clear() : this.invalidate(hash)),
      onReset: () => this.clear(),
    });
  }

  get enabled(): boolean {
    return this.ttlMs > 0 && this.listener !== null && this.listener.live;
  }

  /** The listening connection's backend pid (null while down). */
  get listenerPid(): number | null {
    return this.listener?.backendPid ?? null;
  }

  get(hash: string): Viewer | undefined {
    if (!this.enabled) return undefined;
    const hit = this.entries.get(hash);
    if (hit && hit.expires > performance.now()) return hit.viewer;
    if (hit) this.entries.delete(hash);
    return undefined;
  }

  /** Take before reading the key from the database; pass to `set`. */
  ticket(): number {
    return this.generation;
  }

  set(hash: string, viewer: Viewer, ticket: number): void {
    if (!this.enabled || ticket !== this.generation) return;
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(hash, { viewer, expires: performance.now() + this.ttlMs });
  }

  invalidate(hash: string): void {
    this.generation++;
    this.entries.delete(hash);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
