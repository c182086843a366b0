import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerPlugin, HeaderMap, type HTTPGraphQLRequest } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, type ValidationRule } from 'graphql';
import { type AppDeps, type Context, createContext, type RequestScope } from './context.js';
import { buildSchema } from './schema.js';
import { formatError } from './shared/errors.js';
import { createLoggingPlugin, logEarlyFailure, logRejectedRequest, requestLogger } from './shared/logging.plugin.js';
import { metricsResponse } from './shared/metrics.js';

export interface AppServer {
  http: http.Server;
  url: string;
  /** Stop accepting, let in-flight requests finish, then close. */
  close(): Promise<void>;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new BodyTooLarge());
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A `subscription` (this schema has none) is a client error, not an executor crash behind the mask. */
const knownOperationTypes: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (!context.getSchema().getRootType(node.operation)) context.reportError(new GraphQLError(`This API has no ${node.operation} operations.`, { nodes: node }));
  },
});

/** Apollo Server on plain node:http: the GraphQL endpoint, health checks, and nothing in between. */
export async function createServer(deps: AppDeps, opts: { extraRoutes?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> } = {}): Promise<AppServer> {
  const production = deps.env.nodeEnv === 'production';
  const requestLog = requestLogger(deps.logger);
  // Limits sized so the dashboard's and the gateway's operations (operations/) and GraphiQL's
  // introspection pass with room to spare; graphql-armor ≥ 3.2 has the 2025 fragment depth-bypass fix.
  const armor = new ApolloArmor({
    maxDepth: { n: 12, ignoreIntrospection: true },
    maxAliases: { n: 15 },
    // Tokens are limited by graphql's own parser (parseOptions below): armor's Apollo token plugin
    // re-parses in a plugin hook, which turns every syntax error into an HTTP 500.
    maxTokens: { enabled: false },
    maxDirectives: { n: 30 },
    costLimit: { maxCost: 20_000, ignoreIntrospection: true },
    blockFieldSuggestion: { enabled: production },
  }).protect();
  const apollo = new ApolloServer<Context>({
    schema: buildSchema(),
    formatError,
    includeStacktraceInErrorResponses: false,
    introspection: true,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    hideSchemaDetailsFromClientErrors: production,
    // Shutdown is ours (src/index.ts drains requests, then closes the database), not Apollo's.
    stopOnTerminationSignals: false,
    // No @cacheControl in this schema: Apollo's default cache-control plugin would still wrap every
    // field resolver (willResolveField) on every request only to answer `no-store`, which
    // handleGraphQL sets itself.
    plugins: [ApolloServerPluginLandingPageDisabled(), ApolloServerPluginCacheControlDisabled(), createLoggingPlugin(requestLog), ...(armor.plugins as ApolloServerPlugin<Context>[])],
    parseOptions: { maxTokens: 3000 },
    validationRules: [...armor.validationRules, knownOperationTypes],
  });
  await apollo.start();

  let inFlight = 0;
  let idle: (() => void) | null = null;

  async function handleGraphQL(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const requestId = (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].slice(0, 128)) || randomUUID();
    const startedAt = performance.now();
    let body: unknown;
    if (req.method === 'POST') {
      let text: string;
      try {
        text = await readBody(req, deps.env.maxBodyBytes);
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          logRejectedRequest(requestLog, { requestId, startedAt }, 413, 'PAYLOAD_TOO_LARGE');
          return sendJson(res, 413, { errors: [{ message: `Request body exceeds ${deps.env.maxBodyBytes} bytes.`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
        }
        throw err;
      }
      const type = String(req.headers['content-type'] ?? '');
      if (type.includes('application/json')) {
        try {
          body = text === '' ? {} : JSON.parse(text);
        } catch {
          logRejectedRequest(requestLog, { requestId, startedAt }, 400, 'BAD_REQUEST');
          return sendJson(res, 400, { errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } }] });
        }
      } else body = text;
    }
    const headers = new HeaderMap();
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    const httpGraphQLRequest: HTTPGraphQLRequest = { method: req.method ?? 'GET', headers, search: url.search, body };
    const scope: RequestScope = { requestId, startedAt, http: httpGraphQLRequest, reachedPipeline: false };
    const result = await apollo.executeHTTPGraphQLRequest({ httpGraphQLRequest, context: () => createContext(deps, scope, req.headers.authorization) });
    if (!scope.reachedPipeline) logEarlyFailure(requestLog, scope, result);
    // Answers are per caller and never to be cached by anything in between.
    const outHeaders: Record<string, string> = { 'x-request-id': requestId, 'cache-control': 'no-store' };
    for (const [k, v] of result.headers) outHeaders[k] = v;
    if (result.body.kind === 'complete') {
      outHeaders['content-length'] = String(Buffer.byteLength(result.body.string));
      res.writeHead(result.status ?? 200, outHeaders);
      res.end(result.body.string);
    } else {
      res.writeHead(result.status ?? 200, outHeaders);
      for await (const chunk of result.body.asyncIterator) res.write(chunk);
      res.end();
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (url.pathname === '/metrics') {
      const { contentType, body } = await metricsResponse(deps.metrics);
      res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
      return void res.end(body);
    }
    if (url.pathname === '/readyz') {
      try {
        await deps.orm.em.fork().execute('/* readyz */ select 1');
        return sendJson(res, 200, { status: 'ready' });
      } catch {
        return sendJson(res, 503, { status: 'database unreachable' });
      }
    }
    if (opts.extraRoutes && (await opts.extraRoutes(req, res, url))) return;
    if (url.pathname === '/graphql') return handleGraphQL(req, res, url);
    sendJson(res, 404, { error: 'Not found. GraphQL is served at /graphql.' });
  }

  const server = http.createServer((req, res) => {
    inFlight++;
    handle(req, res)
      .catch((err) => {
        deps.logger.error({ err }, 'request failed');
        if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
        else res.destroy();
      })
      .finally(() => {
        inFlight--;
        if (inFlight === 0 && idle) idle();
      });
  });
  server.keepAliveTimeout = 65_000;

  return {
    http: server,
    get url() {
      const addr = server.address() as AddressInfo | null;
      return addr ? `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}/graphql` : '';
    },
    async close() {
      const drained = inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => (idle = r));
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await drained;
      server.closeIdleConnections();
      await closed;
      await apollo.stop();
    },
  };
}
