import { Agent } from 'undici';

/**
 * The HTTP transport under the provider SDKs: their `fetch` option, answered by an undici
 * keep-alive Agent instead of Node's built-in fetch. The SDKs still build, sign, time out and
 * parse every request exactly as before; only the wire client differs. Measured on this 2-core
 * machine against a loopback mock (bench/NOTES.md): one `messages.create` costs ~1.0 ms of CPU
 * through the global fetch and ~0.5 ms through this one.
 *
 * What it covers is what the SDKs send for a completion: a string or byte body, and a JSON
 * answer read whole (the dispatch deadline's AbortSignal still bounds a trickled body, because
 * undici watches the signal until the body is read). Anything else — a stream or form body, a
 * `Request` object — goes to the global fetch unchanged. Redirects are not followed (provider
 * APIs do not redirect; a 3xx reaches the SDK as the error it is).
 */
export interface ProviderTransport {
  fetch: typeof fetch;
  close(): Promise<void>;
}

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

function headerList(init: RequestInit['headers']): string[] {
  const out: string[] = [];
  if (!init) return out;
  const entries = init instanceof Headers || Array.isArray(init) ? init : Object.entries(init);
  for (const [k, v] of entries as Iterable<[string, string]>) out.push(k, v);
  return out;
}

export function createProviderTransport(opts: { keepAliveTimeoutMs?: number } = {}): ProviderTransport {
  const agent = new Agent({ keepAliveTimeout: opts.keepAliveTimeoutMs ?? 30_000 });

  const providerFetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const body = init.body ?? null;
    if (input instanceof Request || !(body === null || typeof body === 'string' || body instanceof Uint8Array)) return fetch(input, init);
    const url = typeof input === 'string' ? new URL(input) : input;
    const res = await agent.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: (init.method ?? 'GET').toUpperCase() as 'GET',
      headers: headerList(init.headers),
      body,
      signal: init.signal ?? undefined,
    });
    const bytes = await res.body.arrayBuffer();
    const headers: Array<[string, string]> = [];
    for (const [k, v] of Object.entries(res.headers)) {
      if (Array.isArray(v)) for (const one of v) headers.push([k, one]);
      else if (v !== undefined) headers.push([k, v]);
    }
    return new Response(NULL_BODY_STATUS.has(res.statusCode) ? null : bytes, { status: res.statusCode, headers });
  };

  return { fetch: providerFetch as typeof fetch, close: () => agent.close() };
}
