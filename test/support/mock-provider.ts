/**
 * Loopback mock LLM provider (Anthropic Messages + OpenAI Chat Completions wire protocols).
 *
 * Used by the test suite and the benchmark. node:http only, no dependencies.
 *
 *   const mock = await startMockProvider({ latencyMs: 0 });
 *   new Anthropic({ apiKey: 'x', baseURL: mock.anthropicBaseUrl });   // SDK appends /v1/messages
 *   new OpenAI({ apiKey: 'x', baseURL: mock.openaiBaseUrl });         // SDK appends /chat/completions
 *   mock.script({ protocol: 'anthropic', kind: 'classifier', times: 1, behavior: { type: 'label', label: 'code' } });
 *
 * CLI: `npx tsx test/support/mock-provider.ts --port 9100 --latency 0` prints
 * `{"anthropicBaseUrl":…,"openaiBaseUrl":…}` on one line and runs until SIGINT/SIGTERM.
 * (`--record` keeps the `calls` log in CLI mode; off by default there since nothing can read it.)
 */
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** Marker in a system prompt that makes a request count as a classifier call. */
export const CLASSIFIER_MARKER = 'AINFERA_CLASSIFIER';

export type MockProtocol = 'anthropic' | 'openai';
export type MockKind = 'classifier' | 'completion';

export interface MockCall {
  protocol: MockProtocol;
  /** `body.model`, or '' when absent / body unparseable. */
  model: string;
  /** Parsed JSON body (raw string if the body was not valid JSON, undefined if empty). */
  body: any;
  headers: Record<string, string | string[] | undefined>;
  /** Date.now() when the request body had been fully received. */
  at: number;
  kind: MockKind;
  method: string;
  /** Request path without query string, e.g. `/v1/messages`. */
  path: string;
}

export type MockBehavior =
  | { type: 'ok'; text?: string; inputTokens?: number; outputTokens?: number; delayMs?: number }
  | { type: 'delay-then-ok'; delayMs: number; text?: string; inputTokens?: number; outputTokens?: number }
  | { type: 'label'; label: string; delayMs?: number }
  | {
      type: 'status';
      status: number;
      /** Replaces the default provider-shaped error body (string bodies are sent verbatim). */
      body?: any;
      /** Message placed in the default error body. */
      message?: string;
      headers?: Record<string, string>;
      delayMs?: number;
    }
  | { type: 'hang' }
  | { type: 'garbage'; delayMs?: number }
  | { type: 'wrong-content-type'; delayMs?: number }
  | { type: 'reset'; delayMs?: number }
  | {
      type: 'trickle';
      /** Delay between consecutive body pieces (headers are sent immediately). */
      chunkDelayMs: number;
      /** Number of pieces the (valid) JSON body is split into. */
      chunks: number;
      text?: string;
      inputTokens?: number;
      outputTokens?: number;
    }
  | { type: 'refusal'; text?: string; delayMs?: number };

export interface MockRule {
  protocol?: MockProtocol;
  /** Exact model name, or a RegExp tested against it. */
  model?: string | RegExp;
  kind?: MockKind;
  /** Extra predicate on the recorded call. */
  when?: (call: MockCall) => boolean;
  /** Rule is consumed after this many uses, then skipped. Unlimited when absent. */
  times?: number;
  behavior: MockBehavior;
}

export interface MockCallFilter {
  protocol?: MockProtocol;
  model?: string;
  kind?: MockKind;
}

export interface MockProviderOptions {
  /** Added before every successful (valid 200) response: ok / label / refusal / trickle. */
  latencyMs?: number;
  /** Port to bind on 127.0.0.1; 0 (default) = random free port. */
  port?: number;
  /**
   * Keep every request in `calls` (default true). The CLI turns this off (calls are not observable
   * there) so long benchmark runs don't accumulate request bodies.
   */
  record?: boolean;
}

export interface MockProvider {
  /** `http://127.0.0.1:PORT` — the Anthropic SDK appends `/v1/messages`. */
  readonly anthropicBaseUrl: string;
  /** `http://127.0.0.1:PORT/v1` — the OpenAI SDK appends `/chat/completions`. */
  readonly openaiBaseUrl: string;
  readonly port: number;
  /** Every request received, in arrival order (recorded before the behaviour is applied). */
  readonly calls: MockCall[];
  callCount(filter?: MockCallFilter): number;
  /** Add a rule; rules are matched in insertion order, first match wins. */
  script(rule: MockRule): void;
  /** Clear rules and recorded calls. */
  reset(): void;
  /** Open TCP connections to the mock right now (idle keep-alive ones included). */
  connections(): Promise<number>;
  /** Requests received whose response has not ended and whose connection is still open. */
  inFlight(): number;
  /** Close the server and destroy open sockets (hanging requests end with a connection error). */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// helpers (exported for tests that want to compute expectations)

/** Sum of text characters in `messages` (string content or text parts). */
function messageChars(body: any): number {
  const messages = body?.messages;
  if (!Array.isArray(messages)) return 0;
  let n = 0;
  for (let i = 0; i < messages.length; i++) {
    const content = messages[i]?.content;
    if (typeof content === 'string') n += content.length;
    else if (Array.isArray(content)) {
      for (let j = 0; j < content.length; j++) {
        const text = content[j]?.text;
        if (typeof text === 'string') n += text.length;
      }
    }
  }
  return n;
}

/** Default input token count: ceil(total characters of `messages` text / 4), min 1. */
export function estimateInputTokens(body: any): number {
  return Math.max(1, Math.ceil(messageChars(body) / 4));
}

export const DEFAULT_OUTPUT_TOKENS = 12;
export const DEFAULT_CLASSIFIER_TEXT = 'general';
export const DEFAULT_REFUSAL_TEXT = "I'm sorry, but I can't help with that.";

function textHasMarker(value: unknown): boolean {
  if (typeof value === 'string') return value.includes(CLASSIFIER_MARKER);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const text = value[i]?.text;
      if (typeof text === 'string' && text.includes(CLASSIFIER_MARKER)) return true;
    }
  }
  return false;
}

/** 'classifier' iff the system prompt contains CLASSIFIER_MARKER. */
export function detectKind(protocol: MockProtocol, body: any): MockKind {
  if (body === null || typeof body !== 'object') return 'completion';
  if (protocol === 'anthropic') return textHasMarker(body.system) ? 'classifier' : 'completion';
  const messages = body.messages;
  if (Array.isArray(messages)) {
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      if ((m?.role === 'system' || m?.role === 'developer') && textHasMarker(m.content)) return 'classifier';
    }
  }
  return 'completion';
}

const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  408: 'timeout_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  503: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

function anthropicErrorType(status: number): string {
  return ANTHROPIC_ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

function openaiErrorType(status: number): string {
  if (status === 429) return 'requests';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

const DEFAULT_ERROR_MESSAGES: Record<number, string> = {
  400: 'Bad request (mock)',
  401: 'Invalid API key (mock)',
  403: 'Permission denied (mock)',
  404: 'Not found (mock)',
  429: 'Rate limit exceeded (mock)',
  500: 'Internal server error (mock)',
  503: 'Service unavailable (mock)',
  529: 'Overloaded (mock)',
};

function errorBody(protocol: MockProtocol, status: number, message: string | undefined, requestId: string): string {
  const msg = message ?? DEFAULT_ERROR_MESSAGES[status] ?? `Mock error ${status}`;
  if (protocol === 'anthropic') {
    return JSON.stringify({ type: 'error', error: { type: anthropicErrorType(status), message: msg }, request_id: requestId });
  }
  return JSON.stringify({ error: { message: msg, type: openaiErrorType(status), param: null, code: null } });
}

function anthropicMessage(
  id: string,
  model: string,
  text: string,
  inputTokens: number,
  outputTokens: number,
  refusal: boolean,
): string {
  return JSON.stringify({
    id,
    type: 'message',
    role: 'assistant',
    model,
    content: text === '' ? [] : [{ type: 'text', text }],
    stop_reason: refusal ? 'refusal' : 'end_turn',
    stop_sequence: null,
    stop_details: refusal ? { type: 'refusal', category: null, explanation: null } : null,
    container: null,
    usage: {
      input_tokens: inputTokens,
      output_tokens: outputTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      service_tier: 'standard',
    },
  });
}

function openaiCompletion(
  id: string,
  model: string,
  text: string,
  inputTokens: number,
  outputTokens: number,
  refusal: boolean,
): string {
  return JSON.stringify({
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: refusal
          ? { role: 'assistant', content: null, refusal: text, annotations: [] }
          : { role: 'assistant', content: text, refusal: null, annotations: [] },
        finish_reason: 'stop',
        logprobs: null,
      },
    ],
    usage: {
      prompt_tokens: inputTokens,
      completion_tokens: outputTokens,
      total_tokens: inputTokens + outputTokens,
    },
    service_tier: 'default',
    system_fingerprint: null,
  });
}

function matchesFilter(call: MockCall, f: MockCallFilter): boolean {
  return (
    (f.protocol === undefined || call.protocol === f.protocol) &&
    (f.model === undefined || call.model === f.model) &&
    (f.kind === undefined || call.kind === f.kind)
  );
}

interface RuleState {
  rule: MockRule;
  remaining: number; // Infinity when unlimited
}

const ANTHROPIC_PATH = '/v1/messages';
const OPENAI_PATH = '/v1/chat/completions';
const OK_BEHAVIOR: MockBehavior = { type: 'ok' };

// ---------------------------------------------------------------------------

export async function startMockProvider(opts: MockProviderOptions = {}): Promise<MockProvider> {
  const latencyMs = Math.max(0, opts.latencyMs ?? 0);
  const record = opts.record ?? true;
  const calls: MockCall[] = [];
  let rules: RuleState[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let seq = 0;
  let closed = false;
  let inFlight = 0;

  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  /** Run fn now (ms <= 0) or after ms. */
  const after = (ms: number, fn: () => void): void => {
    if (ms > 0) later(ms, fn);
    else fn();
  };

  const pickBehavior = (call: MockCall): MockBehavior => {
    for (let i = 0; i < rules.length; i++) {
      const st = rules[i];
      if (st.remaining <= 0) continue;
      const r = st.rule;
      if (r.protocol !== undefined && r.protocol !== call.protocol) continue;
      if (r.kind !== undefined && r.kind !== call.kind) continue;
      if (r.model !== undefined) {
        if (typeof r.model === 'string' ? r.model !== call.model : !r.model.test(call.model)) continue;
      }
      if (r.when !== undefined && !r.when(call)) continue;
      st.remaining--;
      return r.behavior;
    }
    return OK_BEHAVIOR;
  };

  const send = (
    res: ServerResponse,
    status: number,
    contentType: string,
    payload: string,
    requestId: string,
    extra?: Record<string, string>,
  ): void => {
    if (res.destroyed || res.writableEnded) return;
    const headers: Record<string, string | number> = {
      'content-type': contentType,
      'content-length': Buffer.byteLength(payload),
      'request-id': requestId,
      'x-request-id': requestId,
    };
    if (extra) for (const k in extra) headers[k.toLowerCase()] = extra[k];
    res.writeHead(status, headers);
    res.end(payload);
  };

  const successPayload = (
    call: MockCall,
    id: string,
    text: string | undefined,
    inputTokens: number | undefined,
    outputTokens: number | undefined,
    refusal: boolean,
  ): string => {
    const t =
      text ?? (refusal ? DEFAULT_REFUSAL_TEXT : call.kind === 'classifier' ? DEFAULT_CLASSIFIER_TEXT : `Hello from ${call.model}`);
    const inTok = inputTokens ?? estimateInputTokens(call.body);
    const outTok = outputTokens ?? (refusal ? 1 : DEFAULT_OUTPUT_TOKENS);
    return call.protocol === 'anthropic'
      ? anthropicMessage(id, call.model, t, inTok, outTok, refusal)
      : openaiCompletion(id, call.model, t, inTok, outTok, refusal);
  };

  const apply = (call: MockCall, behavior: MockBehavior, res: ServerResponse, n: number): void => {
    const requestId = `req_mock_${n}`;
    const id = call.protocol === 'anthropic' ? `msg_mock_${n}` : `chatcmpl-mock${n}`;
    switch (behavior.type) {
      case 'ok':
      case 'delay-then-ok': {
        const b = behavior;
        after(latencyMs + (b.delayMs ?? 0), () =>
          send(res, 200, 'application/json', successPayload(call, id, b.text, b.inputTokens, b.outputTokens, false), requestId),
        );
        return;
      }
      case 'label': {
        const b = behavior;
        after(latencyMs + (b.delayMs ?? 0), () =>
          send(res, 200, 'application/json', successPayload(call, id, b.label, undefined, undefined, false), requestId),
        );
        return;
      }
      case 'refusal': {
        const b = behavior;
        after(latencyMs + (b.delayMs ?? 0), () =>
          send(res, 200, 'application/json', successPayload(call, id, b.text, undefined, undefined, true), requestId),
        );
        return;
      }
      case 'status': {
        const b = behavior;
        after(b.delayMs ?? 0, () => {
          const payload =
            b.body === undefined
              ? errorBody(call.protocol, b.status, b.message, requestId)
              : typeof b.body === 'string'
                ? b.body
                : JSON.stringify(b.body);
          let extra = b.headers;
          if (b.status === 429 && !(extra && Object.keys(extra).some((k) => k.toLowerCase() === 'retry-after'))) {
            extra = { 'retry-after': '1', ...extra };
          }
          send(res, b.status, 'application/json', payload, requestId, extra);
        });
        return;
      }
      case 'hang':
        // Never answer; ends when the client disconnects or close() destroys the socket.
        return;
      case 'garbage':
        after(behavior.delayMs ?? 0, () =>
          send(res, 200, 'application/json', '{"id":"msg_garbage","type":"message","content":[{"type":"te', requestId),
        );
        return;
      case 'wrong-content-type':
        after(behavior.delayMs ?? 0, () =>
          send(
            res,
            200,
            'text/html; charset=utf-8',
            '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>',
            requestId,
          ),
        );
        return;
      case 'reset':
        after(behavior.delayMs ?? 0, () => {
          res.socket?.destroy();
        });
        return;
      case 'trickle': {
        const b = behavior;
        after(latencyMs, () => {
          if (res.destroyed) return;
          const buf = Buffer.from(successPayload(call, id, b.text, b.inputTokens, b.outputTokens, false));
          const pieces = Math.max(1, Math.min(Math.floor(b.chunks) || 1, buf.length));
          const size = Math.ceil(buf.length / pieces);
          res.writeHead(200, {
            'content-type': 'application/json',
            'content-length': buf.length,
            'request-id': requestId,
            'x-request-id': requestId,
          });
          res.flushHeaders();
          let offset = 0;
          const step = (): void => {
            if (res.destroyed) return;
            const end = Math.min(buf.length, offset + size);
            const piece = buf.subarray(offset, end);
            offset = end;
            if (offset >= buf.length) res.end(piece);
            else {
              res.write(piece);
              later(b.chunkDelayMs, step);
            }
          };
          step();
        });
        return;
      }
      default: {
        const never: never = behavior;
        throw new Error(`unknown mock behavior ${JSON.stringify(never)}`);
      }
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string): void => {
    const n = ++seq;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    const headers = req.headers;

    let protocol: MockProtocol;
    let known = method === 'POST';
    if (path === ANTHROPIC_PATH) protocol = 'anthropic';
    else if (path === OPENAI_PATH) protocol = 'openai';
    else {
      known = false;
      protocol =
        headers['anthropic-version'] !== undefined || headers['x-api-key'] !== undefined || path.startsWith(ANTHROPIC_PATH)
          ? 'anthropic'
          : 'openai';
    }

    let body: any = undefined;
    let parsed = true;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
        parsed = false;
      }
    }
    const model = parsed && body !== null && typeof body === 'object' && typeof body.model === 'string' ? body.model : '';
    const call: MockCall = {
      protocol,
      model,
      body,
      headers,
      at: Date.now(),
      kind: parsed ? detectKind(protocol, body) : 'completion',
      method,
      path,
    };
    if (record) calls.push(call);

    const requestId = `req_mock_${n}`;
    if (!known) {
      send(res, 404, 'application/json', errorBody(protocol, 404, `No route for ${method} ${path} (mock)`, requestId), requestId);
      return;
    }
    if (!parsed || body === null || typeof body !== 'object') {
      send(res, 400, 'application/json', errorBody(protocol, 400, 'Request body is not valid JSON (mock)', requestId), requestId);
      return;
    }
    if (body.stream === true) {
      send(
        res,
        400,
        'application/json',
        errorBody(protocol, 400, 'stream: true is not supported by the mock provider', requestId),
        requestId,
      );
      return;
    }
    apply(call, pickBehavior(call), res, n);
  };

  const server = http.createServer((req, res) => {
    inFlight++;
    res.once('close', () => inFlight--);
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      raw += chunk;
    });
    req.on('end', () => handle(req, res, raw));
    req.on('error', () => {
      /* client went away mid-body */
    });
  });
  server.keepAliveTimeout = 10_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => {
    socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;

  return {
    anthropicBaseUrl: origin,
    openaiBaseUrl: `${origin}/v1`,
    port,
    calls,
    callCount(filter?: MockCallFilter): number {
      if (!filter) return calls.length;
      let c = 0;
      for (let i = 0; i < calls.length; i++) if (matchesFilter(calls[i], filter)) c++;
      return c;
    },
    script(rule: MockRule): void {
      rules.push({ rule, remaining: rule.times === undefined ? Infinity : rule.times });
    },
    reset(): void {
      rules = [];
      calls.length = 0;
    },
    connections(): Promise<number> {
      return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    },
    inFlight(): number {
      return inFlight;
    },
    close(): Promise<void> {
      if (closed) return Promise.resolve();
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      sockets.clear();
      return done;
    },
  };
}

// ---------------------------------------------------------------------------
// CLI: npx tsx test/support/mock-provider.ts --port 9100 --latency 0

function isMain(): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  if (import.meta.url === pathToFileURL(argv1).href) return true;
  try {
    return import.meta.url === pathToFileURL(realpathSync(argv1)).href;
  } catch {
    return false;
  }
}

function argValue(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === name) return args[i + 1];
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
  }
  return undefined;
}

if (isMain()) {
  const args = process.argv.slice(2);
  const port = Number(argValue(args, '--port') ?? 0);
  const latencyMs = Number(argValue(args, '--latency') ?? 0);
  const record = args.includes('--record');
  if (!Number.isInteger(port) || port < 0 || !Number.isFinite(latencyMs) || latencyMs < 0) {
    process.stderr.write('usage: mock-provider.ts [--port N] [--latency MS] [--record]\n');
    process.exit(2);
  }
  const mock = await startMockProvider({ port, latencyMs, record });
  process.stdout.write(JSON.stringify({ anthropicBaseUrl: mock.anthropicBaseUrl, openaiBaseUrl: mock.openaiBaseUrl }) + '\n');
  const shutdown = (): void => {
    void mock.close().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
