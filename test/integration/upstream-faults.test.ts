import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { type MockBehavior, type MockProvider, startMockProvider } from '../support/mock-provider.js';

/**
 * Issue #8, upstream faults: every way a provider can misbehave ends within its time budget, leaves
 * a recorded failed attempt (API and audit payload), falls back in auto mode, fails cleanly in
 * direct mode, and never leaves a connection hanging or a socket open.
 */

const TIMEOUT_MS = 500;
/** Scheduling slack on a shared 2-core machine; a fault that is not bounded blows far past it. */
const SLACK_MS = 900;
/** Planted in upstream error bodies: it must never reach a client, a row's error or the audit log. */
const CANARY = 'upstream-canary-sk-live-51Hx';

const DISPATCH = /* GraphQL */ `
  mutation Dispatch($input: DispatchInferenceInput!) {
    dispatchInference(input: $input) {
      replayed
      inference { id status model { slug } provider { slug } constraintBand attempts { model provider outcome latencyMs } error { code message } }
    }
  }
`;

interface Fault {
  name: string;
  behavior: MockBehavior;
  outcome: string;
  /** The attempt lasts until PROVIDER_TIMEOUT_MS (else it ends at once). */
  timesOut?: boolean;
  /** Auto mode moves on to the next candidate (false: client errors end the dispatch). */
  fallsBack?: boolean;
}

const FAULTS: Fault[] = [
  { name: 'hang (no response at all)', behavior: { type: 'hang' }, outcome: 'timeout', timesOut: true },
  { name: 'slow headers (answer after 3 s)', behavior: { type: 'delay-then-ok', delayMs: 3000 }, outcome: 'timeout', timesOut: true },
  { name: 'slow trickle (headers at once, body over 3 s)', behavior: { type: 'trickle', chunkDelayMs: 150, chunks: 20 }, outcome: 'timeout', timesOut: true },
  { name: 'connection reset before any byte', behavior: { type: 'reset' }, outcome: 'connection_error' },
  { name: 'connection reset after 100 ms', behavior: { type: 'reset', delayMs: 100 }, outcome: 'connection_error' },
  { name: '429 with retry-after: 30', behavior: { type: 'status', status: 429, headers: { 'retry-after': '30', 'x-should-retry': 'true' }, message: CANARY }, outcome: 'rate_limited' },
  { name: '429 with retry-after-ms', behavior: { type: 'status', status: 429, headers: { 'retry-after-ms': '20000' }, message: CANARY }, outcome: 'rate_limited' },
  { name: '500', behavior: { type: 'status', status: 500, message: CANARY }, outcome: 'server_error' },
  { name: '502 with an HTML body', behavior: { type: 'status', status: 502, body: `<html><body>Bad gateway ${CANARY}</body></html>` }, outcome: 'server_error' },
  { name: '503 with retry-after', behavior: { type: 'status', status: 503, headers: { 'retry-after': '60' }, message: CANARY }, outcome: 'server_error' },
  { name: '504', behavior: { type: 'status', status: 504, message: CANARY }, outcome: 'server_error' },
  { name: '529 overloaded', behavior: { type: 'status', status: 529, message: CANARY }, outcome: 'server_error' },
  { name: 'invalid JSON (truncated body)', behavior: { type: 'garbage' }, outcome: 'bad_response' },
  { name: 'wrong content type (HTML 200)', behavior: { type: 'wrong-content-type' }, outcome: 'bad_response' },
  { name: 'empty 200 body', behavior: { type: 'status', status: 200, body: '' }, outcome: 'bad_response' },
  { name: 'JSON of the wrong shape', behavior: { type: 'status', status: 200, body: { hello: CANARY } }, outcome: 'bad_response' },
  { name: 'JSON null', behavior: { type: 'status', status: 200, body: 'null' }, outcome: 'bad_response' },
  { name: 'refusal', behavior: { type: 'refusal' }, outcome: 'refusal' },
  { name: '400 (client error: no fallback)', behavior: { type: 'status', status: 400, message: CANARY }, outcome: 'client_error', fallsBack: false },
];

const budget = (f: Fault) => (f.timesOut ? TIMEOUT_MS : 0) + SLACK_MS;
const msg = (content: string) => [{ role: 'USER', content }];

describe('upstream faults', () => {
  let mock: MockProvider;
  let t: TestApp;
  let tenant: Awaited<ReturnType<TestApp['newTenant']>>;
  let faultsInjected = 0;
  let baselineConnections = 0;

  beforeAll(async () => {
    mock = await startMockProvider();
    t = await startTestApp({ mock, env: { PROVIDER_TIMEOUT_MS: String(TIMEOUT_MS) } });
    // Warm both SDKs' keep-alive pools, then take the baseline.
    tenant = await t.newTenant();
    for (const model of ['claude-haiku-4-5', 'gpt-4.1-mini']) {
      const res = await t.gql(DISPATCH, { input: { model, taskType: 'CHAT', messages: msg('warm up') } }, tenant.agentKey);
      expect(res.errors).toBeUndefined();
    }
    baselineConnections = await mock.connections();
  });
  afterAll(async () => {
    console.log(`[upstream-faults] faults injected: ${faultsInjected}; mock connections: baseline ${baselineConnections}, after ${await mock.connections()}`);
    await t.stop();
    await mock.close();
  });
  beforeEach(async () => {
    mock.reset();
    tenant = await t.newTenant();
  });

  const timed = async (input: Record<string, unknown>) => {
    const started = performance.now();
    const res = await t.gql(DISPATCH, { input }, tenant.agentKey);
    return { res, elapsed: performance.now() - started };
  };
  const events = () => t.sql(`select * from audit_event where chain = $1 order by seq`, [tenant.tenantId]);
  const outcomes = (attempts: Array<{ model: string; outcome: string }>) => attempts.map((a) => [a.model, a.outcome]);

  /** Nothing upstream-specific (bodies, credentials, mock addresses) reaches a client or the audit log. */
  const expectNoUpstreamDetail = (value: unknown) => {
    const text = JSON.stringify(value);
    for (const secret of [CANARY, 'test-anthropic-key', 'test-openai-key', 'req_mock_', '(mock)', `:${mock.port}`, 'Bad Gateway']) expect(text).not.toContain(secret);
  };

  for (const fault of FAULTS) {
    it(`auto mode, first candidate ${fault.name}: ${fault.fallsBack === false ? 'fails without substitution' : 'answered by gpt-4.1-mini'} within budget`, async () => {
      mock.script({ model: 'claude-haiku-4-5', behavior: fault.behavior });
      faultsInjected++;
      const { res, elapsed } = await timed({ model: 'ainfera-auto', taskType: 'CHAT', messages: msg(`fault ${fault.name}`) });
      expect(elapsed).toBeLessThan(budget(fault));
      expectNoUpstreamDetail(res);
      const [event] = await events();
      expectNoUpstreamDetail(event.payload);
      if (fault.fallsBack === false) {
        expect(res.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
        expect(mock.callCount({ kind: 'completion' })).toBe(1);
        expect(event.type).toBe('inference.failed');
        expect(outcomes(event.payload.attempts)).toEqual([['claude-haiku-4-5', fault.outcome]]);
        return;
      }
      expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
      const inf = res.data.dispatchInference.inference;
      expect(inf).toMatchObject({ status: 'SUCCEEDED', model: { slug: 'gpt-4.1-mini' }, provider: { slug: 'openai' }, error: null });
      expect(outcomes(inf.attempts)).toEqual([
        ['claude-haiku-4-5', fault.outcome],
        ['gpt-4.1-mini', 'succeeded'],
      ]);
      if (fault.timesOut) expect(inf.attempts[0].latencyMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(mock.callCount({ model: 'claude-haiku-4-5' })).toBe(1); // no hidden SDK retry
      expect(event).toMatchObject({ type: 'inference.routed', payload: { inferenceId: inf.id, model: 'gpt-4.1-mini', provider: 'openai' } });
      expect(outcomes(event.payload.attempts)).toEqual(outcomes(inf.attempts));
      expect(event.payload.attempts[0].latencyMs).toBe(inf.attempts[0].latencyMs);
    });
  }

  for (const [model, provider] of [
    ['claude-haiku-4-5', 'anthropic'],
    ['gpt-4.1-mini', 'openai'],
  ] as const) {
    for (const fault of FAULTS) {
      it(`direct mode (${provider}), ${fault.name}: UPSTREAM_UNAVAILABLE with the failed inference, within budget`, async () => {
        mock.script({ model, behavior: fault.behavior });
        faultsInjected++;
        const { res, elapsed } = await timed({ model, taskType: 'CHAT', messages: msg(`direct fault ${fault.name}`) });
        expect(elapsed).toBeLessThan(budget(fault));
        expectNoUpstreamDetail(res);
        expect(res.data).toBeNull();
        const ext = res.errors?.[0].extensions;
        expect(ext?.code).toBe('UPSTREAM_UNAVAILABLE');
        expect(ext?.inferenceId).toMatch(/^[0-9a-f-]{36}$/);
        expect(mock.callCount({ kind: 'completion' })).toBe(1); // never substituted, never retried
        const read = await t.gql(`query($id: ID!) { inference(id: $id) { status model { slug } routingMode attempts { model provider outcome } error { code message } } }`, { id: ext?.inferenceId }, tenant.agentKey);
        expect(read.data.inference).toMatchObject({ status: 'FAILED', model: null, routingMode: 'DIRECT', attempts: [{ model, provider, outcome: fault.outcome }], error: { code: 'UPSTREAM_UNAVAILABLE' } });
        expectNoUpstreamDetail(read);
        const [event] = await events();
        expect(event).toMatchObject({ type: 'inference.failed', payload: { inferenceId: ext?.inferenceId, model: null, provider: null } });
        expect(outcomes(event.payload.attempts)).toEqual([[model, fault.outcome]]);
        expectNoUpstreamDetail(event.payload);
        const [row] = await t.sql(`select status, error from inference where id = $1`, [ext?.inferenceId]);
        expect(row.status).toBe('failed');
        expectNoUpstreamDetail(row.error);
      });
    }
  }

  it('auto mode with every candidate failing: UPSTREAM_UNAVAILABLE listing both attempts', async () => {
    mock.script({ model: 'claude-haiku-4-5', behavior: { type: 'status', status: 503 } });
    mock.script({ model: 'gpt-4.1-mini', behavior: { type: 'hang' } });
    faultsInjected += 2;
    const { res, elapsed } = await timed({ model: 'ainfera-auto', taskType: 'CHAT', messages: msg('nobody home') });
    expect(elapsed).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expect(res.errors?.[0].extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    const [event] = await events();
    expect(event.type).toBe('inference.failed');
    expect(event.payload.inferenceId).toBe(res.errors?.[0].extensions?.inferenceId);
    expect(outcomes(event.payload.attempts)).toEqual([
      ['claude-haiku-4-5', 'server_error'],
      ['gpt-4.1-mini', 'timeout'],
    ]);
  });

  describe('maxLatencyMs bounds the whole dispatch', () => {
    it('a hanging first candidate with maxLatencyMs 300 → failed within ~300 ms, outcome deadline_exceeded', async () => {
      mock.script({ model: 'claude-haiku-4-5', behavior: { type: 'hang' } });
      faultsInjected++;
      const { res, elapsed } = await timed({ model: 'ainfera-auto', taskType: 'CHAT', constraints: { maxLatencyMs: 300 }, messages: msg('hurry') });
      expect(elapsed).toBeGreaterThanOrEqual(280);
      expect(elapsed).toBeLessThan(300 + SLACK_MS);
      expect(res.errors?.[0].extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
      const id = res.errors?.[0].extensions?.inferenceId;
      const read = await t.gql(`query($id: ID!) { inference(id: $id) { status constraintBand latencyMs attempts { model outcome latencyMs } } }`, { id }, tenant.agentKey);
      expect(read.data.inference).toMatchObject({ status: 'FAILED', constraintBand: 'FAST' });
      expect(outcomes(read.data.inference.attempts)).toEqual([['claude-haiku-4-5', 'deadline_exceeded']]);
      expect(read.data.inference.latencyMs).toBeLessThan(300 + 200);
      expect(mock.callCount({ model: 'gpt-4.1-mini' })).toBe(0); // no time left for it
      const [event] = await events();
      expect(outcomes(event.payload.attempts)).toEqual([['claude-haiku-4-5', 'deadline_exceeded']]);
    });

    it('a slowly trickled body is cut at the deadline too', async () => {
      mock.script({ model: 'claude-haiku-4-5', behavior: { type: 'trickle', chunkDelayMs: 100, chunks: 30 } });
      faultsInjected++;
      const { res, elapsed } = await timed({ model: 'ainfera-auto', taskType: 'CHAT', constraints: { maxLatencyMs: 300 }, messages: msg('trickle') });
      expect(elapsed).toBeLessThan(300 + SLACK_MS);
      expect(res.errors?.[0].extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
      const [event] = await events();
      expect(outcomes(event.payload.attempts)).toEqual([['claude-haiku-4-5', 'deadline_exceeded']]);
    });

    it('the second candidate gets only what is left: timeout, then deadline_exceeded, within maxLatencyMs', async () => {
      mock.script({ model: 'claude-haiku-4-5', behavior: { type: 'hang' } });
      mock.script({ model: 'gpt-4.1-mini', behavior: { type: 'hang' } });
      faultsInjected += 2;
      const { res, elapsed } = await timed({ model: 'ainfera-auto', taskType: 'CHAT', constraints: { maxLatencyMs: 800 }, messages: msg('both hang') });
      expect(elapsed).toBeGreaterThanOrEqual(780);
      expect(elapsed).toBeLessThan(800 + SLACK_MS);
      const [event] = await events();
      expect(res.errors?.[0].extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(outcomes(event.payload.attempts)).toEqual([
        ['claude-haiku-4-5', 'timeout'],
        ['gpt-4.1-mini', 'deadline_exceeded'],
      ]);
      expect(event.payload.attempts[1].latencyMs).toBeLessThan(400);
    });

    it('a fallback that fits in the deadline succeeds', async () => {
      mock.script({ model: 'claude-haiku-4-5', behavior: { type: 'hang' } });
      faultsInjected++;
      const { res, elapsed } = await timed({ model: 'ainfera-auto', taskType: 'CHAT', constraints: { maxLatencyMs: 1500 }, messages: msg('fits') });
      expect(elapsed).toBeLessThan(TIMEOUT_MS + SLACK_MS);
      expect(res.data.dispatchInference.inference).toMatchObject({ status: 'SUCCEEDED', model: { slug: 'gpt-4.1-mini' } });
    });

    it('a hanging classifier counts against the deadline as well', async () => {
      mock.script({ kind: 'classifier', behavior: { type: 'hang' } });
      faultsInjected++;
      const { res, elapsed } = await timed({ model: 'ainfera-auto', constraints: { maxLatencyMs: 300 }, messages: msg('classify me slowly') });
      expect(elapsed).toBeLessThan(300 + SLACK_MS);
      expect(mock.callCount({ kind: 'classifier' })).toBe(1);
      expect(res.errors?.[0].extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(mock.callCount({ kind: 'completion' })).toBe(0);
    });
  });

  it('leaks no socket: open connections stay at the keep-alive baseline however many faults are injected', async () => {
    const counts: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (const fault of FAULTS) {
        mock.reset();
        mock.script({ model: 'claude-haiku-4-5', behavior: fault.behavior });
        faultsInjected++;
        await t.gql(DISPATCH, { input: { model: 'ainfera-auto', taskType: 'CHAT', messages: msg(`round ${round}`) } }, tenant.agentKey);
      }
      await waitFor(() => mock.inFlight() === 0);
      counts.push(await mock.connections());
    }
    // Sequential traffic reuses the pooled keep-alive sockets; a leak adds one per hang or trickle (4 a round).
    const detail = `connections after each round: ${counts.join(', ')} (baseline ${baselineConnections})`;
    expect(mock.inFlight()).toBe(0);
    for (const n of counts) expect(n, detail).toBeLessThanOrEqual(baselineConnections + 2);
  });

  it('20 concurrent dispatches against a hanging first candidate all fall back within budget', async () => {
    mock.script({ model: 'claude-haiku-4-5', behavior: { type: 'hang' } });
    faultsInjected += 20;
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => t.gql(DISPATCH, { input: { model: 'ainfera-auto', taskType: 'CHAT', messages: msg(`burst ${i}`) } }, tenant.agentKey)));
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + 2 * SLACK_MS);
    for (const r of results) expect(r.data.dispatchInference.inference).toMatchObject({ status: 'SUCCEEDED', model: { slug: 'gpt-4.1-mini' } });
    expect(mock.callCount({ model: 'claude-haiku-4-5' })).toBe(20);
    expect((await events()).length).toBe(20);
    // Every hung request was abandoned with its connection: none is still open at the mock.
    await waitFor(() => mock.inFlight() === 0);
    expect(mock.inFlight()).toBe(0);
    // The pool may keep ~one idle keep-alive socket per concurrent fallback call; it must not grow with another burst.
    const afterFirst = await mock.connections();
    await Promise.all(Array.from({ length: 20 }, (_, i) => t.gql(DISPATCH, { input: { model: 'ainfera-auto', taskType: 'CHAT', messages: msg(`burst again ${i}`) } }, tenant.agentKey)));
    faultsInjected += 20;
    await waitFor(() => mock.inFlight() === 0);
    expect(mock.inFlight()).toBe(0);
    expect(mock.callCount({ model: 'claude-haiku-4-5' })).toBe(40);
    expect(await mock.connections(), `after the first burst: ${afterFirst}`).toBeLessThan(afterFirst + 20);
  });

});

async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}
