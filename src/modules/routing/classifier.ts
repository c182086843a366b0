import Anthropic from '@anthropic-ai/sdk';
import { classifyUpstreamError } from '../../providers/provider.js';
import { parseClassifierLabel, TASK_TYPES, type TaskType } from './sixteen.js';

export type ClassifierOutcome = 'labelled' | 'invalid_label' | 'refusal' | 'timeout' | 'error' | 'not_configured';

export interface Classification {
  label: TaskType | null;
  outcome: ClassifierOutcome;
  latencyMs: number;
}

export interface Classifier {
  classify(input: { system: string | null; messages: Array<{ role: string; content: string }> }, opts: { timeoutMs: number }): Promise<Classification>;
}

/** The marker lets a test double tell classifier calls from completions; it costs a few tokens. */
export const CLASSIFIER_MARKER = 'AINFERA_CLASSIFIER';
const SYSTEM_PROMPT = `${CLASSIFIER_MARKER} v1. You label requests sent to a language model. Reply with exactly one word, the task type that best describes the request, chosen from: ${TASK_TYPES.join(', ')}. No other text.`;
const EXCERPT_CHARS = 4000;

/** Asks a small Anthropic model for one label; never throws: every failure is an outcome. */
export class AnthropicClassifier implements Classifier {
  private readonly client: Anthropic;

  constructor(private readonly opts: { apiKey: string; baseUrl?: string; model: string; timeoutMs: number; fetch?: typeof fetch }) {
    this.client = new Anthropic({ apiKey: opts.apiKey, baseURL: opts.baseUrl, maxRetries: 0, timeout: opts.timeoutMs, fetch: opts.fetch });
  }

  async classify(input: { system: string | null; messages: Array<{ role: string; content: string }> }, { timeoutMs }: { timeoutMs: number }): Promise<Classification> {
    const started = performance.now();
    const done = (label: TaskType | null, outcome: ClassifierOutcome): Classification => ({ label, outcome, latencyMs: Math.round(performance.now() - started) });
    try {
      const res = await this.client.messages.create(
        { model: this.opts.model, max_tokens: 8, system: SYSTEM_PROMPT, messages: [{ role: 'user', content: excerpt(input) }] },
        { timeout: Math.max(1, Math.min(timeoutMs, this.opts.timeoutMs)), maxRetries: 0 },
      );
      if (res.stop_reason === 'refusal') return done(null, 'refusal');
      const text = Array.isArray(res.content) ? res.content.map((b) => (b.type === 'text' ? b.text : '')).join('') : '';
      const label = parseClassifierLabel(text);
      return label ? done(label, 'labelled') : done(null, 'invalid_label');
    } catch (err) {
      return done(null, classifyUpstreamError(err, Anthropic).outcome === 'timeout' ? 'timeout' : 'error');
    }
  }
}

export const noClassifier: Classifier = {
  classify: async () => ({ label: null, outcome: 'not_configured', latencyMs: 0 }),
};

/** The request the classifier sees: the system prompt and the conversation, truncated. */
function excerpt(input: { system: string | null; messages: Array<{ role: string; content: string }> }): string {
  const parts = input.system ? [`[system] ${input.system}`] : [];
  for (const m of input.messages) parts.push(`[${m.role}] ${m.content}`);
  const text = parts.join('\n');
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
}
