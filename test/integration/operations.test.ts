import fs from 'node:fs';
import { buildClientSchema, getIntrospectionQuery, type IntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTRACT_PATH, printContract } from '../../scripts/schema-contract.js';
import type {
  AuditChainQuery,
  AuditChainQueryVariables,
  CellCoverageQuery,
  CellCoverageQueryVariables,
  DispatchInferenceInput,
  DispatchInferenceMutation,
  DispatchInferenceMutationVariables,
  InferenceDetailQuery,
  InferenceDetailQueryVariables,
  InferenceListQuery,
  InferenceListQueryVariables,
  PolicyViewsQuery,
  ViewerQuery,
} from '../../src/__generated__/operations.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { operation, operationNames } from '../support/operations.js';

// The client operations of operations/, sent verbatim to a real server: the gateway dispatches, the dashboard reads back.
let t: TestApp;
const ran = new Set<string>();

/** Run a named client operation; any GraphQL error fails the test. */
async function run<TData, TVars extends Record<string, unknown> = Record<string, never>>(name: string, variables: TVars, key: string): Promise<TData> {
  ran.add(name);
  const res = await t.gql<TData>(operation(name), variables, key);
  expect(res.errors, `${name} returned errors`).toBeUndefined();
  expect(res.status).toBe(200);
  return res.data;
}

const HEX64 = /^[0-9a-f]{64}$/;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.stop();
});

describe('client operations (operations/**) against the real server', () => {
  let chat: DispatchInferenceMutation['dispatchInference']['inference'];
  let code: DispatchInferenceMutation['dispatchInference']['inference'];

  it('gateway: DispatchInference routes, records and replays', async () => {
    const input: DispatchInferenceInput = { model: 'sim-small', taskType: 'CHAT', messages: [{ role: 'USER', content: 'Say hello.' }], idempotencyKey: 'ops-chat-1' };
    const first = await run<DispatchInferenceMutation, DispatchInferenceMutationVariables>('DispatchInference', { input }, t.keys.agentKey);
    expect(first.dispatchInference.replayed).toBe(false);
    chat = first.dispatchInference.inference;
    expect(chat).toMatchObject({
      status: 'SUCCEEDED',
      requestedModel: 'sim-small',
      routingMode: 'DIRECT',
      model: { slug: 'sim-small' },
      provider: { slug: 'simulator' },
      taskType: 'CHAT',
      taskTypeSource: 'CALLER',
      cell: 'chat/open',
      constraintBand: 'OPEN',
      error: null,
    });
    expect(chat.policyVersion).toMatch(/^pv-[0-9a-f]{12}$/);
    expect(chat.outputText).toBeTruthy();
    expect(chat.usage!.inputTokens).toBeGreaterThan(0);
    expect(chat.usage!.outputTokens).toBeGreaterThan(0);
    expect(chat.costUsd).toMatch(/^\d+(\.\d+)?$/);
    expect(new Date(chat.createdAt).toISOString()).toBe(chat.createdAt);

    const replay = await run<DispatchInferenceMutation, DispatchInferenceMutationVariables>('DispatchInference', { input }, t.keys.agentKey);
    expect(replay.dispatchInference).toEqual({ replayed: true, inference: chat });

    const second = await run<DispatchInferenceMutation, DispatchInferenceMutationVariables>(
      'DispatchInference',
      { input: { model: 'sim-small', taskType: 'CODE', constraints: { maxLatencyMs: 1500 }, messages: [{ role: 'USER', content: 'fizzbuzz in TS' }] } },
      t.keys.agentKey,
    );
    code = second.dispatchInference.inference;
    expect(code).toMatchObject({ status: 'SUCCEEDED', taskType: 'CODE', cell: 'code/fast', constraintBand: 'FAST' });
  });

  it('dashboard: InferenceDetail reads an inference back, and null for an unknown id', async () => {
    const { inference } = await run<InferenceDetailQuery, InferenceDetailQueryVariables>('InferenceDetail', { id: chat.id }, t.keys.userKey);
    expect(inference).toMatchObject({
      id: chat.id,
      status: 'SUCCEEDED',
      routingMode: 'DIRECT',
      model: { slug: 'sim-small', upstreamName: 'sim-small' },
      provider: { slug: 'simulator', protocol: 'SIMULATOR' },
      agent: { id: t.keys.agentId, owner: { handle: t.keys.userHandle } },
      taskType: 'CHAT',
      taskTypeSource: 'CALLER',
      policyVersion: chat.policyVersion,
      cell: 'chat/open',
      constraintBand: 'OPEN',
      outputText: chat.outputText,
      usage: chat.usage,
      costUsd: chat.costUsd,
      error: null,
      createdAt: chat.createdAt,
    });
    expect(inference!.attempts).toEqual([{ model: 'sim-small', provider: 'simulator', outcome: 'succeeded', latencyMs: expect.any(Number) }]);

    const absent = await run<InferenceDetailQuery, InferenceDetailQueryVariables>('InferenceDetail', { id: '00000000-0000-4000-8000-000000000000' }, t.keys.userKey);
    expect(absent.inference).toBeNull();
  });

  it('dashboard: InferenceList pages newest first and filters', async () => {
    const page1 = await run<InferenceListQuery, InferenceListQueryVariables>('InferenceList', { first: 1 }, t.keys.userKey);
    expect(page1.inferences.edges.map((e) => e.node.id)).toEqual([code.id]);
    expect(page1.inferences.pageInfo).toEqual({ hasNextPage: true, endCursor: page1.inferences.edges[0].cursor });

    const page2 = await run<InferenceListQuery, InferenceListQueryVariables>('InferenceList', { first: 1, after: page1.inferences.pageInfo.endCursor }, t.keys.userKey);
    expect(page2.inferences.edges.map((e) => e.node.id)).toEqual([chat.id]);
    expect(page2.inferences.pageInfo.hasNextPage).toBe(false);
    expect(page2.inferences.edges[0].node).toMatchObject({ agent: { id: t.keys.agentId }, model: { slug: 'sim-small' }, provider: { slug: 'simulator' }, cell: 'chat/open' });

    const onlyCode = await run<InferenceListQuery, InferenceListQueryVariables>('InferenceList', { first: 10, filter: { taskType: 'CODE', agentId: t.keys.agentId, status: 'SUCCEEDED' } }, t.keys.userKey);
    expect(onlyCode.inferences.edges.map((e) => e.node.id)).toEqual([code.id]);
    const none = await run<InferenceListQuery, InferenceListQueryVariables>('InferenceList', { filter: { taskType: 'TRANSLATION' } }, t.keys.userKey);
    expect(none.inferences).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('dashboard: PolicyViews shows the policy the dispatches used and the catalog', async () => {
    const data = await run<PolicyViewsQuery>('PolicyViews', {}, t.keys.userKey);
    expect(data.activeRoutingPolicy).toMatchObject({ policyVersion: chat.policyVersion, active: true });
    expect(data.activeRoutingPolicy!.rulesetHash).toMatch(HEX64);
    expect(data.activeRoutingPolicy!.policyVersion).toBe(`pv-${data.activeRoutingPolicy!.rulesetHash.slice(0, 12)}`);
    expect(data.activeRoutingPolicy!.ruleset).toMatchObject({ fallback: expect.any(Array) });
    expect(data.models).toContainEqual(expect.objectContaining({ slug: 'sim-small', active: true, provider: { slug: 'simulator', configured: true } }));
  });

  it('dashboard: AuditChain shows a verified chain with one event per routed inference', async () => {
    const { auditChain } = await run<AuditChainQuery, AuditChainQueryVariables>('AuditChain', {}, t.keys.userKey);
    expect(auditChain).toMatchObject({ chain: t.keys.tenantId, length: 2, verify: { valid: true, checked: 2, firstInvalidSeq: null, reason: null } });
    const [e1, e2] = auditChain.events;
    expect(auditChain.events.map((e) => [e.seq, e.type])).toEqual([
      [1, 'inference.routed'],
      [2, 'inference.routed'],
    ]);
    expect(e1.prevHash).toBe('0'.repeat(64));
    expect(e2.prevHash).toBe(e1.hash);
    expect(auditChain.headHash).toBe(e2.hash);
    expect(e1.hash).toMatch(HEX64);
    expect(e1.payload).toMatchObject({ inferenceId: chat.id, cell: 'chat/open', policyVersion: chat.policyVersion });

    const after1 = await run<AuditChainQuery, AuditChainQueryVariables>('AuditChain', { first: 5, afterSeq: 1 }, t.keys.userKey);
    expect(after1.auditChain.events.map((e) => e.seq)).toEqual([2]);
  });

  it('dashboard: CellCoverage counts the cells the user\'s agents exercised', async () => {
    const { user } = await run<CellCoverageQuery, CellCoverageQueryVariables>('CellCoverage', { handle: t.keys.userHandle }, t.keys.userKey);
    expect(user).toMatchObject({ id: t.keys.userId, handle: t.keys.userHandle });
    // The replay is not a new inference: two inferences, two Tier-1 cells.
    expect(user!.cellCoverage.summary).toEqual({ inferences: 2, distinctCells: 2, tier1Cells: 2, tier2Cells: 0, tier1CellsPossible: 16, tier1Coverage: 2 / 16 });
    expect(user!.cellCoverage.cells).toEqual([
      { cell: 'chat/open', taskType: 'CHAT', constraintBand: 'OPEN', tier: 'TIER1', count: 1, lastSeenAt: expect.any(String) },
      { cell: 'code/fast', taskType: 'CODE', constraintBand: 'FAST', tier: 'TIER1', count: 1, lastSeenAt: expect.any(String) },
    ]);

    const later = await run<CellCoverageQuery, CellCoverageQueryVariables>('CellCoverage', { handle: t.keys.userHandle, since: new Date(Date.now() + 3_600_000).toISOString() }, t.keys.userKey);
    expect(later.user!.cellCoverage).toEqual({ summary: { inferences: 0, distinctCells: 0, tier1Cells: 0, tier2Cells: 0, tier1CellsPossible: 16, tier1Coverage: 0 }, cells: [] });
  });

  it('dashboard: Viewer identifies a user key, and an agent key', async () => {
    const asUser = await run<ViewerQuery>('Viewer', {}, t.keys.userKey);
    expect(asUser.viewer).toMatchObject({ role: 'ADMIN', tenant: { id: t.keys.tenantId, slug: t.keys.tenant }, user: { id: t.keys.userId, handle: t.keys.userHandle }, agent: null });
    expect(asUser.viewer.user!.agents.map((a) => a.id)).toContain(t.keys.agentId);

    const asAgent = await run<ViewerQuery>('Viewer', {}, t.keys.agentKey);
    expect(asAgent.viewer).toMatchObject({ role: 'AGENT', user: null, agent: { id: t.keys.agentId } });
  });

  it('ran every operation document under operations/', () => {
    expect([...ran].sort()).toEqual(operationNames());
  });
});

describe('schema/contract.graphql', () => {
  it('equals the schema the running server serves (introspection)', async () => {
    const res = await t.gql<IntrospectionQuery>(
      getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, inputValueDeprecation: true }),
      {},
      t.keys.agentKey,
    );
    expect(res.errors).toBeUndefined();
    const served = printContract(buildClientSchema(res.data));
    // On failure: the SDL changed without `npm run schema:accept` (or the server serves something the SDL does not say).
    expect(served).toBe(fs.readFileSync(CONTRACT_PATH, 'utf8'));
  });
});
