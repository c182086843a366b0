/**
 * A page of inferences reads only the columns of the fields its query selects (through aliases,
 * fragments and edges), and answers every field exactly as the full record does.
 */
import { isObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORD_COLUMNS, recordColumnsFor } from '../../src/modules/inference/inference.record.js';
import { buildSchema } from '../../src/schema.js';
import { startTestApp, type TestApp } from '../support/app.js';

const ALL_FIELDS = /* GraphQL */ `
  fragment All on Inference {
    id status requestedModel routingMode model { slug } provider { slug } agent { id name }
    taskType taskTypeSource policyVersion cell constraintBand outputText usage { inputTokens outputTokens }
    costUsd latencyMs attempts { model provider outcome latencyMs } error { code message } createdAt
  }
`;

let t: TestApp;
const statements: string[] = [];
const ids: string[] = [];

beforeAll(async () => {
  t = await startTestApp({ ormOptions: { debug: ['query'], logger: (m: string) => statements.push(m) } });
  const dispatch = `mutation D($input: DispatchInferenceInput!) { dispatchInference(input: $input) { inference { id } } }`;
  for (const [i, model] of ['sim-small', 'sim-large', 'ainfera-auto', 'sim-small'].entries()) {
    const res = await t.gql(dispatch, { input: { model, taskType: i % 2 ? 'CODE' : 'CHAT', constraints: i === 3 ? { maxLatencyMs: 1500 } : undefined, messages: [{ role: 'USER', content: `question ${i}` }] } });
    expect(res.errors).toBeUndefined();
    ids.push(res.data.dispatchInference.inference.id);
  }
  ids.reverse(); // pages are newest first
}, 60_000);

afterAll(async () => {
  await t?.stop();
});

/** The page statement of the last request. */
function lastPageStatement(): string {
  const line = [...statements].reverse().find((s) => s.includes('/* listInferences */'));
  if (!line) throw new Error('no listInferences statement logged');
  return line;
}

describe('inference page projection', () => {
  it('answers every field of every shape of selection as the full record does', async () => {
    const full = new Map<string, Record<string, unknown>>();
    for (const id of ids) full.set(id, (await t.gql(`query Q($id: ID!) { inference(id: $id) { ...All } } ${ALL_FIELDS}`, { id }, t.keys.userKey)).data.inference);

    const all = await t.gql(`{ inferences(first: 10) { nodes { ...All } } } ${ALL_FIELDS}`, undefined, t.keys.userKey);
    expect(all.errors).toBeUndefined();
    expect(all.data.inferences.nodes).toEqual(ids.map((id) => full.get(id)));
    expect(lastPageStatement()).toContain('output_text');

    // Aliases, inline fragments and a named fragment under edges, with cursors: each value as the full record has it.
    const mixed = await t.gql(
      `query { inferences(first: 3) {
        edges { cursor node { key: id ... on Inference { s: status usage { inputTokens outputTokens } } ...Money } }
        pageInfo { hasNextPage endCursor }
      } }
      fragment Money on Inference { costUsd text: outputText }`,
      undefined,
      t.keys.userKey,
    );
    expect(mixed.errors).toBeUndefined();
    expect(mixed.data.inferences.edges.map((e: { node: unknown }) => e.node)).toEqual(
      ids.slice(0, 3).map((id) => {
        const f = full.get(id)!;
        return { key: id, s: f.status, usage: f.usage, costUsd: f.costUsd, text: f.outputText };
      }),
    );
    const page = lastPageStatement();
    for (const column of ['status', 'input_tokens', 'output_tokens', 'cost_usd', 'output_text']) expect(page).toContain(column);
    for (const column of ['model_id', 'agent_id', 'attempts', 'request_hash']) expect(page).not.toMatch(new RegExp(`\\b${column}\\b`));

    // The next page from the cursor of a narrow selection.
    const next = await t.gql(`query N($after: String) { inferences(first: 3, after: $after) { nodes { id } } }`, { after: mixed.data.inferences.pageInfo.endCursor }, t.keys.userKey);
    expect(next.data.inferences.nodes).toEqual([{ id: ids[3] }]);
  });

  it('reads a dashboard page of ids, models and agents in two statements, without output texts', async () => {
    const before = statements.length;
    const res = await t.gql(`{ inferences(first: 10) { nodes { id model { slug } provider { slug } agent { id } } } }`, undefined, t.keys.userKey);
    expect(res.errors).toBeUndefined();
    expect(res.data.inferences.nodes.map((n: { id: string }) => n.id)).toEqual(ids);
    expect(res.data.inferences.nodes.every((n: { agent: { id: string } }) => n.agent.id === t.keys.agentId)).toBe(true);
    const sql = statements.slice(before);
    expect(sql.filter((s) => s.includes('/* listInferences */') || s.includes('/* agentsById */'))).toHaveLength(2);
    const page = lastPageStatement();
    expect(page).toMatch(/\bmodel_id\b/);
    expect(page).toMatch(/\bagent_id\b/);
    expect(page).not.toContain('output_text');
  });

  it('knows the columns of every field of Inference (a field it does not know reads them all)', () => {
    const type = buildSchema().getType('Inference');
    if (!isObjectType(type)) throw new Error('Inference is not an object type');
    for (const field of Object.keys(type.getFields())) expect(recordColumnsFor([field]), field).not.toBe(RECORD_COLUMNS);
    expect(recordColumnsFor(['id'])).toBe(`id, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at`);
    expect(recordColumnsFor(['aFieldAddedLater'])).toBe(RECORD_COLUMNS);
  });
});
