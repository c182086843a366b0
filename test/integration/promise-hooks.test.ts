/**
 * Nothing the server does turns on Node's promise hooks. On Node 20 the first AsyncLocalStorage
 * to run (MikroORM runs one around em.transactional() and every flush; a request-scoped log
 * context would be another) keeps async_hooks promise hooks on for every promise of the process
 * for the rest of its life — a third of a `{ __typename }` request's CPU in the benchmark. So the
 * server writes with src/db/transaction.ts and carries request state explicitly; this test runs
 * every kind of in-process write and request and checks the hooks are still off.
 */
import { executionAsyncId } from 'node:async_hooks';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAgent, createKey, createUser, revokeKey } from '../../src/modules/tenancy/tenancy.service.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase } from '../support/database.js';

/** With promise hooks on, every promise gets an async id of its own; with them off, both awaits resume under the same one. */
async function promiseHooksOn(): Promise<boolean> {
  const probe = async () => {
    await null;
    return executionAsyncId();
  };
  return (await probe()) !== (await probe());
}

let t: TestApp;
const hooksBefore = { on: true };

beforeAll(async () => {
  hooksBefore.on = await promiseHooksOn();
  // An empty database, so this process also runs every migration and the catalog upsert at start.
  t = await startTestApp({ dbUrl: await createTestDatabase(inject('pgUrl'), { empty: true }) });
}, 60_000);

afterAll(async () => {
  await t?.stop();
});

describe('promise hooks', () => {
  it('stay off through start, migrations, tenancy writes, policy publishes, dispatches, reads and failed requests', async () => {
    // The probe works here: off before anything ran, and it does see hooks turned on.
    expect(hooksBefore.on).toBe(false);

    const em = t.app.deps.orm.em.fork();
    const tenant = t.keys.tenant;
    const user = await createUser(em, { tenant, handle: `${t.keys.userHandle.slice(0, 30)}-2`, role: 'admin' });
    const agent = await createAgent(em, { tenant, ownerHandle: user.userHandle });
    const key = await createKey(em, { tenant, agentId: agent.agentId });
    await revokeKey(em, { keyId: key.keyId });
    await t.newTenant();

    const ruleset = { rules: [{ when: { taskTypes: ['chat'] }, route: ['sim-small'] }], fallback: ['sim-large'] };
    const published = await t.gql(`mutation P($r: JSON!) { publishRoutingPolicy(input: { ruleset: $r }) { policyVersion } }`, { r: ruleset }, t.keys.userKey);
    expect(published.errors).toBeUndefined();
    const dispatched = await t.gql(
      `mutation D($input: DispatchInferenceInput!) { dispatchInference(input: $input) { inference { id status } } }`,
      { input: { model: 'ainfera-auto', taskType: 'CHAT', idempotencyKey: 'hooks-1', messages: [{ role: 'USER', content: 'hello' }] } },
    );
    expect(dispatched.data?.dispatchInference.inference.status).toBe('SUCCEEDED');
    const page = await t.gql(`{ inferences(first: 10) { nodes { id model { slug } agent { id } } } }`, undefined, t.keys.userKey);
    expect(page.data.inferences.nodes).toHaveLength(1);
    const verified = await t.gql(`{ auditChain { verify { valid } } }`, undefined, t.keys.userKey);
    expect(verified.data.auditChain.verify.valid).toBe(true);
    expect((await t.gql('{ __typename }', undefined, key.key)).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect((await t.gql('{ nope }')).errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');

    expect(await promiseHooksOn()).toBe(false);

    // And the probe is not blind: one MikroORM unit-of-work flush turns them on for good.
    await em.fork().transactional(async () => {});
    expect(await promiseHooksOn()).toBe(true);
  });
});
