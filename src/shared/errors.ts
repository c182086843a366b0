import { GraphQLError, type GraphQLFormattedError } from 'graphql';

/** The one catalogue of error codes clients can rely on (DESIGN §6). */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
  PROVIDER_NOT_CONFIGURED: 'PROVIDER_NOT_CONFIGURED',
  NO_ELIGIBLE_MODEL: 'NO_ELIGIBLE_MODEL',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  IDEMPOTENCY_IN_PROGRESS: 'IDEMPOTENCY_IN_PROGRESS',
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An expected failure: its message and extensions reach the client as they are. */
export class AppError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}, httpStatus?: number) {
    super(message, { extensions: { code, ...extensions, ...(httpStatus ? { http: { status: httpStatus } } : {}) } });
  }
}

export const unauthenticated = (message = 'A valid API key is required: send "Authorization: Bearer <key>".') =>
  new AppError(ErrorCode.UNAUTHENTICATED, message, {}, 401);

export const forbidden = (message: string) => new AppError(ErrorCode.FORBIDDEN, message);

/** Bad input, naming the field at fault (e.g. `input.maxTokens`). */
export const badInput = (field: string, message: string) =>
  new AppError(ErrorCode.BAD_USER_INPUT, `${field}: ${message}`, { field });


const KNOWN_CODES: ReadonlySet<string> = new Set<string>([
  ...Object.values(ErrorCode),
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/** By tag, not instanceof: graphql may be loaded twice (ESM and CJS copies) by dependencies. */
function isGraphQLError(e: unknown): boolean {
  return Object.prototype.toString.call(e) === '[object GraphQLError]';
}

/**
 * Apollo's formatError: errors we raised on purpose (and GraphQL's own validation errors) pass;
 * anything else is masked, so no stack, SQL or upstream detail ever reaches a client.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const code = formatted.extensions?.code;
  const original = (error as { originalError?: unknown } | null)?.originalError;
  const passes =
    original instanceof AppError ||
    (typeof code === 'string' &&
      code !== ErrorCode.INTERNAL_SERVER_ERROR &&
      KNOWN_CODES.has(code) &&
      (!original || isGraphQLError(original)));
  if (passes) {
    const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  // Apollo's own request errors (a persisted-query hash that does not match, …) carry a 4xx status but no code.
  const status = (error as { extensions?: { http?: { status?: unknown } } } | null)?.extensions?.http?.status;
  if (!original && isGraphQLError(error) && typeof status === 'number' && status >= 400 && status < 500) {
    return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions: { code: 'BAD_REQUEST' } };
  }
  // SQLSTATE class 22 (data exception: NUL in text, a malformed uuid, a date out of range) means a
  // value from the request reached SQL that the database cannot hold: the client's fault, said without SQL.
  const sqlState = (original as { code?: unknown } | null)?.code;
  if (typeof sqlState === 'string' && /^22[0-9A-Z]{3}$/.test(sqlState)) {
    return { message: 'A value in the request cannot be used (invalid characters, or out of range).', locations: formatted.locations, path: formatted.path, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }
  return {
    message: 'Internal server error.',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}
