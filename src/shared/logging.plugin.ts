import type { ApolloServerPlugin, GraphQLRequestContext, HTTPGraphQLRequest, HTTPGraphQLResponse } from '@apollo/server';
import { getOperationAST } from 'graphql';
import type { Logger } from 'pino';
import type { Context, RequestScope } from '../context.js';
import { ErrorCode } from './errors.js';

/**
 * One structured log line per GraphQL request: request id, tenant, operation, duration, outcome.
 *
 * Built from names and codes only — never the Authorization header, variables, prompts,
 * responses or error messages (a driver's message can quote SQL parameters, i.e. prompt text).
 */
export interface RequestLogLine {
  requestId: string;
  tenantId: string | null;
  agentId: string | null;
  operationName: string | null;
  operationType: string | null;
  httpStatus: number;
  durationMs: number;
  outcome: 'ok' | 'error';
  /** Distinct `extensions.code`s sent to the client, in order; only when outcome is error. */
  errorCodes?: string[];
  /** For masked internal errors: the error's class and path, for finding it in the code. */
  internalError?: { type: string; path: string | null; sqlState?: string };
}

const MESSAGE = 'graphql request';

/**
 * The logger request lines go through: the application's, without its redaction pass. A request
 * line is built from the fixed fields of RequestLogLine, none of which the redaction paths name,
 * so the pass could never change it — and it was a third of the line's cost (~6 µs a request).
 */
export function requestLogger(logger: Logger): Logger {
  return logger.child({}, { redact: [] });
}

function emit(logger: Logger, line: RequestLogLine): void {
  if (line.errorCodes?.includes(ErrorCode.INTERNAL_SERVER_ERROR)) logger.error(line, MESSAGE);
  else logger.info(line, MESSAGE);
}

const elapsed = (startedAt: number) => Math.round(performance.now() - startedAt);

function codeOf(error: unknown): string | null {
  const code = (error as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  return typeof code === 'string' ? code : null;
}

function distinct(codes: Array<string | null>): string[] {
  return [...new Set(codes.map((c) => c ?? ErrorCode.INTERNAL_SERVER_ERROR))];
}

/** The operation name of a request whose document was never parsed: `operationName`, else the first named operation in the text. */
function unparsedOperationName(operationName: unknown, query: unknown): string | null {
  if (typeof operationName === 'string' && operationName !== '') return operationName.slice(0, 100);
  if (typeof query !== 'string') return null;
  return /\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/.exec(query.slice(0, 10_000))?.[1] ?? null;
}

function httpOperationName(http: HTTPGraphQLRequest | undefined): string | null {
  if (!http) return null;
  const params = new URLSearchParams(http.search);
  const body = (typeof http.body === 'object' && http.body !== null ? http.body : {}) as { operationName?: unknown; query?: unknown };
  return unparsedOperationName(body.operationName ?? params.get('operationName'), body.query ?? params.get('query'));
}

/** The operation, also for requests that failed validation (parsed, not resolved) or parsing (named from the text). */
function operationOf(rc: GraphQLRequestContext<Context>): { name: string | null; type: string | null } {
  if (rc.operation) return { name: rc.operationName ?? null, type: rc.operation.operation };
  const op = rc.document ? getOperationAST(rc.document, rc.request.operationName) : null;
  if (op) return { name: op.name?.value ?? null, type: op.operation };
  return { name: unparsedOperationName(rc.request.operationName, rc.request.query), type: null };
}

function internalErrorOf(rc: GraphQLRequestContext<Context>): RequestLogLine['internalError'] {
  const masked = rc.errors?.find((e) => codeOf(e) === null || codeOf(e) === ErrorCode.INTERNAL_SERVER_ERROR);
  if (!masked) return undefined;
  const original = (masked.originalError ?? masked) as Error & { code?: unknown };
  const sqlState = typeof original.code === 'string' && /^[0-9A-Z]{5}$/.test(original.code) ? original.code : undefined;
  return { type: original.constructor?.name ?? 'Error', path: masked.path?.join('.') ?? null, ...(sqlState ? { sqlState } : {}) };
}

/** Log a request the HTTP layer turned away before GraphQL saw it (body too large, not JSON). */
export function logRejectedRequest(logger: Logger, scope: Pick<RequestScope, 'requestId' | 'startedAt'>, httpStatus: number, code: string): void {
  emit(logger, { requestId: scope.requestId, tenantId: null, agentId: null, operationName: null, operationType: null, httpStatus, durationMs: elapsed(scope.startedAt), outcome: 'error', errorCodes: [code] });
}

/**
 * Log a request that never reached Apollo's request pipeline — authentication failed while the
 * context was built, or the HTTP request was not a GraphQL request — from the error response the
 * client got: its status and the codes of its errors.
 */
export function logEarlyFailure(logger: Logger, scope: RequestScope, response: HTTPGraphQLResponse): void {
  let codes: string[] = [];
  try {
    const errors = response.body.kind === 'complete' ? (JSON.parse(response.body.string) as { errors?: unknown[] }).errors : undefined;
    if (Array.isArray(errors)) codes = distinct(errors.map(codeOf));
  } catch {
    // Not JSON: the status alone says what happened.
  }
  const httpStatus = response.status ?? 500;
  emit(logger, {
    requestId: scope.requestId,
    tenantId: null,
    agentId: null,
    operationName: httpOperationName(scope.http),
    operationType: null,
    httpStatus,
    durationMs: elapsed(scope.startedAt),
    outcome: 'error',
    errorCodes: codes.length ? codes : [httpStatus < 500 ? 'BAD_REQUEST' : ErrorCode.INTERNAL_SERVER_ERROR],
  });
}

/**
 * The Apollo plugin: one line per request that reached the pipeline, at willSendResponse. The HTTP
 * layer logs the others (logEarlyFailure), seeing `scope.reachedPipeline` still false.
 */
export function createLoggingPlugin(logger: Logger): ApolloServerPlugin<Context> {
  return {
    async requestDidStart({ contextValue }) {
      contextValue.scope.reachedPipeline = true;
      return {
        async willSendResponse(rc) {
          const body = rc.response.body;
          const sent = body.kind === 'single' ? body.singleResult.errors : rc.errors;
          const errorCodes = sent?.length ? distinct(sent.map(codeOf)) : undefined;
          const internalError = errorCodes?.includes(ErrorCode.INTERNAL_SERVER_ERROR) ? internalErrorOf(rc) : undefined;
          const operation = operationOf(rc);
          emit(logger, {
            requestId: contextValue.scope.requestId,
            tenantId: contextValue.viewer.tenantId,
            agentId: contextValue.viewer.agentId,
            operationName: operation.name,
            operationType: operation.type,
            httpStatus: rc.response.http.status ?? 200,
            durationMs: elapsed(contextValue.scope.startedAt),
            outcome: errorCodes ? 'error' : 'ok',
            ...(errorCodes ? { errorCodes } : {}),
            ...(internalError ? { internalError } : {}),
          });
        },
      };
    },
  };
}
