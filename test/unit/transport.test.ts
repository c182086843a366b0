import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProviderTransport, type ProviderTransport } from '../../src/providers/transport.js';

/** The SDKs' fetch on undici: what a provider answers must reach the SDK as the global fetch would give it. */
describe('provider transport', () => {
  let server: http.Server;
  let base: string;
  let transport: ProviderTransport;
  const seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        if (req.url === '/empty') return void res.writeHead(204).end();
        if (req.url === '/moved') return void res.writeHead(302, { location: '/elsewhere' }).end();
        res.writeHead(req.url === '/boom' ? 529 : 200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'], 'request-id': 'req_1' });
        res.end(JSON.stringify({ echo: body }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    transport = createProviderTransport();
  });
  afterAll(async () => {
    await transport.close();
    await new Promise((r) => server.close(r));
  });

  it('sends method, path, query, headers and body, and answers with status, every header and the body', async () => {
    const res = await transport.fetch(`${base}/v1/messages?beta=true`, { method: 'post', headers: new Headers({ 'x-api-key': 'k', 'content-type': 'application/json' }), body: '{"q":1}' });
    const req = seen.at(-1)!;
    expect([req.method, req.url, req.headers['x-api-key'], req.body]).toEqual(['POST', '/v1/messages?beta=true', 'k', '{"q":1}']);
    expect(res.status).toBe(200);
    expect(res.ok).toBe(true);
    expect(res.headers.get('Request-Id')).toBe('req_1');
    expect(res.headers.has('content-type')).toBe(true);
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect([...res.headers.keys()]).toEqual([...res.headers.keys()].sort());
    expect(Object.fromEntries(res.headers.entries())).toMatchObject({ 'request-id': 'req_1', 'set-cookie': 'a=1, b=2' });
    const copy = res.clone();
    expect(await res.json()).toEqual({ echo: '{"q":1}' });
    await expect(res.text()).rejects.toThrow(TypeError);
    expect(res.bodyUsed).toBe(true);
    expect(new TextDecoder().decode(await copy.arrayBuffer())).toBe('{"echo":"{\\"q\\":1}"}');
    expect(res.body).toBeNull(); // not streamed: read whole
    // A streaming request goes to the global fetch, whose body streams.
    const streamed = await transport.fetch(`${base}/v1/messages`, { method: 'POST', body: '{"stream":true}' });
    expect(await new Response(streamed.body).text()).toBe('{"echo":"{\\"stream\\":true}"}');
  });

  it('takes headers as a plain record or as pairs, and error statuses as they are', async () => {
    const a = await transport.fetch(`${base}/boom`, { method: 'POST', headers: { 'x-one': '1' }, body: 'x' });
    expect(seen.at(-1)!.headers['x-one']).toBe('1');
    expect([a.status, a.ok]).toEqual([529, false]);
    await transport.fetch(`${base}/pairs`, { headers: [['x-two', '2']] });
    expect(seen.at(-1)!.headers['x-two']).toBe('2');
  });

  it('gives a null body for 204 and does not follow redirects', async () => {
    const empty = await transport.fetch(`${base}/empty`);
    expect([empty.status, empty.body]).toEqual([204, null]);
    const moved = await transport.fetch(`${base}/moved`);
    expect([moved.status, moved.headers.get('location')]).toEqual([302, '/elsewhere']);
  });

  it('rejects as an AbortError when the signal fires, and as an error on a refused connection', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(transport.fetch(`${base}/v1/messages`, { method: 'POST', body: '{}', signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(transport.fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });

  it('hands bodies it does not cover (streams, forms) to the global fetch', async () => {
    const form = new URLSearchParams({ a: 'b' });
    const res = await transport.fetch(`${base}/form`, { method: 'POST', body: form });
    expect(seen.at(-1)!.body).toBe('a=b');
    expect(seen.at(-1)!.headers['content-type']).toContain('application/x-www-form-urlencoded');
    expect(res.status).toBe(200);
  });
});
