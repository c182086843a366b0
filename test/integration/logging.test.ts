import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { type MockProvider, startMockProvider } from '../support/mock-provider.js';

const DISPATCH = /* GraphQL */ `
  mutation Dispatch($input: DispatchInferenceInput!) {
    dispatchInference(input: $input) { replayed inference { id status outputText } }
  }
`;

interface LogLine {
  level: number;
  msg: string;
  requestId?: string;
  tenantId?: string | null;
  agentId?: string | null;
  operationName?: string | null;
  operationType?: string | null;
  httpStatus?: number;
  durationMs?: number;
  outcome?: string;
  errorCodes?: string[];
}

describe('request logs', () => {
  let mock: MockProvider;
  let t: TestApp;
  const captured: string[] = [];
  // Strings that must never reach a log line.
  const prompt = `PROMPT-${randomBytes(8).toString('hex')} what is the capital of France?`;
  const system = `SYSTEM-${randomBytes(8).toString('hex')} answer tersely`;
  const strangerKey = `ainf_${randomBytes(24).toString('base64url')}`;

  beforeAll(async () => {
    mock = await startMockProvider();
    const logger = pino({ level: 'trace' }, { write: (line: string) => void captured.push(line) });
    t = await startTestApp({ mock, logger });
  });
  afterAll(async () => {
    await t?.stop();
    await mock?.close();
  });

  const lines = (): LogLine[] => captured.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine);
  const requestLines = () => lines().filter((l) => l.msg === 'graphql request');
  const lineFor = (requestId: string) => {
    const found = requestLines().filter((l) => l.requestId === requestId);
    expect(found, `log lines for ${requestId}`).toHaveLength(1);
    return found[0];
  };

  async function post(body: string | Record<string, unknown>, opts: { key?: string | null; requestId?: string; contentType?: string } = {}) {
    const key = opts.key === undefined ? t.keys.agentKey : opts.key;
    const res = await fetch(t.url, {
      method: 'POST',
      headers: {
        'content-type': opts.contentType ?? 'application/json',
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(opts.requestId ? { 'x-request-id': opts.requestId } : {}),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, requestId: res.headers.get('x-request-id') ?? opts.requestId!, body: text };
  }

  it('writes one structured line per request, with request id, tenant, operation, duration and outcome', async () => {
    mock.script({ kind: 'classifier', times: 1, behavior: { type: 'label', label: 'chat' } });
    const dispatched = await post({ query: DISPATCH, operationName: 'Dispatch', variables: { input: { model: 'ainfera-auto', system, messages: [{ role: 'USER', content: prompt }] } } });
    expect(dispatched.status).toBe(200);
    expect(JSON.parse(dispatched.body).data.dispatchInference.inference.status).toBe('SUCCEEDED');
    const line = lineFor(dispatched.requestId);
    expect(line).toMatchObject({ level: 30, tenantId: t.keys.tenantId, agentId: t.keys.agentId, operationName: 'Dispatch', operationType: 'mutation', httpStatus: 200, outcome: 'ok' });
    expect(line.errorCodes).toBeUndefined();
    expect(typeof line.durationMs).toBe('number');
    expect(line.durationMs).toBeGreaterThanOrEqual(0);

    const viewer = await post({ query: 'query WhoAmI { viewer { role } }' }, { key: t.keys.userKey, requestId: 'req-from-client-1' });
    expect(viewer.requestId).toBe('req-from-client-1');
    expect(lineFor('req-from-client-1')).toMatchObject({ tenantId: t.keys.tenantId, agentId: null, operationName: 'WhoAmI', operationType: 'query', outcome: 'ok' });

    const anonymous = await post({ query: '{ viewer { role } }' });
    expect(lineFor(anonymous.requestId)).toMatchObject({ operationName: null, operationType: 'query', outcome: 'ok' });
  });

  it('logs error outcomes by code, including requests that fail before GraphQL runs', async () => {
    const cases: Array<[string, Awaited<ReturnType<typeof post>>, Partial<LogLine>]> = [];

    const unknownKey = await post({ query: 'query Snoop { viewer { role } }' }, { key: strangerKey });
    cases.push(['unknown key', unknownKey, { tenantId: null, operationName: 'Snoop', httpStatus: 401, outcome: 'error', errorCodes: ['UNAUTHENTICATED'] }]);

    const noKey = await post({ query: DISPATCH, variables: { input: { model: 'ainfera-auto', messages: [{ role: 'USER', content: prompt }] } } }, { key: null });
    cases.push(['no key', noKey, { tenantId: null, operationName: 'Dispatch', outcome: 'error', errorCodes: ['UNAUTHENTICATED'] }]);

    const invalid = await post({ query: 'query Broken { viewer { nope } }' });
    cases.push(['validation', invalid, { tenantId: t.keys.tenantId, operationName: 'Broken', outcome: 'error', errorCodes: ['GRAPHQL_VALIDATION_FAILED'] }]);

    const badInput = await post({ query: DISPATCH, variables: { input: { model: 'ainfera-auto', maxTokens: -1, messages: [{ role: 'USER', content: prompt }] } } });
    cases.push(['bad input', badInput, { tenantId: t.keys.tenantId, operationName: 'Dispatch', operationType: 'mutation', outcome: 'error', errorCodes: ['BAD_USER_INPUT'] }]);

    mock.script({ kind: 'completion', times: 1, behavior: { type: 'status', status: 500, message: 'upstream exploded' } });
    const upstream = await post({ query: DISPATCH, variables: { input: { model: 'claude-haiku-4-5', taskType: 'CHAT', system, messages: [{ role: 'USER', content: prompt }] } } });
    cases.push(['upstream failure', upstream, { tenantId: t.keys.tenantId, operationName: 'Dispatch', outcome: 'error', errorCodes: ['UPSTREAM_UNAVAILABLE'] }]);

    const notJson = await post('{"query": "{ viewer', { requestId: 'req-not-json' });
    cases.push(['body not JSON', notJson, { tenantId: null, httpStatus: 400, outcome: 'error', errorCodes: ['BAD_REQUEST'] }]);

    const noQuery = await post({ variables: {} }, { requestId: 'req-no-query' });
    cases.push(['no query', noQuery, { tenantId: t.keys.tenantId, httpStatus: 400, outcome: 'error', errorCodes: ['BAD_REQUEST'] }]);

    // CSRF prevention turns away a simple GET before the context (and authentication) is built.
    const csrf = await fetch(`${t.url}?query=${encodeURIComponent('query CrossSite { viewer { role } }')}`, { headers: { accept: 'application/json', 'x-request-id': 'req-csrf', authorization: `Bearer ${t.keys.agentKey}` } });
    await csrf.text();
    cases.push(['CSRF-blocked GET', { status: csrf.status, requestId: 'req-csrf', body: '' }, { tenantId: null, operationName: 'CrossSite', httpStatus: 400, outcome: 'error', errorCodes: ['BAD_REQUEST'] }]);

    for (const [name, res, expected] of cases) {
      expect(res.status, name).toBeGreaterThanOrEqual(200);
      const line = lineFor(res.requestId);
      expect(line, name).toMatchObject(expected);
      expect(typeof line.durationMs, name).toBe('number');
    }
  });

  it('logs a masked internal error at error level with its class, never its message', async () => {
    // A missing table makes the insert fail inside the driver, whose message quotes the statement's parameters.
    await t.sql(`alter table inference rename to inference_hidden`);
    let res: Awaited<ReturnType<typeof post>>;
    try {
      res = await post({ query: DISPATCH, operationName: 'Dispatch', variables: { input: { model: 'ainfera-auto', taskType: 'CHAT', system, messages: [{ role: 'USER', content: prompt }] } } });
    } finally {
      await t.sql(`alter table inference_hidden rename to inference`);
    }
    expect(JSON.parse(res.body).errors[0]).toMatchObject({ message: 'Internal server error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    const line = lineFor(res.requestId) as LogLine & { internalError?: { type: string; path: string | null; sqlState?: string } };
    expect(line).toMatchObject({ level: 50, operationName: 'Dispatch', outcome: 'error', errorCodes: ['INTERNAL_SERVER_ERROR'], internalError: { path: 'dispatchInference', sqlState: '42P01' } });
    expect(line.internalError!.type).toMatch(/Exception|Error/);
    expect(JSON.stringify(line)).not.toContain('does not exist');
  });

  it('never logs a key, a prompt or an upstream credential', async () => {
    // Everything the tests above sent, plus a few more requests through other paths.
    await post({ query: DISPATCH, variables: { input: { model: 'ainfera-auto', taskType: 'CHAT', system, messages: [{ role: 'USER', content: prompt }], idempotencyKey: 'log-idem-1' } } }, { key: t.keys.userKey });
    await post({ query: DISPATCH, variables: { input: { model: 'ainfera-auto', taskType: 'CHAT', agentId: t.keys.agentId, system, messages: [{ role: 'USER', content: prompt }], idempotencyKey: 'log-idem-1' } } }, { key: t.keys.userKey });
    await post({ query: DISPATCH, variables: { input: { model: 'ainfera-auto', taskType: 'CHAT', system, messages: [{ role: 'USER', content: prompt }], idempotencyKey: 'log-idem-1' } } });
    await post({ query: DISPATCH, variables: { input: { model: 'ainfera-auto', taskType: 'CHAT', system, messages: [{ role: 'USER', content: prompt }], idempotencyKey: 'log-idem-1' } } });

    const text = captured.join('');
    expect(requestLines().length).toBeGreaterThanOrEqual(14);
    const secrets = {
      'agent key': t.keys.agentKey,
      'user key': t.keys.userKey,
      'unknown key': strangerKey,
      'Anthropic credential': 'test-anthropic-key',
      'OpenAI credential': 'test-openai-key',
      'prompt text': prompt.slice(0, 20),
      'system prompt': system.slice(0, 20),
      'upstream error message': 'upstream exploded',
    };
    for (const [what, secret] of Object.entries(secrets)) expect(text.includes(secret), `${what} appears in the logs`).toBe(false);
    expect(text).not.toMatch(/Bearer/i);
    // Every line is JSON and every request line has the full set of fields.
    for (const line of requestLines()) {
      expect(Object.keys(line)).toEqual(expect.arrayContaining(['requestId', 'tenantId', 'operationName', 'durationMs', 'outcome', 'httpStatus']));
      expect(['ok', 'error']).toContain(line.outcome);
    }
    // Request ids are unique per request.
    const ids = requestLines().map((l) => l.requestId);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
