import OpenAI from 'openai';
import { classifyUpstreamError, nonNegativeInt, type ProviderAdapter, type ProviderCall, ProviderError, type ProviderResult } from './provider.js';

/** OpenAI-compatible chat completions through the official SDK. */
export class OpenAIProvider implements ProviderAdapter {
  readonly slug = 'openai';
  private readonly client: OpenAI;

  constructor(opts: { apiKey: string; baseUrl?: string; fetch?: typeof fetch }) {
    this.client = new OpenAI({ apiKey: opts.apiKey, baseURL: opts.baseUrl, maxRetries: 0, fetch: opts.fetch });
  }

  async complete(call: ProviderCall, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<ProviderResult> {
    let res: OpenAI.Chat.Completions.ChatCompletion;
    try {
      res = await this.client.chat.completions.create(
        {
          model: call.upstreamModel,
          max_completion_tokens: call.maxTokens,
          messages: [...(call.system !== null ? [{ role: 'system' as const, content: call.system }] : []), ...call.messages],
          ...(call.temperature !== null ? { temperature: call.temperature } : {}),
        },
        { timeout: opts.timeoutMs, signal: opts.signal, maxRetries: 0 },
      );
    } catch (err) {
      throw classifyUpstreamError(err, OpenAI);
    }
    const choice = Array.isArray(res?.choices) ? res.choices[0] : undefined;
    if (!choice?.message) throw new ProviderError('bad_response', 'The provider sent an unreadable response.');
    if (choice.message.refusal) throw new ProviderError('refusal', 'The model refused to answer.');
    const inputTokens = nonNegativeInt(res.usage?.prompt_tokens);
    const outputTokens = nonNegativeInt(res.usage?.completion_tokens);
    if (inputTokens === null || outputTokens === null) throw new ProviderError('bad_response', 'The provider response had no token usage.');
    return { text: choice.message.content ?? '', inputTokens, outputTokens, raw: res };
  }
}
