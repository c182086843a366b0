import type { Env } from '../config/env.js';
import { AnthropicProvider } from './anthropic.provider.js';
import { OpenAIProvider } from './openai.provider.js';
import type { ProviderAdapter } from './provider.js';
import { SimulatorProvider } from './simulator.provider.js';
import type { ProviderTransport } from './transport.js';

/** The configured providers, by catalog slug. A provider without an adapter here is "not configured". */
export class ProviderRegistry {
  private readonly adapters = new Map<string, ProviderAdapter>();

  constructor(adapters: ProviderAdapter[]) {
    for (const a of adapters) this.adapters.set(a.slug, a);
  }

  /** The provider slugs `env` configures, sorted: the slugs fromEnv builds adapters for (the banner of a primary that builds none). */
  static slugsIn(env: Env): string[] {
    return [...(env.anthropic ? ['anthropic'] : []), ...(env.openai ? ['openai'] : []), ...(env.simulator ? ['simulator'] : [])].sort();
  }

  /** The SDK adapters share one keep-alive transport (transport.ts); pass the classifier's too, so one Agent serves all. */
  static fromEnv(env: Env, transport: ProviderTransport): ProviderRegistry {
    const adapters: ProviderAdapter[] = [];
    if (env.anthropic) adapters.push(new AnthropicProvider({ apiKey: env.anthropic.apiKey, baseUrl: env.anthropic.baseUrl, fetch: transport.fetch }));
    if (env.openai) adapters.push(new OpenAIProvider({ apiKey: env.openai.apiKey, baseUrl: env.openai.baseUrl, fetch: transport.fetch }));
    if (env.simulator) adapters.push(new SimulatorProvider());
    return new ProviderRegistry(adapters);
  }

  get(slug: string): ProviderAdapter | undefined {
    return this.adapters.get(slug);
  }

  isConfigured(slug: string): boolean {
    return this.adapters.has(slug);
  }
}
