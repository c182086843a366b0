/**
 * The floors of the GraphQL layer, each a node:http server that reads the request body and
 * answers `{ __typename }` with the same JSON:
 *
 *   bare      a handler that answers the fixed JSON (no GraphQL at all): the HTTP floor;
 *   graphql   graphql-js alone: each query parsed and validated once (kept by its text), then
 *             executed per request against a one-field schema;
 *   apollo    Apollo Server 5 alone, integrated as src/server.ts integrates it
 *             (executeHTTPGraphQLRequest), with the same two built-in plugins turned off, and
 *             nothing of ours: a one-field schema, no authentication, no logging, no armor.
 *
 * The last two place our figure between what the framework costs and what GraphQL itself costs.
 *
 *   node dist/bench/bare-http.js [--mode bare|graphql|apollo]   → prints {"port":N} and serves until SIGTERM
 */
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { buildSchema, type DocumentNode, execute, parse, validate } from 'graphql';

const REFERENCE_MODES = ['bare', 'graphql', 'apollo'] as const;
type ReferenceMode = (typeof REFERENCE_MODES)[number];

const SDL = 'type Query { ok: Boolean }';
const JSON_TYPE = 'application/json; charset=utf-8';

type Answer = { status: number; type: string; body: string };
type Handler = (req: IncomingMessage, body: string) => Answer | Promise<Answer>;

function bareHandler(): Handler {
  const body = JSON.stringify({ data: { __typename: 'Query' } });
  return () => ({ status: 200, type: JSON_TYPE, body });
}

function graphqlJsHandler(): Handler {
  const schema = buildSchema(SDL);
  const documents = new Map<string, DocumentNode>();
  return async (_req, text) => {
    const { query, variables } = JSON.parse(text) as { query: string; variables?: Record<string, unknown> };
    let document = documents.get(query);
    if (!document) {
      document = parse(query);
      const errors = validate(schema, document);
      if (errors.length > 0) return { status: 400, type: JSON_TYPE, body: JSON.stringify({ errors }) };
      documents.set(query, document);
    }
    const result = await execute({ schema, document, variableValues: variables });
    return { status: 200, type: JSON_TYPE, body: JSON.stringify(result) };
  };
}

async function apolloHandler(): Promise<Handler> {
  const apollo = new ApolloServer({ typeDefs: SDL, plugins: [ApolloServerPluginLandingPageDisabled(), ApolloServerPluginCacheControlDisabled()] });
  await apollo.start();
  return async (req, text) => {
    const headers = new HeaderMap();
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    const result = await apollo.executeHTTPGraphQLRequest({ httpGraphQLRequest: { method: req.method ?? 'POST', headers, search: '', body: JSON.parse(text) }, context: async () => ({}) });
    if (result.body.kind !== 'complete') throw new Error('unexpected incremental answer');
    return { status: result.status ?? 200, type: result.headers.get('content-type') ?? JSON_TYPE, body: result.body.string };
  };
}

const i = process.argv.indexOf('--mode');
const mode = (i === -1 ? 'bare' : process.argv[i + 1]) as ReferenceMode;
if (!REFERENCE_MODES.includes(mode)) throw new Error(`--mode must be one of ${REFERENCE_MODES.join(', ')}`);
const handler = mode === 'bare' ? bareHandler() : mode === 'graphql' ? graphqlJsHandler() : await apolloHandler();

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    Promise.resolve(handler(req, Buffer.concat(chunks).toString('utf8'))).then(
      ({ status, type, body }) => {
        res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
        res.end(body);
      },
      (err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(err.message);
      },
    );
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
