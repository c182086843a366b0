/** The one small interface every upstream adapter implements. */
export interface ProviderCall {
  upstreamModel: string;
  system: string | null;
  messages: Array<{ role: 'user' | 'assistant'; content: string }>;
  maxTokens: number;
  temperature: number | null;
}

export interface ProviderResult {
  text: string;
  inputTokens: number;
  outputTokens: number;
  /** The upstream response body, stored on the inference row (never in the audit log). */
  raw: unknown;
}

/** Why an attempt failed; all but `client_error` move auto mode on to the next candidate. */
export type AttemptOutcome =
  | 'succeeded'
  | 'timeout'
  | 'connection_error'
  | 'rate_limited'
  | 'server_error'
  | 'bad_response'
  | 'refusal'
  | 'client_error'
  | 'deadline_exceeded';

export class ProviderError extends Error {
  constructor(
    readonly outcome: Exclude<AttemptOutcome, 'succeeded'>,
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
  }
  get retryable(): boolean {
    return this.outcome !== 'client_error';
  }
}

export interface ProviderAdapter {
  /** The provider's slug in the catalog. */
  readonly slug: string;
  complete(call: ProviderCall, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<ProviderResult>;
}

/** Map an SDK or network error to an attempt outcome, without leaking upstream details. */
export function classifyUpstreamError(err: unknown, sdk: { APIConnectionTimeoutError: Function; APIConnectionError: Function; APIError: Function; APIUserAbortError: Function }): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof sdk.APIConnectionTimeoutError) return new ProviderError('timeout', 'The provider did not answer in time.');
  if (err instanceof sdk.APIUserAbortError) return new ProviderError('deadline_exceeded', 'The dispatch deadline passed.');
  if (err instanceof sdk.APIConnectionError) return new ProviderError('connection_error', 'Could not reach the provider.');
  if (err instanceof sdk.APIError) {
    const status = (err as { status?: number }).status ?? null;
    if (status === 429) return new ProviderError('rate_limited', 'The provider is rate limiting.', status);
    if (status !== null && status >= 500) return new ProviderError('server_error', `The provider failed (HTTP ${status}).`, status);
    if (status === null) return new ProviderError('bad_response', 'The provider sent an unreadable response.');
    if (status === 408 || status === 409) return new ProviderError('server_error', `The provider failed (HTTP ${status}).`, status);
    return new ProviderError('client_error', `The provider rejected the request (HTTP ${status}).`, status);
  }
  return new ProviderError('bad_response', 'The provider sent an unreadable response.');
}

export function nonNegativeInt(x: unknown): number | null {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 ? x : null;
}
