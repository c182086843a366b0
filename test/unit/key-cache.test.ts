import { describe, expect, it } from 'vitest';
import type { PgListener } from '../../src/db/listener.js';
import { ApiKeyRole } from '../../src/modules/tenancy/api-key.entity.js';
import type { Viewer } from '../../src/modules/tenancy/auth.js';
import { API_KEY_CHANNEL, ApiKeyCache } from '../../src/modules/tenancy/key-cache.js';

/** A listener double: the cache only needs `live` and the subscription it registers. */
function fakeListener() {
  const subs: Array<{ channel: string; onMessage(p: string): void; onReset(): void }> = [];
  const listener = { live: true, backendPid: 1, subscribe: (channel: string, s: { onMessage(p: string): void; onReset(): void }) => subs.push({ channel, ...s }) };
  return { listener: listener as unknown as PgListener & { live: boolean }, notify: (p: string) => subs.forEach((s) => s.onMessage(p)), reset: () => subs.forEach((s) => s.onReset()), subs };
}

const viewer = (n: number): Viewer => ({ keyId: `k${n}`, tenantId: 't', role: ApiKeyRole.AGENT, userId: null, agentId: 'a' });

describe('ApiKeyCache', () => {
  it('listens on the api_key channel and drops the notified hash, or everything on "*" and on a reset', () => {
    const f = fakeListener();
    const c = new ApiKeyCache(f.listener, 60_000);
    expect(f.subs.map((s) => s.channel)).toEqual([API_KEY_CHANNEL]);
    for (const n of [1, 2, 3]) c.set(`h${n}`, viewer(n), c.ticket());
    f.notify('h1');
    expect([c.get('h1'), c.get('h2')?.keyId]).toEqual([undefined, 'k2']);
    f.notify('*');
    expect(c.get('h2')).toBeUndefined();
    c.set('h3', viewer(3), c.ticket());
    f.reset();
    expect(c.get('h3')).toBeUndefined();
  });

  it('does not store a lookup that raced an invalidation', () => {
    const f = fakeListener();
    const c = new ApiKeyCache(f.listener, 60_000);
    const ticket = c.ticket();
    f.notify('h1'); // the revocation commits while the lookup's statement is in flight
    c.set('h1', viewer(1), ticket);
    expect(c.get('h1')).toBeUndefined();
    c.set('h1', viewer(1), c.ticket());
    expect(c.get('h1')?.keyId).toBe('k1');
  });

  it('serves nothing while the listener is down, without a listener, or with a zero TTL; entries expire and the size is bounded', async () => {
    const f = fakeListener();
    const c = new ApiKeyCache(f.listener, 60_000, 2);
    c.set('h1', viewer(1), c.ticket());
    f.listener.live = false;
    expect(c.get('h1')).toBeUndefined();
    f.listener.live = true;
    expect(c.get('h1')?.keyId).toBe('k1');
    c.set('h2', viewer(2), c.ticket());
    c.set('h3', viewer(3), c.ticket());
    expect([c.get('h1'), c.get('h2')?.keyId, c.get('h3')?.keyId]).toEqual([undefined, 'k2', 'k3']);

    for (const off of [new ApiKeyCache(null, 60_000), new ApiKeyCache(fakeListener().listener, 0)]) {
      off.set('h1', viewer(1), off.ticket());
      expect([off.enabled, off.get('h1')]).toEqual([false, undefined]);
    }
    const short = new ApiKeyCache(fakeListener().listener, 20);
    short.set('h1', viewer(1), short.ticket());
    expect(short.get('h1')?.keyId).toBe('k1');
    await new Promise((r) => setTimeout(r, 40));
    expect(short.get('h1')).toBeUndefined();
  });
});
