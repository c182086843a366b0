import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import canonicalize from 'canonicalize';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp, uniqueSlug } from '../support/app.js';
import { cleanEnv, ROOT, type Run, run } from '../support/process.js';

const CLI = path.join(ROOT, 'src/cli/admin.ts');

const DISPATCH = /* GraphQL */ `
  mutation Dispatch($input: DispatchInferenceInput!) {
    dispatchInference(input: $input) { inference { id status agent { id } provider { slug } } }
  }
`;
const VIEWER = `{ viewer { role tenant { slug } user { handle } agent { id } } }`;
const hello = { model: 'ainfera-auto', taskType: 'CHAT', messages: [{ role: 'USER', content: 'Hello' }] };

// Each command is a fresh Node process (≈1 s, more on a busy machine): generous timeouts.
describe('admin CLI', { timeout: 120_000 }, () => {
  let t: TestApp;
  let admin: (...args: string[]) => Promise<Run>;
  /** Run a command that must succeed and print one JSON document. */
  let ok: <T = any>(...args: string[]) => Promise<T>;

  beforeAll(async () => {
    t = await startTestApp();
    admin = (...args) => run(process.execPath, ['--import', 'tsx', CLI, ...args], cleanEnv({ NODE_ENV: 'test', DATABASE_URL: t.dbUrl, DATA_DIR: t.dataDir }));
    ok = async (...args) => {
      const r = await admin(...args);
      expect(r.stderr, `${args.join(' ')}: stderr`).toBe('');
      expect(r.code, `${args.join(' ')}: exit code`).toBe(0);
      return JSON.parse(r.stdout);
    };
  });
  afterAll(async () => {
    await t?.stop();
  });

  /** stderr of a failed command: one JSON object with a readable `error`. */
  function failure(r: Run, code: number): { error: string; usage?: string[]; problems?: string[] } {
    expect(r.code).toBe(code);
    expect(r.stdout).toBe('');
    const body = JSON.parse(r.stderr);
    expect(typeof body.error).toBe('string');
    return body;
  }

  it('round-trips a tenant from creation to a dispatch with its agent key (npm run admin)', async () => {
    const slug = uniqueSlug('cli');
    const owner = `own-${slug.slice(-5)}`;
    const r = await run('npm', ['run', '--silent', 'admin', '--', 'create-tenant', '--slug', slug, '--owner', owner], cleanEnv({ NODE_ENV: 'test', DATABASE_URL: t.dbUrl, DATA_DIR: t.dataDir }));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const keys = JSON.parse(r.stdout);
    // The demo-keys.json shape.
    expect(Object.keys(keys).sort()).toEqual(['agentId', 'agentKey', 'tenant', 'tenantId', 'userHandle', 'userId', 'userKey']);
    expect(keys).toMatchObject({ tenant: slug, userHandle: owner });

    const viewer = await t.gql(VIEWER, undefined, keys.userKey);
    expect(viewer.data.viewer).toMatchObject({ role: 'ADMIN', tenant: { slug }, user: { handle: owner } });
    const dispatched = await t.gql(DISPATCH, { input: hello }, keys.agentKey);
    expect(dispatched.errors).toBeUndefined();
    expect(dispatched.data.dispatchInference.inference).toMatchObject({ status: 'SUCCEEDED', agent: { id: keys.agentId }, provider: { slug: 'simulator' } });
    const [row] = await t.sql(`select tenant_id, agent_id from inference where id = $1`, [dispatched.data.dispatchInference.inference.id]);
    expect(row).toEqual({ tenant_id: keys.tenantId, agent_id: keys.agentId });

    const verified = await ok('verify-chain', '--tenant', slug);
    expect(verified).toEqual({ tenant: slug, chain: keys.tenantId, valid: true, checked: 1, firstInvalidSeq: null, reason: null });
  });

  it('adds users, agents and keys that authenticate with the right role', async () => {
    const tenant = await t.newTenant();

    const member = await ok('create-user', '--tenant', tenant.tenant, '--handle', `m-${Date.now()}`);
    expect(member).toMatchObject({ tenant: tenant.tenant, tenantId: tenant.tenantId, role: 'member' });
    expect(member.userKey).toMatch(/^ainf_/);
    expect(member.userKey.startsWith(member.keyPrefix)).toBe(true);
    expect((await t.gql(VIEWER, undefined, member.userKey)).data.viewer).toMatchObject({ role: 'MEMBER', tenant: { slug: tenant.tenant }, user: { handle: member.userHandle } });
    expect((await t.gql(DISPATCH, { input: { ...hello, agentId: tenant.agentId } }, member.userKey)).errors?.[0].extensions?.code).toBe('FORBIDDEN');

    const agent = await ok('create-agent', '--tenant', tenant.tenant, '--owner', member.userHandle, '--name', 'nightly-batch');
    expect(agent).toMatchObject({ tenant: tenant.tenant, agentName: 'nightly-batch', ownerHandle: member.userHandle });
    const dispatched = await t.gql(DISPATCH, { input: hello }, agent.agentKey);
    expect(dispatched.data.dispatchInference.inference.agent.id).toBe(agent.agentId);
    const owned = await t.gql(`query($h: String!) { user(handle: $h) { agents { id name } } }`, { h: member.userHandle }, tenant.userKey);
    expect(owned.data.user.agents).toEqual([{ id: agent.agentId, name: 'nightly-batch' }]);

    const adminKey = await ok('create-key', '--tenant', tenant.tenant, '--user', member.userHandle, '--role', 'admin');
    expect(adminKey).toMatchObject({ role: 'admin', userHandle: member.userHandle, agentId: null });
    expect((await t.gql(VIEWER, undefined, adminKey.key)).data.viewer.role).toBe('ADMIN');

    const agentKey = await ok('create-key', '--tenant', tenant.tenant, '--agent', agent.agentId);
    expect(agentKey).toMatchObject({ role: 'agent', agentId: agent.agentId, userHandle: null });
    expect((await t.gql(VIEWER, undefined, agentKey.key)).data.viewer).toMatchObject({ role: 'AGENT', agent: { id: agent.agentId } });

    // Another tenant's agent is out of reach.
    expect(failure(await admin('create-key', '--tenant', tenant.tenant, '--agent', t.keys.agentId), 1).error).toBe(`Tenant "${tenant.tenant}" has no agent ${t.keys.agentId}.`);

    const listed = (await ok<Array<Record<string, unknown>>>('list-tenants')).find((x) => x.slug === tenant.tenant);
    expect(listed).toMatchObject({ id: tenant.tenantId, users: 2, agents: 2, activeKeys: 6 });
  });

  it('revokes keys by id or prefix: they stop authenticating at once, other keys keep working', async () => {
    const tenant = await t.newTenant();
    const second = await ok('create-key', '--tenant', tenant.tenant, '--agent', tenant.agentId);
    expect((await t.gql(VIEWER, undefined, second.key)).data.viewer.role).toBe('AGENT');

    const byId = await ok('revoke-key', '--key-id', second.keyId);
    expect(byId).toMatchObject({ keyId: second.keyId, keyPrefix: second.keyPrefix, tenant: tenant.tenant, role: 'agent', agentId: tenant.agentId, alreadyRevoked: false });
    const denied = await t.gql(DISPATCH, { input: hello }, second.key);
    expect(denied.status).toBe(401);
    expect(denied.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect((await t.gql(DISPATCH, { input: hello }, tenant.agentKey)).errors).toBeUndefined();

    const byPrefix = await ok('revoke-key', '--prefix', tenant.userKey.slice(0, 12));
    expect(byPrefix).toMatchObject({ tenant: tenant.tenant, role: 'admin', userHandle: tenant.userHandle, alreadyRevoked: false });
    expect((await t.gql(VIEWER, undefined, tenant.userKey)).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');

    // Idempotent: a second revoke reports the first revocation.
    expect(await ok('revoke-key', '--key-id', second.keyId)).toMatchObject({ alreadyRevoked: true, revokedAt: byId.revokedAt });
    expect(failure(await admin('revoke-key', '--prefix', 'ainf_nothere'), 1).error).toBe('No API key with prefix "ainf_nothere".');
    expect(failure(await admin('revoke-key'), 1).error).toBe('Give exactly one of --key-id <id> or --prefix <prefix>.');
  });

  it('verifies and exports the audit chain, one event per line exactly as hashed', async () => {
    const tenant = await t.newTenant();
    for (let i = 0; i < 3; i++) expect((await t.gql(DISPATCH, { input: { ...hello, messages: [{ role: 'USER', content: `n${i}` }] } }, tenant.agentKey)).errors).toBeUndefined();

    const exported = await admin('export-chain', '--tenant', tenant.tenant);
    expect(exported.code).toBe(0);
    expect(exported.stderr).toBe('');
    expect(exported.stdout.endsWith('\n')).toBe(true);
    const events = exported.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    // An independent verifier: a few lines of JCS + SHA-256 over the exported fields alone.
    let prev = '0'.repeat(64);
    for (const e of events) {
      expect(Object.keys(e)).toEqual(['v', 'chain', 'seq', 'type', 'occurredAt', 'payload', 'prevHash', 'hash']);
      const { hash, ...envelope } = e;
      expect(envelope.chain).toBe(tenant.tenantId);
      expect(envelope.prevHash).toBe(prev);
      expect(createHash('sha256').update(canonicalize(envelope)!, 'utf8').digest('hex')).toBe(hash);
      prev = hash;
    }
    // The same events the API serves.
    const api = await t.gql(`{ auditChain { events(first: 10) { v seq type occurredAt payload prevHash hash } } }`, undefined, tenant.userKey);
    expect(api.data.auditChain.events).toEqual(events.map(({ chain: _chain, ...rest }) => rest));

    expect(await ok('verify-chain', '--tenant', tenant.tenant)).toMatchObject({ valid: true, checked: 3 });
    // A checkpoint signed by the server (same signing key, same DATA_DIR) is checked by the CLI.
    const cp = (await t.gql(`{ auditChain { checkpoint { chain seq hash signedAt signature keyId } } }`, undefined, tenant.userKey)).data.auditChain.checkpoint;
    const cpFile = path.join(t.dataDir, 'checkpoint.json');
    fs.writeFileSync(cpFile, JSON.stringify(cp));
    expect(await ok('verify-chain', '--tenant', tenant.tenant, '--checkpoint', cpFile)).toMatchObject({ valid: true, checkpoint: { valid: true, signatureValid: true, extendsCheckpoint: true } });
    expect(await ok('checkpoint', '--tenant', tenant.tenant)).toMatchObject({ chain: tenant.tenantId, seq: 3, hash: cp.hash, keyId: cp.keyId });
    // Tampering (the database refuses updates, so bypass its triggers) makes verify-chain fail with exit 1.
    const tamper = new pg.Client({ connectionString: t.dbUrl });
    await tamper.connect();
    try {
      await tamper.query(`set session_replication_role = replica`);
      await tamper.query(`update audit_event set payload = jsonb_set(payload::jsonb, '{costUsd}', '"9.99"')::json where chain = $1 and seq = 2`, [tenant.tenantId]);
    } finally {
      await tamper.end();
    }
    const bad = await admin('verify-chain', '--tenant', tenant.tenant);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ tenant: tenant.tenant, valid: false, checked: 1, firstInvalidSeq: 2 });
    const badCp = await admin('verify-chain', '--tenant', tenant.tenant, '--checkpoint', cpFile);
    expect(badCp.code).toBe(1);
    expect(JSON.parse(badCp.stdout)).toMatchObject({ valid: false, checkpoint: { valid: false, signatureValid: true } });
  });

  it('reports usage and operation errors readably on stderr, with exit codes 2 and 1', async () => {
    const [unknown, missing, extra, none, help] = await Promise.all([admin('frobnicate'), admin('create-tenant', '--slug', 'x-y'), admin('list-tenants', '--all', 'yes'), admin(), admin('help')]);
    const u = failure(unknown, 2);
    expect(u.error).toBe('Unknown command "frobnicate".');
    for (const c of ['create-tenant', 'create-user', 'create-agent', 'create-key', 'revoke-key', 'list-tenants', 'verify-chain', 'export-chain']) expect(u.usage!.join('\n')).toContain(c);
    expect(failure(missing, 2)).toMatchObject({ error: 'create-tenant: missing --owner.', usage: [expect.stringContaining('create-tenant --slug <slug> --owner <handle>')] });
    expect(failure(extra, 2).error).toMatch(/^list-tenants: Unknown option '--all'/);
    expect(failure(none, 2).error).toBe('No command given.');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('create-tenant --slug <slug> --owner <handle>');

    const taken = await t.newTenant();
    const [dupSlug, dupHandle, noTenant, badRole, badSlug, badAgent] = await Promise.all([
      admin('create-tenant', '--slug', taken.tenant, '--owner', `e-${Date.now()}`),
      admin('create-user', '--tenant', taken.tenant, '--handle', taken.userHandle),
      admin('verify-chain', '--tenant', 'no-such-tenant'),
      admin('create-user', '--tenant', taken.tenant, '--handle', `f-${Date.now()}`, '--role', 'agent'),
      admin('create-tenant', '--slug', 'Bad Slug!', '--owner', 'someone'),
      admin('create-agent', '--tenant', taken.tenant, '--owner', 'nobody-here'),
    ]);
    expect(failure(dupSlug, 1).error).toBe(`A tenant with slug "${taken.tenant}" already exists.`);
    expect(failure(dupHandle, 1).error).toBe(`The handle "${taken.userHandle}" is taken.`);
    expect(failure(noTenant, 1).error).toBe('No tenant with slug "no-such-tenant".');
    expect(failure(badRole, 1).error).toBe('--role: "agent" must be admin or member.');
    expect(failure(badSlug, 1).error).toMatch(/^--slug: "Bad Slug!" must be/);
    expect(failure(badAgent, 1).error).toBe(`Tenant "${taken.tenant}" has no user with handle "nobody-here".`);

    const env = (extra: Record<string, string>) => run(process.execPath, ['--import', 'tsx', CLI, 'list-tenants'], cleanEnv({ NODE_ENV: 'test', ...extra }));
    const [badEnv, unreachable] = await Promise.all([env({ DATABASE_URL: 'mysql://nope' }), env({ DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/none' })]);
    expect(failure(badEnv, 1)).toMatchObject({ error: 'Invalid configuration.', problems: [expect.stringContaining('DATABASE_URL')] });
    expect(failure(unreachable, 1).error).toMatch(/^list-tenants failed: /);
  });
});
