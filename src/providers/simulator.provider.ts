import { estimateInputTokens } from '../modules/routing/sixteen.js';
import type { ProviderAdapter, ProviderCall, ProviderResult } from './provider.js';

/**
 * The built-in offline provider: deterministic answers in-process, so a first run with no
 * credentials works end to end. Every inference it answers says provider `simulator`.
 */
export class SimulatorProvider implements ProviderAdapter {
  readonly slug = 'simulator';

  async complete(call: ProviderCall): Promise<ProviderResult> {
    const last = call.messages[call.messages.length - 1]?.content ?? '';
    const words = last.split(/\s+/).filter(Boolean).length;
    const text = `[simulated by ${call.upstreamModel}] I received ${call.messages.length} message(s); the last has ${words} word(s).`;
    const outputTokens = Math.min(call.maxTokens, Math.max(1, Math.ceil(text.length / 4)));
    const inputTokens = estimateInputTokens(call.system, call.messages);
    return { text, inputTokens, outputTokens, raw: { simulated: true, model: call.upstreamModel, text, usage: { inputTokens, outputTokens } } };
  }
}
