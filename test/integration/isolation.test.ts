import { randomUUID } from 'node:crypto';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  isAbstractType,
  isLeafType,
  isNonNullType,
  isObjectType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/modules/tenancy/auth.js';
import type { TenantKeys } from '../../src/modules/tenancy/tenancy.service.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { type MockProvider, startMockProvider } from '../support/mock-provider.js';

/**
 * Issue #8, tenant isolation sweep. Every query and mutation field of the *served* schema
 * (found by introspection, so new fields are covered automatically) is called by tenant B, with
 * each of its roles, carrying tenant A's ids, handles, cursors, keys and checkpoint. Everything
 * must answer as if A's objects were absent (or FORBIDDEN), and no byte of A's data may show up.
 * A root field, or a nested field with required arguments, that has no case here fails the test.
 */

const MARKER = `victim-marker-${randomUUID().slice(0, 8)}`;
const VICTIM_TEXT = `victim-output-${randomUUID()}`;
const MAX_OBJECT_DEPTH = 6;

type Role = 'agent' | 'member' | 'admin';
type Vars = Record<string, unknown>;

interface Victim extends TenantKeys {
  memberKey: string;
  revokedKey: string;
  inferenceIds: string[];
  idempotencyKey: string;
  dispatchInput: Record<string, unknown>;
  cursor: string;
  cursorAt: string;
  policyId: string;
  ruleset: unknown;
  rulesetHash: string;
  policyVersion: string;
  eventHashes: string[];
  checkpoint: Record<string, unknown>;
  secrets: string[];
}

interface Case {
  name: string;
  args: Vars;
  /** The same call with A's identifiers swapped for fresh ones: the answers must be indistinguishable. */
  control?: Vars;
  /** Extra assertions on `data` for this case and role. */
  check?: (data: any, role: Role) => void;
  /** A's values that are a pure function of what the caller sent (content hashes), so not a leak. */
  derived?: string[];
}

interface Attacker extends TenantKeys {
  memberKey: string;
}

/** Arguments for every root field. A new root field without an entry here fails the sweep. */
const ROOT_CASES: Record<string, (v: Victim, b: Attacker) => Case[]> = {
  'Query.viewer': () => [{ name: 'viewer', args: {} }],
  'Query.inference': (v) =>
    v.inferenceIds.map((id, i) => ({ name: `inference #${i} of A`, args: { id }, control: { id: randomUUID() }, check: (d) => expect(d.inference).toBeNull() })),
  'Query.inferences': (v) => [
    { name: 'own list', args: { first: 100 } },
    { name: "filtered by A's agent", args: { first: 100, filter: { agentId: v.agentId } }, control: { first: 100, filter: { agentId: randomUUID() } }, check: (d) => expect(d.inferences.nodes).toEqual([]) },
    { name: "after A's cursor", args: { first: 100, after: v.cursor }, control: { first: 100, after: cursor(v.cursorAt, randomUUID()) } },
    { name: 'filtered by the model and status A used', args: { first: 100, filter: { model: 'claude-haiku-4-5', status: 'SUCCEEDED' } } },
  ],
  'Query.user': (v) => [
    { name: "A's owner handle", args: { handle: v.userHandle }, control: { handle: `nobody-${randomUUID().slice(0, 8)}` }, check: (d) => expect(d.user).toBeNull() },
    { name: "A's owner handle, upper case", args: { handle: v.userHandle.toUpperCase() }, control: { handle: `NOBODY-${randomUUID().slice(0, 8)}` }, check: (d) => expect(d.user).toBeNull() },
  ],
  'Query.models': () => [{ name: 'models', args: {} }],
  'Query.providers': () => [{ name: 'providers', args: {} }],
  'Query.activeRoutingPolicy': (v) => [{ name: 'active policy', args: {}, check: (d) => expect(d.activeRoutingPolicy?.id).not.toBe(v.policyId) }],
  'Query.auditChain': () => [{ name: 'own chain, events and a check of A’s checkpoint', args: {}, check: (d, role) => role !== 'agent' && expect(d.auditChain.verifyCheckpoint).toMatchObject({ valid: false, extendsCheckpoint: false }) }],
  'Query.auditSigningKey': () => [{ name: 'public signing key', args: {} }],
  'Mutation.dispatchInference': (v, b) => [
    { name: "as A's agent", args: { input: { ...v.dispatchInput, agentId: v.agentId } }, control: { input: { ...v.dispatchInput, agentId: randomUUID() } } },
    // A's idempotency key and request, from B's own agent: a fresh inference of B, never A's replay
    // (B's later roles replay B's own first call, exactly as with a key A never used).
    {
      name: "reusing A's idempotency key and request",
      args: { input: { ...v.dispatchInput, agentId: b.agentId } },
      control: { input: { ...v.dispatchInput, agentId: b.agentId, idempotencyKey: `fresh-${randomUUID()}` } },
      check: (d, role) => {
        expect(d.dispatchInference.inference.agent.id).toBe(b.agentId);
        if (role === 'agent') expect(d.dispatchInference.replayed).toBe(false);
      },
    },
  ],
  'Mutation.publishRoutingPolicy': (v) => [
    // The same ruleset hashes the same (content addressing); it must still be B's own new policy.
    { name: "A's exact ruleset", args: { input: { ruleset: v.ruleset } }, derived: [v.rulesetHash, v.policyVersion], check: (d) => expect(d.publishRoutingPolicy.id).not.toBe(v.policyId) },
  ],
};

/** Arguments for nested fields that take them (required arguments without an entry fail the sweep). */
const NESTED_ARGS: Record<string, (v: Victim) => Vars> = {
  'AuditChain.events': () => ({ first: 1000, afterSeq: 0 }),
  'AuditChain.verifyCheckpoint': (v) => ({ checkpoint: v.checkpoint }),
};

function cursor(at: string, id: string): string {
  return Buffer.from(`${at}|${id}`).toString('base64url');
}

/** Builds one operation per root field: every field below it selected, arguments as variables. */
class OperationBuilder {
  readonly missing = new Set<string>();
  private defs: string[] = [];
  private values: Vars = {};

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly victim: Victim,
  ) {}

  build(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>, args: Vars): { query: string; variables: Vars } {
    this.defs = [];
    this.values = {};
    const call = this.args(field, args);
    const sel = this.selection(field.type, []);
    const defs = this.defs.length ? `(${this.defs.join(', ')})` : '';
    return { query: `${kind} Sweep${defs} { ${field.name}${call}${sel ? ` ${sel}` : ''} }`, variables: this.values };
  }

  private args(field: GraphQLField<unknown, unknown>, values: Vars): string {
    const parts: string[] = [];
    for (const arg of field.args) {
      if (!(arg.name in values)) continue;
      const name = `v${this.defs.length}`;
      this.defs.push(`$${name}: ${String(arg.type)}`);
      this.values[name] = values[arg.name];
      parts.push(`${arg.name}: $${name}`);
    }
    return parts.length ? `(${parts.join(', ')})` : '';
  }

  /** null when the type may not be entered here (too deep, or already on the path). */
  private selection(type: GraphQLOutputType, path: string[]): string | null {
    const named = getNamedType(type);
    if (isLeafType(named)) return '';
    if (path.includes(named.name) || path.length >= MAX_OBJECT_DEPTH) return null;
    if (isAbstractType(named)) {
      const frags = this.schema.getPossibleTypes(named).map((t) => `... on ${t.name} ${this.objectSelection(t, [...path, named.name])}`);
      return `{ __typename ${frags.join(' ')} }`;
    }
    return this.objectSelection(named as GraphQLObjectType, path);
  }

  private objectSelection(type: GraphQLObjectType, path: string[]): string {
    const inner = [...path, type.name];
    const parts = ['__typename'];
    for (const field of Object.values(type.getFields())) {
      let call = '';
      if (field.args.length) {
        const builder = NESTED_ARGS[`${type.name}.${field.name}`];
        if (builder) call = this.args(field, builder(this.victim));
        else if (field.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) {
          this.missing.add(`${type.name}.${field.name}`);
          continue;
        }
      }
      const sub = this.selection(field.type, inner);
      if (sub === null) continue;
      parts.push(`${field.name}${call}${sub ? ` ${sub}` : ''}`);
    }
    return `{ ${parts.join(' ')} }`;
  }
}

/** Mask what legitimately differs between two calls (fresh ids, times, hashes, signatures, latencies). */
function normalize(value: unknown, key = '', counts = false): unknown {
  if (Array.isArray(value)) return value.map((v) => normalize(v, key, counts));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v, k, counts)]));
  if (typeof value === 'number' && (/latency/i.test(key) || counts)) return '<n>';
  if (typeof value !== 'string') return value;
  return value
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, '<time>')
    .replace(/\b[0-9a-f]{64}\b/g, '<hash>')
    .replace(/^[A-Za-z0-9+/=_-]{40,}$/, '<opaque>');
}

describe('tenant isolation sweep', () => {
  let mock: MockProvider;
  let t: TestApp;
  let victim: Victim;
  let attacker: Attacker;
  let schema: GraphQLSchema;
  let keysByRole: Record<Role, string>;

  const memberKey = async (k: TenantKeys) => {
    const key = generateApiKey();
    await t.sql(`insert into api_key (id, created_at, tenant_id, user_id, role, prefix, secret_hash) values (gen_random_uuid(), now(), $1, $2, 'member', $3, $4)`, [k.tenantId, k.userId, key.prefix, key.hash]);
    return key.secret;
  };
  const victimState = async () => {
    const [s] = await t.sql(
      `select (select count(*)::int from inference where tenant_id = $1) as inferences,
              (select count(*)::int from audit_event where chain = $1) as events,
              (select id from routing_policy where tenant_id = $1 and active) as policy,
              (select count(*)::int from routing_policy where tenant_id = $1) as policies`,
      [victim.tenantId],
    );
    return s;
  };

  beforeAll(async () => {
    mock = await startMockProvider();
    t = await startTestApp({ mock, classifier: false });
    mock.script({ when: (c) => JSON.stringify(c.body).includes(MARKER) && c.model === 'gpt-4.1', behavior: { type: 'status', status: 500 } });
    // A's two successful calls answer with A's secret text; later calls (B's, even with A's prompt) get the default text.
    mock.script({ when: (c) => JSON.stringify(c.body).includes(MARKER), times: 2, behavior: { type: 'ok', text: VICTIM_TEXT } });

    // Tenant A, the victim: inferences (one failed), an idempotency key, a published policy, a chain, a checkpoint.
    const a = t.keys;
    const dispatchInput = { model: 'ainfera-auto', taskType: 'CHAT', messages: [{ role: 'USER', content: `${MARKER} hello` }], idempotencyKey: `shared-${randomUUID().slice(0, 8)}` };
    const DISPATCH = `mutation($input: DispatchInferenceInput!) { dispatchInference(input: $input) { inference { id outputText } } }`;
    const ids: string[] = [];
    const first = await t.gql(DISPATCH, { input: dispatchInput }, a.agentKey);
    expect(first.data.dispatchInference.inference.outputText).toBe(VICTIM_TEXT);
    ids.push(first.data.dispatchInference.inference.id);
    const second = await t.gql(DISPATCH, { input: { model: 'claude-haiku-4-5', taskType: 'CODE', messages: [{ role: 'USER', content: `${MARKER} second` }], agentId: a.agentId } }, a.userKey);
    ids.push(second.data.dispatchInference.inference.id);
    const failed = await t.gql(DISPATCH, { input: { model: 'gpt-4.1', taskType: 'CHAT', messages: [{ role: 'USER', content: `${MARKER} fails` }] } }, a.agentKey);
    expect(failed.errors?.[0].extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    ids.push(failed.errors![0].extensions!.inferenceId);
    const ruleset = { rules: [{ when: { taskTypes: ['translation'] }, route: ['gpt-4.1', 'claude-haiku-4-5'] }], fallback: ['gpt-4.1-mini', 'claude-sonnet-4-5'] };
    const published = await t.gql(`mutation($r: JSON!) { publishRoutingPolicy(input: { ruleset: $r }) { id rulesetHash policyVersion } }`, { r: ruleset }, a.userKey);
    const policy = published.data.publishRoutingPolicy;
    const list = await t.gql(`{ inferences(first: 1) { edges { cursor node { createdAt } } } }`, undefined, a.userKey);
    const edge = list.data.inferences.edges[0];
    const chain = await t.gql(`{ auditChain { events(first: 100) { hash } checkpoint { chain seq hash signedAt signature keyId } } }`, undefined, a.userKey);
    const revoked = generateApiKey();
    await t.sql(`insert into api_key (id, created_at, tenant_id, user_id, role, prefix, secret_hash, revoked_at) values (gen_random_uuid(), now(), $1, $2, 'admin', $3, $4, now())`, [a.tenantId, a.userId, revoked.prefix, revoked.hash]);
    const aMember = await memberKey(a);
    const [{ name: agentName }] = await t.sql(`select name from agent where id = $1`, [a.agentId]);
    victim = {
      ...a,
      memberKey: aMember,
      revokedKey: revoked.secret,
      inferenceIds: ids,
      idempotencyKey: dispatchInput.idempotencyKey,
      dispatchInput,
      cursor: edge.cursor,
      cursorAt: edge.node.createdAt,
      policyId: policy.id,
      ruleset,
      rulesetHash: policy.rulesetHash,
      policyVersion: policy.policyVersion,
      eventHashes: chain.data.auditChain.events.map((e: { hash: string }) => e.hash),
      checkpoint: chain.data.auditChain.checkpoint,
      secrets: [],
    };
    victim.secrets = [
      a.tenantId, a.tenant, a.userId, a.userHandle, a.agentId, agentName, a.agentKey, a.userKey, aMember, revoked.secret,
      a.agentKey.slice(0, 12), a.userKey.slice(0, 12), aMember.slice(0, 12),
      ...ids, VICTIM_TEXT, MARKER, victim.idempotencyKey, policy.id, policy.rulesetHash, policy.policyVersion,
      ...victim.eventHashes, chain.data.auditChain.checkpoint.signature,
    ];
    expect(victim.eventHashes.length).toBe(3);

    // Tenant B, the attacker, with some traffic of its own.
    const b = await t.newTenant();
    attacker = { ...b, memberKey: await memberKey(b) };
    const own = await t.gql(DISPATCH, { input: { model: 'ainfera-auto', taskType: 'CHAT', messages: [{ role: 'USER', content: 'attacker traffic' }] } }, b.agentKey);
    expect(own.errors).toBeUndefined();
    keysByRole = { agent: b.agentKey, member: attacker.memberKey, admin: b.userKey };

    const intro = await t.gql(getIntrospectionQuery(), undefined, b.agentKey);
    expect(intro.errors).toBeUndefined();
    schema = buildClientSchema(intro.data);
  });
  afterAll(async () => {
    await t.stop();
    await mock.close();
  });

  /** Every root field with its cases, or the names of fields the sweep does not know. */
  const rootFields = () => {
    const out: Array<{ kind: 'query' | 'mutation'; key: string; field: GraphQLField<unknown, unknown> }> = [];
    for (const [kind, type] of [
      ['query', schema.getQueryType()],
      ['mutation', schema.getMutationType()],
      ['subscription', schema.getSubscriptionType()],
    ] as const) {
      if (!type) continue;
      for (const field of Object.values(type.getFields())) out.push({ kind: kind as 'query' | 'mutation', key: `${type.name}.${field.name}`, field });
    }
    return out;
  };

  it('has a case for every root field of the served schema and every nested field with required arguments', () => {
    const fields = rootFields();
    expect(fields.length).toBeGreaterThanOrEqual(11);
    const unknown = fields.filter((f) => !ROOT_CASES[f.key]).map((f) => f.key);
    expect(unknown, 'add these to ROOT_CASES in test/integration/isolation.test.ts').toEqual([]);
    const builder = new OperationBuilder(schema, victim);
    for (const f of fields) builder.build(f.kind, f.field, {});
    expect([...builder.missing], 'add these to NESTED_ARGS in test/integration/isolation.test.ts').toEqual([]);
    // Cases that no longer match the schema are stale, not silently passing.
    expect(Object.keys(ROOT_CASES).filter((k) => !fields.some((f) => f.key === k))).toEqual([]);
  });

  it("answers every field, for every role of tenant B, as if tenant A's objects were absent, and leaks nothing of A", { timeout: 120_000 }, async () => {
    const before = await victimState();
    const builder = new OperationBuilder(schema, victim);
    let calls = 0;
    const codes: Record<string, number> = {};
    for (const { kind, key, field } of rootFields()) {
      for (const c of ROOT_CASES[key](victim, attacker)) {
        for (const role of ['agent', 'member', 'admin'] as Role[]) {
          const label = `${key} (${c.name}) as B's ${role} key`;
          const op = builder.build(kind, field, c.args);
          const res = await t.gql(op.query, op.variables, keysByRole[role]);
          calls++;
          expect(res.status, label).toBeLessThan(500);
          for (const e of res.errors ?? []) {
            const code = String(e.extensions?.code);
            codes[code] = (codes[code] ?? 0) + 1;
            // Executed, not rejected up front (a rejected operation would prove nothing), and refused cleanly.
            expect(['FORBIDDEN', 'BAD_USER_INPUT', 'NOT_FOUND'], `${label}: ${JSON.stringify(e)}`).toContain(code);
          }
          // No trace of A, unless the caller itself sent it (an echo is not a leak).
          const sent = JSON.stringify(op.variables);
          const text = JSON.stringify({ data: res.data, errors: res.errors });
          for (const s of victim.secrets) if (!sent.includes(s) && !c.derived?.includes(s)) expect(text.includes(s), `${label} leaks ${s}: ${text.slice(0, 2000)}`).toBe(false);
          expect(text, label).not.toContain(VICTIM_TEXT);
          if (res.data) c.check?.(res.data, role);

          if (c.control) {
            const ctl = builder.build(kind, field, c.control);
            const other = await t.gql(ctl.query, ctl.variables, keysByRole[role]);
            calls++;
            // Same answer with A's identifiers as with identifiers that exist nowhere.
            // A mutation's control call itself adds to B's own counters (cell coverage, chain length): compare shapes there.
            const strip = (r: typeof res) => normalize({ data: r.data, errors: r.errors?.map((e) => ({ code: e.extensions?.code, message: e.message })) }, '', kind === 'mutation');
            expect(strip(res), `${label} differs from the same call with unknown ids`).toEqual(strip(other));
          }
        }
      }
    }
    // The expected refusals happened (agent keys read no audit chain, publish nothing; member keys dispatch nothing).
    expect(codes.FORBIDDEN).toBeGreaterThanOrEqual(4);
    // A is untouched: same rows, same events, same active policy, and its chain still verifies.
    expect(await victimState()).toEqual(before);
    const verify = await t.gql(`{ auditChain { length verify { valid checked } } }`, undefined, victim.userKey);
    expect(verify.data.auditChain).toEqual({ length: 3, verify: { valid: true, checked: 3 } });
    console.log(`[isolation] ${rootFields().length} root fields, ${calls} calls as tenant B; error codes ${JSON.stringify(codes)}`);
  });

  it('refuses every field without a key, with a malformed key, and with A’s revoked key', { timeout: 60_000 }, async () => {
    const builder = new OperationBuilder(schema, victim);
    for (const { kind, key, field } of rootFields()) {
      const [c] = ROOT_CASES[key](victim, attacker);
      const op = builder.build(kind, field, c.args);
      for (const [who, k] of [
        ['no key', null],
        ['malformed key', 'ainf_not-a-real-key'],
        ["A's revoked key", victim.revokedKey],
      ] as const) {
        const res = await t.gql(op.query, op.variables, k);
        expect(res.errors?.[0].extensions?.code, `${key} with ${who}`).toBe('UNAUTHENTICATED');
        expect(res.data ?? null, `${key} with ${who}`).toBeNull();
        const text = JSON.stringify(res);
        for (const s of victim.secrets) if (!JSON.stringify(op.variables).includes(s) && s !== k) expect(text.includes(s), `${key} with ${who} leaks ${s}`).toBe(false);
      }
    }
  });

  describe('role checks', () => {
    const PUBLISH = `mutation($r: JSON!) { publishRoutingPolicy(input: { ruleset: $r }) { id } }`;
    const DISPATCH = `mutation($input: DispatchInferenceInput!) { dispatchInference(input: $input) { inference { id } } }`;

    it('agent and member keys cannot publish a routing policy; nothing is written', async () => {
      const count = async () => (await t.sql(`select count(*)::int as n from routing_policy where tenant_id = $1`, [attacker.tenantId]))[0].n;
      const n = await count();
      for (const key of [attacker.agentKey, attacker.memberKey]) {
        const res = await t.gql(PUBLISH, { r: { rules: [], fallback: ['gpt-4.1-mini'] } }, key);
        expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
        expect(res.data).toBeNull();
      }
      expect(await count()).toBe(n);
      const admin = await t.gql(PUBLISH, { r: { rules: [], fallback: ['gpt-4.1-mini'] } }, attacker.userKey);
      expect(admin.errors).toBeUndefined();
      expect(await count()).toBe(n + 1);
    });

    it('member keys cannot dispatch, with or without an agentId; no provider call, no row', async () => {
      const rows = async () => (await t.sql(`select count(*)::int as n from inference where tenant_id = $1`, [attacker.tenantId]))[0].n;
      const n = await rows();
      const calls = mock.callCount();
      for (const input of [
        { model: 'ainfera-auto', taskType: 'CHAT', messages: [{ role: 'USER', content: 'member' }] },
        { model: 'ainfera-auto', taskType: 'CHAT', messages: [{ role: 'USER', content: 'member' }], agentId: attacker.agentId },
        { model: 'claude-haiku-4-5', messages: [{ role: 'USER', content: 'member' }], agentId: attacker.agentId, idempotencyKey: 'member-1' },
      ]) {
        const res = await t.gql(DISPATCH, { input }, attacker.memberKey);
        expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
      }
      expect(await rows()).toBe(n);
      expect(mock.callCount()).toBe(calls);
    });

    it('agent keys cannot read the audit chain; member keys can', async () => {
      const q = `{ auditChain { length } }`;
      expect((await t.gql(q, undefined, attacker.agentKey)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
      expect((await t.gql(q, undefined, attacker.memberKey)).data.auditChain.length).toBeGreaterThanOrEqual(1);
    });
  });
});
