import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { type MockProvider, startMockProvider } from '../support/mock-provider.js';
import { type Exposition, parseExposition, sampleValue } from '../support/prometheus.js';

const DISPATCH = /* GraphQL */ `
  mutation Dispatch($input: DispatchInferenceInput!) {
    dispatchInference(input: $input) { replayed inference { id status model { slug } } }
  }
`;
const msg = (content: string) => [{ role: 'USER', content }];

describe('GET /metrics', () => {
  let mock: MockProvider;
  let t: TestApp;

  beforeAll(async () => {
    mock = await startMockProvider();
    t = await startTestApp({ mock });
  });
  afterAll(async () => {
    await t?.stop();
    await mock?.close();
  });
  beforeEach(() => mock.reset());

  async function scrape(app = t): Promise<Exposition> {
    const res = await fetch(`${app.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseExposition(await res.text());
  }
  const dispatch = (input: Record<string, unknown>) => t.gql(DISPATCH, { input });
  const dispatches = (e: Exposition, outcome: string, mode: string) => sampleValue(e, 'ainfera_dispatch_duration_seconds_count', { outcome, routing_mode: mode });

  it('serves a Prometheus text exposition with every metric family, typed', async () => {
    const e = await scrape();
    const expected: Record<string, string> = {
      ainfera_dispatch_duration_seconds: 'HISTOGRAM',
      ainfera_classifier_requests_total: 'COUNTER',
      ainfera_classifier_duration_seconds: 'HISTOGRAM',
      ainfera_provider_attempts_total: 'COUNTER',
      ainfera_provider_attempt_duration_seconds: 'HISTOGRAM',
      ainfera_audit_chain_append_duration_seconds: 'HISTOGRAM',
      ainfera_audit_chain_commit_appends: 'HISTOGRAM',
      ainfera_idempotent_replays_total: 'COUNTER',
      ainfera_db_pool_connections: 'GAUGE',
      ainfera_db_pool_pending_acquires: 'GAUGE',
      // default process metrics
      process_cpu_user_seconds_total: 'COUNTER',
      process_resident_memory_bytes: 'GAUGE',
      nodejs_eventloop_lag_seconds: 'GAUGE',
      nodejs_heap_size_used_bytes: 'GAUGE',
    };
    for (const [name, type] of Object.entries(expected)) {
      expect(e.families.get(name), name).toBeDefined();
      expect(e.families.get(name)!.type, name).toBe(type);
      expect(e.families.get(name)!.help, name).not.toBe('');
    }
    expect(sampleValue(e, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('moves the dispatch, provider-attempt and chain-append metrics when dispatches run', async () => {
    const before = await scrape();
    for (let i = 0; i < 3; i++) {
      const res = await dispatch({ model: 'ainfera-auto', taskType: 'CHAT', messages: msg(`Hello ${i}`) });
      expect(res.errors).toBeUndefined();
    }
    const direct = await dispatch({ model: 'claude-haiku-4-5', taskType: 'CHAT', messages: msg('Hi') });
    expect(direct.errors).toBeUndefined();
    const after = await scrape();

    expect(dispatches(after, 'succeeded', 'auto') - dispatches(before, 'succeeded', 'auto')).toBe(3);
    expect(dispatches(after, 'succeeded', 'direct') - dispatches(before, 'succeeded', 'direct')).toBe(1);
    const sumDelta = sampleValue(after, 'ainfera_dispatch_duration_seconds_sum', { outcome: 'succeeded', routing_mode: 'auto' }) - sampleValue(before, 'ainfera_dispatch_duration_seconds_sum', { outcome: 'succeeded', routing_mode: 'auto' });
    expect(sumDelta).toBeGreaterThan(0);
    expect(sumDelta).toBeLessThan(30);
    // Histogram buckets are cumulative and end with +Inf = count.
    expect(sampleValue(after, 'ainfera_dispatch_duration_seconds_bucket', { outcome: 'succeeded', routing_mode: 'auto', le: '+Inf' })).toBe(dispatches(after, 'succeeded', 'auto'));

    const attempts = (e: Exposition) => sampleValue(e, 'ainfera_provider_attempts_total', { provider: 'anthropic', outcome: 'succeeded' });
    expect(attempts(after) - attempts(before)).toBe(4);
    const timed = (e: Exposition) => sampleValue(e, 'ainfera_provider_attempt_duration_seconds_count', { provider: 'anthropic', outcome: 'succeeded' });
    expect(timed(after) - timed(before)).toBe(4);
    const appends = (e: Exposition) => sampleValue(e, 'ainfera_audit_chain_append_duration_seconds_count');
    expect(appends(after) - appends(before)).toBe(4);
    // A caller-supplied task type never asks the classifier.
    expect(sampleValue(after, 'ainfera_classifier_requests_total', { outcome: 'labelled' })).toBe(sampleValue(before, 'ainfera_classifier_requests_total', { outcome: 'labelled' }));
  });

  it('times provider attempts: a slow provider shows in its histogram, not only in the dispatch total', async () => {
    const before = await scrape();
    mock.script({ kind: 'completion', times: 1, behavior: { type: 'delay-then-ok', delayMs: 300 } });
    expect((await dispatch({ model: 'claude-haiku-4-5', taskType: 'CHAT', messages: msg('Take your time') })).errors).toBeUndefined();
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => sampleValue(after, name, labels) - sampleValue(before, name, labels);
    const bucket = (le: string) => delta('ainfera_provider_attempt_duration_seconds_bucket', { provider: 'anthropic', outcome: 'succeeded', le });
    expect(bucket('+Inf')).toBe(1);
    expect(bucket('0.25')).toBe(0);
    expect(bucket('0.5')).toBe(1);
    const seconds = delta('ainfera_provider_attempt_duration_seconds_sum', { provider: 'anthropic', outcome: 'succeeded' });
    expect(seconds).toBeGreaterThanOrEqual(0.3);
    expect(seconds).toBeLessThan(0.5);
  });

  it('counts classifier outcomes and latency', async () => {
    const before = await scrape();
    mock.script({ kind: 'classifier', times: 1, behavior: { type: 'label', label: 'code' } });
    mock.script({ kind: 'classifier', times: 1, behavior: { type: 'status', status: 500 } });
    expect((await dispatch({ model: 'ainfera-auto', messages: msg('Write a sort function') })).errors).toBeUndefined();
    expect((await dispatch({ model: 'ainfera-auto', messages: msg('Hmm') })).errors).toBeUndefined();
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => sampleValue(after, name, labels) - sampleValue(before, name, labels);
    expect(delta('ainfera_classifier_requests_total', { outcome: 'labelled' })).toBe(1);
    expect(delta('ainfera_classifier_requests_total', { outcome: 'error' })).toBe(1);
    expect(delta('ainfera_classifier_duration_seconds_count', { outcome: 'labelled' })).toBe(1);
    expect(delta('ainfera_classifier_duration_seconds_count', { outcome: 'error' })).toBe(1);
  });

  it('counts idempotent replays, failed attempts and error outcomes', async () => {
    const before = await scrape();
    const input = { model: 'ainfera-auto', taskType: 'CHAT', messages: msg('Once only'), idempotencyKey: `metrics-${Date.now()}` };
    expect((await dispatch(input)).data.dispatchInference.replayed).toBe(false);
    expect((await dispatch(input)).data.dispatchInference.replayed).toBe(true);
    expect((await dispatch(input)).data.dispatchInference.replayed).toBe(true);

    mock.script({ kind: 'completion', behavior: { type: 'status', status: 500 } });
    const failed = await dispatch({ model: 'claude-haiku-4-5', taskType: 'CHAT', messages: msg('Fail') });
    expect(failed.errors?.[0].extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    const unknown = await dispatch({ model: 'no-such-model', messages: msg('x') });
    expect(unknown.errors?.[0].extensions?.code).toBe('MODEL_NOT_FOUND');
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => sampleValue(after, name, labels) - sampleValue(before, name, labels);

    expect(delta('ainfera_idempotent_replays_total')).toBe(2);
    expect(delta('ainfera_dispatch_duration_seconds_count', { outcome: 'replayed', routing_mode: 'auto' })).toBe(2);
    expect(delta('ainfera_dispatch_duration_seconds_count', { outcome: 'succeeded', routing_mode: 'auto' })).toBe(1);
    expect(delta('ainfera_dispatch_duration_seconds_count', { outcome: 'upstream_unavailable', routing_mode: 'direct' })).toBe(1);
    expect(delta('ainfera_dispatch_duration_seconds_count', { outcome: 'model_not_found', routing_mode: 'direct' })).toBe(1);
    expect(delta('ainfera_provider_attempts_total', { provider: 'anthropic', outcome: 'server_error' })).toBe(1);
    expect(delta('ainfera_provider_attempt_duration_seconds_count', { provider: 'anthropic', outcome: 'server_error' })).toBe(1);
    // Replays call no provider and append nothing: 1 success + 1 failure reached a provider and the chain.
    expect(delta('ainfera_provider_attempts_total', { provider: 'anthropic', outcome: 'succeeded' })).toBe(1);
    expect(delta('ainfera_audit_chain_append_duration_seconds_count')).toBe(2);
  });

  it('commits a burst on one chain in fewer commits than appends, every append counted once', async () => {
    const before = await scrape();
    const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => dispatch({ model: 'ainfera-auto', taskType: 'CHAT', messages: msg(`burst ${i}`) })));
    expect(burst.flatMap((r) => r.errors ?? [])).toEqual([]);
    const after = await scrape();
    const delta = (name: string) => sampleValue(after, name) - sampleValue(before, name);
    expect(delta('ainfera_audit_chain_append_duration_seconds_count')).toBe(40);
    expect(delta('ainfera_audit_chain_commit_appends_sum')).toBe(40);
    const commits = delta('ainfera_audit_chain_commit_appends_count');
    expect(commits).toBeGreaterThanOrEqual(2);
    expect(commits).toBeLessThan(40);
  });

  it('reads the database pool at scrape time', async () => {
    await dispatch({ model: 'ainfera-auto', taskType: 'CHAT', messages: msg('warm the pool') });
    const e = await scrape();
    const used = sampleValue(e, 'ainfera_db_pool_connections', { state: 'used' });
    const free = sampleValue(e, 'ainfera_db_pool_connections', { state: 'free' });
    expect(e.samples.some((s) => s.name === 'ainfera_db_pool_connections' && s.labels.state === 'used')).toBe(true);
    expect(used).toBeGreaterThanOrEqual(0);
    expect(used + free).toBeGreaterThanOrEqual(1);
    expect(used + free).toBeLessThanOrEqual(10);
    expect(e.samples.find((s) => s.name === 'ainfera_db_pool_pending_acquires')?.value).toBe(0);

    // Connections are held only while statements run: hold three with pg_sleep and scrape meanwhile.
    const held = Array.from({ length: 3 }, () => t.app.deps.orm.em.fork().execute('/* metricsTestSleep */ select pg_sleep(0.5)'));
    await new Promise((r) => setTimeout(r, 150));
    const during = await scrape();
    await Promise.all(held);
    expect(sampleValue(during, 'ainfera_db_pool_connections', { state: 'used' })).toBeGreaterThanOrEqual(3);
  });

  it('keeps one registry per app, so two apps in a process count separately', async () => {
    const other = await startTestApp({ dbUrl: t.dbUrl });
    try {
      const res = await other.gql(DISPATCH, { input: { model: 'ainfera-auto', taskType: 'CHAT', messages: msg('sim') } });
      expect(res.errors).toBeUndefined();
      const mine = await scrape();
      const theirs = await scrape(other);
      expect(sampleValue(theirs, 'ainfera_dispatch_duration_seconds_count', { outcome: 'succeeded', routing_mode: 'auto' })).toBe(1);
      expect(sampleValue(theirs, 'ainfera_provider_attempts_total', { provider: 'simulator', outcome: 'succeeded' })).toBe(1);
      expect(sampleValue(mine, 'ainfera_provider_attempts_total', { provider: 'simulator', outcome: 'succeeded' })).toBe(0);
    } finally {
      await other.stop();
    }
  });
});
