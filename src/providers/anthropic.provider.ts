import Anthropic from '@anthropic-ai/sdk';
import { classifyUpstreamError, nonNegativeInt, type ProviderAdapter, type ProviderCall, ProviderError, type ProviderResult } from './provider.js';

/** Anthropic Messages API through the official SDK; retries are ours (next candidate), not the SDK's. */
export class AnthropicProvider implements ProviderAdapter {
  readonly slug = 'anthropic';
  private readonly client: Anthropic;

  constructor(opts: { apiKey: string; baseUrl?: string; fetch?: typeof fetch }) {
    this.client = new Anthropic({ apiKey: opts.apiKey, baseURL: opts.baseUrl, maxRetries: 0, fetch: opts.fetch });
  }

  async complete(call: ProviderCall, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<ProviderResult> {
    let res: Anthropic.Message;
    try {
      res = await this.client.messages.create(
        {
          model: call.upstreamModel,
          max_tokens: call.maxTokens,
          messages: call.messages,
          ...(call.system !== null ? { system: call.system } : {}),
          ...(call.temperature !== null ? { temperature: call.temperature } : {}),
        },
        { timeout: opts.timeoutMs, signal: opts.signal, maxRetries: 0 },
      );
    } catch (err) {
      throw classifyUpstreamError(err, Anthropic);
    }
    return parseMessage(res);
  }
}

function parseMessage(res: Anthropic.Message): ProviderResult {
  if (!res || typeof res !== 'object' || !Array.isArray(res.content)) throw new ProviderError('bad_response', 'The provider sent an unreadable response.');
  if (res.stop_reason === 'refusal') throw new ProviderError('refusal', 'The model refused to answer.');
  const inputTokens = nonNegativeInt(res.usage?.input_tokens);
  const outputTokens = nonNegativeInt(res.usage?.output_tokens);
  if (inputTokens === null || outputTokens === null) throw new ProviderError('bad_response', 'The provider response had no token usage.');
  const text = res.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
  return { text, inputTokens, outputTokens, raw: res };
}
