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
 *
 * The answer is a `ProviderResponse`: the fetch Response surface the SDKs read (status, ok,
 * headers.get/entries, text/json/arrayBuffer) over the bytes already read, with `body` null —
 * so a streaming request (`"stream":true` in its JSON) goes to the global fetch. Node's own
 * Response and Headers validate every header on construction, and a body stream costs web-stream
 * setup the SDKs never read: ~0.15 ms per call together (measured).
 */
export interface ProviderTransport {
  fetch: typeof fetch;
  close(): Promise<void>;
}

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** The read side of fetch's Headers over a Map of lower-case names (multi-valued headers joined with ", ", set-cookie kept apart). */
export class ProviderHeaders {
  private sorted: Array<[string, string]> | undefined;
  constructor(
    private readonly map: Map<string, string>,
    private readonly cookies: string[] = [],
  ) {}
  get(name: string): string | null {
    return this.map.get(name.toLowerCase()) ?? null;
  }
  has(name: string): boolean {
    return this.map.has(name.toLowerCase());
  }
  getSetCookie(): string[] {
    return [...this.cookies];
  }
  forEach(cb: (value: string, name: string, headers: ProviderHeaders) => void): void {
    for (const [k, v] of this.entries()) cb(v, k, this);
  }
  /** In name order, as fetch's Headers iterate; sorted on the first iteration only (most answers are never iterated). */
  entries(): IterableIterator<[string, string]> {
    return this.inOrder()[Symbol.iterator]();
  }
  keys(): IterableIterator<string> {
    return this.inOrder().map(([k]) => k)[Symbol.iterator]();
  }
  values(): IterableIterator<string> {
    return this.inOrder().map(([, v]) => v)[Symbol.iterator]();
  }
  private inOrder(): Array<[string, string]> {
    return (this.sorted ??= [...this.map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

/** A fetch Response over a fully read body; the body can be consumed once, as with fetch. */
export class ProviderResponse {
  readonly ok: boolean;
  readonly statusText = '';
  readonly redirected = false;
  readonly type = 'basic';
  /** Not streamed: read with text(), json() or arrayBuffer(). */
  readonly body = null;
  private used = false;

  constructor(
    private readonly data: Uint8Array | null,
    readonly status: number,
    readonly headers: ProviderHeaders,
    readonly url: string,
  ) {
    this.ok = status >= 200 && status < 300;
  }

  get bodyUsed(): boolean {
    return this.used;
  }
  private consume(): Uint8Array {
    if (this.used) throw new TypeError('Body is unusable: Body has already been read');
    this.used = true;
    return this.data ?? new Uint8Array(0);
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    const b = this.consume();
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  }
  async bytes(): Promise<Uint8Array> {
    return this.consume();
  }
  async text(): Promise<string> {
    return Buffer.from(this.consume()).toString('utf8');
  }
  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
  async blob(): Promise<Blob> {
    return new Blob([this.consume()]);
  }
  clone(): ProviderResponse {
    if (this.used) throw new TypeError('Response.clone: Body has already been consumed.');
    return new ProviderResponse(this.data, this.status, this.headers, this.url);
  }
}

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
    const streaming = typeof body === 'string' && body.includes('"stream":true');
    if (streaming || input instanceof Request || !(body === null || typeof body === 'string' || body instanceof Uint8Array)) return fetch(input, init);
    const url = typeof input === 'string' ? new URL(input) : input;
    const res = await agent.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: (init.method ?? 'GET').toUpperCase() as 'GET',
      headers: headerList(init.headers),
      body,
      signal: init.signal ?? undefined,
    });
    const bytes = new Uint8Array(await res.body.arrayBuffer());
    const headers = new Map<string, string>();
    let cookies: string[] = [];
    for (const name in res.headers) {
      const v = res.headers[name];
      if (v === undefined) continue;
      if (name === 'set-cookie') cookies = Array.isArray(v) ? v : [v];
      headers.set(name, Array.isArray(v) ? v.join(', ') : v);
    }
    return new ProviderResponse(NULL_BODY_STATUS.has(res.statusCode) ? null : bytes, res.statusCode, new ProviderHeaders(headers, cookies), url.href) as unknown as Response;
  };

  return { fetch: providerFetch as typeof fetch, close: () => agent.close() };
}
