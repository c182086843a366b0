import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { verifyEvents } from '../../src/modules/audit/envelope.js';
import { generateApiKey } from '../../src/modules/tenancy/auth.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { type MockProvider, startMockProvider } from '../support/mock-provider.js';

const DISPATCH = /* GraphQL */ `
  mutation Dispatch($input: DispatchInferenceInput!) {
    dispatchInference(input: $input) {
      replayed
      inference {
        id status requestedModel routingMode model { slug } provider { slug } agent { id }
        taskType taskTypeSource policyVersion cell constraintBand
        outputText usage { inputTokens outputTokens } costUsd latencyMs
        attempts { model provider outcome latencyMs } error { code message }
      }
    }
  }
`;

const msg = (content: string) => [{ role: 'USER', content }];

describe('dispatchInference', () => {
  let mock: MockProvider;
  let t: TestApp;
  let tenant: Awaited<ReturnType<TestApp['newTenant']>>;

  beforeAll(async () => {
    mock = await startMockProvider();
    t = await startTestApp({ mock, env: { PROVIDER_TIMEOUT_MS: '700' } });
  });
  afterAll(async () => {
    await t.stop();
    await mock.close();
  });
  beforeEach(async () => {
    mock.reset();
    tenant = await t.newTenant();
  });

  const dispatch = (input: Record<string, unknown>, key = tenant.agentKey) => t.gql(DISPATCH, { input }, key);
  const row = async (id: string) => (await t.sql(`select * from inference where id = $1`, [id]))[0];
  const events = (tenantId = tenant.tenantId) => t.sql(`select * from audit_event where chain = $1 order by seq`, [tenantId]);

  it('uses a caller-supplied task type without calling the classifier', async () => {
    const res = await dispatch({ model: 'ainfera-auto', taskType: 'CHAT', messages: msg('Hello there') });
    expect(res.errors).toBeUndefined();
    const inf = res.data.dispatchInference.inference;
    expect(inf).toMatchObject({ status: 'SUCCEEDED', routingMode: 'AUTO', taskType: 'CHAT', taskTypeSource: 'CALLER', cell: 'chat/open', constraintBand: 'OPEN', model: { slug: 'claude-haiku-4-5' }, provider: { slug: 'anthropic' } });
    expect(inf.policyVersion).toMatch(/^pv-[0-9a-f]{12}$/);
    expect(mock.callCount({ kind: 'classifier' })).toBe(0);
    expect(mock.callCount({ kind: 'completion' })).toBe(1);
    expect(inf.usage).toEqual({ inputTokens: 3, outputTokens: 12 });
    expect(inf.costUsd).toBe('0.000063'); // 3 × $1/M + 12 × $5/M
  });

  it('forks no entity manager for a dispatch whose answer comes from the catalog, and one when a field needs SQL', async () => {
    const fork = vi.spyOn(t.app.deps.orm.em, 'fork');
    try {
      const lean = 'mutation($input: DispatchInferenceInput!) { dispatchInference(input: $input) { inference { id status model { slug } provider { slug } } } }';
      const res = await t.gql(lean, { input: { model: 'ainfera-auto', taskType: 'CHAT', messages: msg('No fork, please') } }, tenant.agentKey);
      expect(res.errors).toBeUndefined();
      expect(res.data.dispatchInference.inference).toMatchObject({ status: 'SUCCEEDED', model: { slug: 'claude-haiku-4-5' }, provider: { slug: 'anthropic' } });
      expect(fork).not.toHaveBeenCalled();
      // `agent` is read from the database: the loader asks for the entity manager, which forks then.
      const full = await dispatch({ model: 'ainfera-auto', taskType: 'CHAT', messages: msg('Agent, please') });
      expect(full.data.dispatchInference.inference.agent).toEqual({ id: tenant.agentId });
      expect(fork).toHaveBeenCalledTimes(1);
    } finally {
      fork.mockRestore();
    }
  });

  it('asks the classifier once when no task type is given, and uses its label', async () => {
    mock.script({ kind: 'classifier', behavior: { type: 'label', label: 'code' } });
    const res = await dispatch({ model: 'ainfera-auto', messages: msg('Write a function that reverses a list') });
    const inf = res.data.dispatchInference.inference;
    expect(inf).toMatchObject({ taskType: 'CODE', taskTypeSource: 'CLASSIFIER', cell: 'code/open', model: { slug: 'claude-sonnet-4-5' } });
    expect(mock.callCount({ kind: 'classifier' })).toBe(1);
    const classifierCall = mock.calls.find((c) => c.kind === 'classifier')!;
    expect(classifierCall.model).toBe('claude-haiku-4-5');
  });

  for (const [name, behavior] of [
    ['failing (HTTP 500)', { type: 'status', status: 500 }],
    ['answering nonsense', { type: 'label', label: 'I think this is probably code or reasoning' }],
    ['answering an unknown label', { type: 'label', label: 'poetry' }],
    ['refusing', { type: 'refusal' }],
    ['sending garbage', { type: 'garbage' }],
  ] as const) {
    it(`falls back to general/default when the classifier is ${name}`, async () => {
      mock.script({ kind: 'classifier', behavior: behavior as never });
      const res = await dispatch({ model: 'ainfera-auto', messages: msg('Hi') });
      expect(res.errors).toBeUndefined();
      expect(res.data.dispatchInference.inference).toMatchObject({ status: 'SUCCEEDED', taskType: 'GENERAL', taskTypeSource: 'DEFAULT', cell: 'general/open' });
      expect(mock.callCount({ kind: 'classifier' })).toBe(1);
    });
  }

  it('gives up on a slow classifier after its 1.5 s timeout and still succeeds', async () => {
    mock.script({ kind: 'classifier', behavior: { type: 'label', label: 'code', delayMs: 4000 } });
    const started = performance.now();
    const res = await dispatch({ model: 'ainfera-auto', messages: msg('Hi') });
    const elapsed = performance.now() - started;
    expect(res.data.dispatchInference.inference).toMatchObject({ status: 'SUCCEEDED', taskType: 'GENERAL', taskTypeSource: 'DEFAULT' });
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(1500 + 1000);
  });

  it('replays an idempotent request without calling the provider again', async () => {
    const input = { model: 'ainfera-auto', taskType: 'CHAT', messages: msg('once only'), idempotencyKey: 'order-42' };
    const first = await dispatch(input);
    const second = await dispatch(input);
    expect(first.data.dispatchInference.replayed).toBe(false);
    expect(second.data.dispatchInference.replayed).toBe(true);
    expect(second.data.dispatchInference.inference).toEqual(first.data.dispatchInference.inference);
    expect(mock.callCount()).toBe(1);
    expect((await events()).length).toBe(1);
    // Absent and null fields fingerprint alike.
    const third = await dispatch({ ...input, system: null, constraints: null });
    expect(third.data.dispatchInference.replayed).toBe(true);

    const reused = await dispatch({ ...input, messages: msg('something else') });
    expect(reused.errors?.[0].extensions?.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(mock.callCount()).toBe(1);
  });

  it('makes one provider call, one row and one audit event for 20 concurrent identical requests', async () => {
    mock.script({ kind: 'completion', behavior: { type: 'ok', delayMs: 150 } });
    const input = { model: 'ainfera-auto', taskType: 'CHAT', messages: msg('concurrent'), idempotencyKey: 'burst-1' };
    const results = await Promise.all(Array.from({ length: 20 }, () => dispatch(input)));
    expect(mock.callCount()).toBe(1);
    const ok = results.filter((r) => !r.errors);
    const inProgress = results.filter((r) => r.errors?.[0].extensions?.code === 'IDEMPOTENCY_IN_PROGRESS');
    expect(ok.length + inProgress.length).toBe(20);
    expect(ok.filter((r) => !r.data.dispatchInference.replayed).length).toBe(1);
    const ids = new Set(ok.map((r) => r.data.dispatchInference.inference.id));
    expect(ids.size).toBe(1);
    expect((await t.sql(`select count(*)::int as n from inference where tenant_id = $1`, [tenant.tenantId]))[0].n).toBe(1);
    expect((await events()).length).toBe(1);
    // After the first finishes, everyone gets the replay.
    const after = await dispatch(input);
    expect(after.data.dispatchInference).toMatchObject({ replayed: true, inference: { id: [...ids][0] } });
    expect(mock.callCount()).toBe(1);
  });

  it('takes over a pending claim left by a crash once its lease lapses', async () => {
    const input = { model: 'ainfera-auto', taskType: 'CHAT', messages: msg('crashed'), idempotencyKey: 'crash-1' };
    // Simulate a crash: a pending row whose lease has run out, and no audit event.
    mock.script({ kind: 'completion', behavior: { type: 'ok', delayMs: 300 } });
    const running = dispatch(input);
    await new Promise((r) => setTimeout(r, 100));
    const busy = await dispatch(input);
    expect(busy.errors?.[0].extensions).toMatchObject({ code: 'IDEMPOTENCY_IN_PROGRESS', retryable: true });
    await running;
    mock.reset();
    const stale = await t.sql(
      `insert into inference (id, created_at, tenant_id, agent_id, requested_model, routing_mode, status, request_payload, request_hash, idempotency_key, lease_expires_at)
       select gen_random_uuid(), now() - interval '10 minutes', tenant_id, agent_id, requested_model, routing_mode, 'pending', request_payload, request_hash, 'crash-2', now() - interval '1 minute'
       from inference where tenant_id = $1 limit 1 returning id`,
      [tenant.tenantId],
    );
    expect(stale.length).toBe(1);
    const retried = await dispatch({ ...input, idempotencyKey: 'crash-2' });
    expect(retried.errors).toBeUndefined();
    expect(retried.data.dispatchInference.replayed).toBe(false);
    expect(mock.callCount()).toBe(1);
    const again = await dispatch({ ...input, idempotencyKey: 'crash-2' });
    expect(again.data.dispatchInference.replayed).toBe(true);
    expect(mock.callCount()).toBe(1);
  });

  it('falls back to the next candidate on 5xx and on timeout in auto mode, recording every attempt', async () => {
    mock.script({ model: 'claude-haiku-4-5', behavior: { type: 'status', status: 503 } });
    const res = await dispatch({ model: 'ainfera-auto', taskType: 'CHAT', messages: msg('fallback please') });
    const inf = res.data.dispatchInference.inference;
    expect(inf.model.slug).toBe('gpt-4.1-mini');
    expect(inf.provider.slug).toBe('openai');
    expect(inf.attempts.map((a: { model: string; outcome: string }) => [a.model, a.outcome])).toEqual([
      ['claude-haiku-4-5', 'server_error'],
      ['gpt-4.1-mini', 'succeeded'],
    ]);

    mock.reset();
    mock.script({ model: 'claude-haiku-4-5', behavior: { type: 'hang' } });
    const res2 = await dispatch({ model: 'ainfera-auto', taskType: 'CHAT', messages: msg('slow one') });
    const inf2 = res2.data.dispatchInference.inference;
    expect(inf2.attempts.map((a: { outcome: string }) => a.outcome)).toEqual(['timeout', 'succeeded']);
    expect(inf2.attempts[0].latencyMs).toBeGreaterThanOrEqual(650);
    const [event] = (await events()).slice(-1);
    expect(event.payload.attempts.map((a: { outcome: string }) => a.outcome)).toEqual(['timeout', 'succeeded']);
    expect(event.payload.model).toBe('gpt-4.1-mini');
    expect(event.payload.provider).toBe('openai');
  });

  it('never substitutes in direct mode and reports UPSTREAM_UNAVAILABLE with the failed inference', async () => {
    mock.script({ model: 'claude-haiku-4-5', behavior: { type: 'status', status: 500 } });
    const res = await dispatch({ model: 'claude-haiku-4-5', taskType: 'CHAT', messages: msg('direct') });
    expect(res.errors?.[0].extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    const id = res.errors?.[0].extensions?.inferenceId;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(mock.callCount({ kind: 'completion' })).toBe(1);
    const read = await t.gql(`query($id: ID!) { inference(id: $id) { status model { slug } provider { slug } routingMode taskType cell policyVersion attempts { model outcome } error { code } } }`, { id }, tenant.agentKey);
    expect(read.data.inference).toMatchObject({ status: 'FAILED', model: null, provider: null, routingMode: 'DIRECT', taskType: 'CHAT', cell: 'chat/open', attempts: [{ model: 'claude-haiku-4-5', outcome: 'server_error' }], error: { code: 'UPSTREAM_UNAVAILABLE' } });
    const [event] = await events();
    expect(event.type).toBe('inference.failed');
    expect(event.payload).toMatchObject({ inferenceId: id, model: null, provider: null, taskType: 'chat', cell: 'chat/open' });
  });

  it('excludes models whose worst-case cost exceeds maxCostUsd, and fails with NO_ELIGIBLE_MODEL when none fits', async () => {
    const res = await dispatch({ model: 'ainfera-auto', taskType: 'CODE', maxTokens: 100, constraints: { maxCostUsd: 0.001 }, messages: msg('cheap code') });
    const inf = res.data.dispatchInference.inference;
    expect(inf).toMatchObject({ cell: 'code/cheap', constraintBand: 'CHEAP', model: { slug: 'gpt-4.1' } });
    expect(inf.attempts.map((a: { model: string }) => a.model)).toEqual(['gpt-4.1']); // sonnet's worst case is $0.0015

    const none = await dispatch({ model: 'ainfera-auto', taskType: 'CODE', maxTokens: 100, constraints: { maxCostUsd: 0.00001 }, messages: msg('too cheap'), idempotencyKey: 'nope-1' });
    expect(none.errors?.[0].extensions?.code).toBe('NO_ELIGIBLE_MODEL');
    // Nothing half-written: no row for the failed request, and its key is free again.
    expect((await t.sql(`select count(*)::int as n from inference where tenant_id = $1`, [tenant.tenantId]))[0].n).toBe(1);
  });

  it('computes bands and cells from the constraints', async () => {
    const cases = [
      [{ maxLatencyMs: 2000 }, 'FAST', 'chat/fast'],
      [{ maxLatencyMs: 2001 }, 'OPEN', 'chat/open'],
      [{ maxCostUsd: 0.01 }, 'CHEAP', 'chat/cheap'],
      [{ maxLatencyMs: 1500, maxCostUsd: 0.005 }, 'TIGHT', 'chat/tight'],
    ] as const;
    for (const [constraints, band, cell] of cases) {
      const res = await dispatch({ model: 'ainfera-auto', taskType: 'CHAT', constraints, messages: msg('band') });
      expect(res.errors).toBeUndefined();
      expect(res.data.dispatchInference.inference).toMatchObject({ constraintBand: band, cell });
    }
  });

  it('records identical §16 values on the row and the audit event, and the chain verifies', async () => {
    mock.script({ kind: 'classifier', behavior: { type: 'label', label: 'extraction' } });
    const ids: string[] = [];
    for (const input of [
      { model: 'ainfera-auto', messages: msg('Extract the dates') },
      { model: 'gpt-4.1', taskType: 'TRANSLATION', constraints: { maxLatencyMs: 900 }, messages: msg('Bonjour') },
      { model: 'ainfera-auto', taskType: 'REASONING', constraints: { maxLatencyMs: 1000, maxCostUsd: 0.01 }, messages: msg('Why?') },
    ]) {
      const res = await dispatch(input);
      expect(res.errors).toBeUndefined();
      ids.push(res.data.dispatchInference.inference.id);
    }
    const evs = await events();
    expect(evs.map((e) => e.seq)).toEqual([1, 2, 3]);
    for (const [i, id] of ids.entries()) {
      const r = await row(id);
      const p = evs[i].payload;
      expect(evs[i].type).toBe('inference.routed');
      expect(p).toMatchObject({ inferenceId: id, taskType: r.task_type, taskTypeSource: r.task_type_source, policyVersion: r.policy_version, cell: r.cell, constraintBand: r.constraint_band, requestHash: r.request_hash });
      expect(p.costUsd).toMatch(/^\d+(\.\d+)?$/);
      expect(JSON.stringify(p)).not.toMatch(/Extract the dates|Bonjour|Why\?/);
    }
    expect((await row(ids[1])).routing_mode).toBe('direct');
    expect((await row(ids[1])).task_type_source).toBe('caller');
    expect((await row(ids[0])).task_type_source).toBe('classifier');
    const result = await verifyEvents(
      evs.map((e) => ({ v: e.v, chain: e.chain, seq: e.seq, type: e.type, occurredAt: e.occurred_at, payload: e.payload, prevHash: e.prev_hash, hash: e.hash })),
      { chain: tenant.tenantId },
    );
    expect(result).toMatchObject({ valid: true, checked: 3 });
    const api = await t.gql(`{ auditChain { chain length headHash verify { valid checked firstInvalidSeq reason } } }`, undefined, tenant.userKey);
    expect(api.data.auditChain).toEqual({ chain: tenant.tenantId, length: 3, headHash: evs[2].hash, verify: { valid: true, checked: 3, firstInvalidSeq: null, reason: null } });
  });

  it('rejects unknown models, unconfigured providers and bad input before writing anything', async () => {
    const unknown = await dispatch({ model: 'gpt-9', messages: msg('x') });
    expect(unknown.errors?.[0].extensions?.code).toBe('MODEL_NOT_FOUND');
    const unconfigured = await dispatch({ model: 'sim-small', messages: msg('x') });
    expect(unconfigured.errors?.[0].extensions?.code).toBe('PROVIDER_NOT_CONFIGURED');
    for (const [input, field] of [
      [{ model: 'ainfera-auto', messages: [] }, 'input.messages'],
      [{ model: 'ainfera-auto', messages: msg('x'), maxTokens: 0 }, 'input.maxTokens'],
      [{ model: 'ainfera-auto', messages: msg('x'), temperature: 2.5 }, 'input.temperature'],
      [{ model: 'ainfera-auto', messages: msg('x'), idempotencyKey: 'has space' }, 'input.idempotencyKey'],
      [{ model: 'ainfera-auto', messages: msg('x'), constraints: { maxCostUsd: -1 } }, 'input.constraints.maxCostUsd'],
      [{ model: 'ainfera-auto', messages: msg('x'), metadata: { blob: 'x'.repeat(17_000) } }, 'input.metadata'],
    ] as const) {
      const res = await dispatch(input);
      expect(res.errors?.[0].extensions, JSON.stringify(res.errors)).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(res.errors?.[0].message).toContain(field);
    }
    const badEnum = await dispatch({ model: 'ainfera-auto', taskType: 'POETRY', messages: msg('x') });
    expect(badEnum.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(mock.callCount()).toBe(0);
    expect((await t.sql(`select count(*)::int as n from inference where tenant_id = $1`, [tenant.tenantId]))[0].n).toBe(0);
    expect((await events()).length).toBe(0);
  });

  it('lets admin keys dispatch for their agents, and forbids member keys', async () => {
    const withUserKey = await dispatch({ model: 'ainfera-auto', taskType: 'CHAT', messages: msg('x') }, tenant.userKey);
    expect(withUserKey.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.agentId' });
    const ok = await dispatch({ model: 'ainfera-auto', taskType: 'CHAT', agentId: tenant.agentId, messages: msg('x') }, tenant.userKey);
    expect(ok.data.dispatchInference.inference.agent.id).toBe(tenant.agentId);
    const other = await t.newTenant();
    const foreign = await dispatch({ model: 'ainfera-auto', taskType: 'CHAT', agentId: other.agentId, messages: msg('x') }, tenant.userKey);
    expect(foreign.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const key = generateApiKey();
    await t.sql(`insert into api_key (id, created_at, tenant_id, user_id, role, prefix, secret_hash) values (gen_random_uuid(), now(), $1, $2, 'member', $3, $4)`, [tenant.tenantId, tenant.userId, key.prefix, key.hash]);
    const member = await dispatch({ model: 'ainfera-auto', taskType: 'CHAT', agentId: tenant.agentId, messages: msg('x') }, key.secret);
    expect(member.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it('publishes routing policies (admin only), validates them, and routes by the active one', async () => {
    const PUBLISH = `mutation P($r: JSON!) { publishRoutingPolicy(input: { ruleset: $r }) { id policyVersion rulesetHash active isPlatformDefault } }`;
    const ruleset = {
      rules: [{ when: { taskTypes: ['code', 'reasoning'], bands: ['fast', 'tight'] }, route: ['claude-haiku-4-5', 'gpt-4.1-mini'] }, { when: { taskTypes: ['code', 'reasoning'] }, route: ['claude-sonnet-4-5', 'gpt-4.1'] }],
      fallback: ['claude-haiku-4-5', 'gpt-4.1-mini'],
    };
    const asAgent = await t.gql(PUBLISH, { r: ruleset }, tenant.agentKey);
    expect(asAgent.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const invalid = await t.gql(PUBLISH, { r: { rules: [{ when: { taskTypes: ['poetry'] }, route: ['gpt-9'] }], fallback: [] } }, tenant.userKey);
    expect(invalid.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(invalid.errors?.[0].message).toMatch(/poetry/);
    expect(invalid.errors?.[0].message).toMatch(/gpt-9/);

    const published = await t.gql(PUBLISH, { r: ruleset }, tenant.userKey);
    expect(published.data.publishRoutingPolicy).toMatchObject({ policyVersion: 'pv-32cbd4078a24', rulesetHash: '32cbd4078a24b136c8acd0bff4cf0926902f506c9143921ab284ce63892c3dbe', active: true, isPlatformDefault: false });
    const second = await t.gql(PUBLISH, { r: { ...ruleset, fallback: ['gpt-4.1-mini'] } }, tenant.userKey);
    expect(second.data.publishRoutingPolicy.policyVersion).not.toBe('pv-32cbd4078a24');
    const active = await t.gql(`{ activeRoutingPolicy { id policyVersion active } }`, undefined, tenant.agentKey);
    expect(active.data.activeRoutingPolicy).toEqual({ id: second.data.publishRoutingPolicy.id, policyVersion: second.data.publishRoutingPolicy.policyVersion, active: true });
    expect((await t.sql(`select count(*)::int as n from routing_policy where tenant_id = $1 and active`, [tenant.tenantId]))[0].n).toBe(1);

    const res = await dispatch({ model: 'ainfera-auto', taskType: 'CHAT', messages: msg('route me') });
    expect(res.data.dispatchInference.inference).toMatchObject({ policyVersion: second.data.publishRoutingPolicy.policyVersion, model: { slug: 'gpt-4.1-mini' } });
  });
});
