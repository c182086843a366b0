import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CLASSIFIER_MARKER,
  estimateInputTokens,
  startMockProvider,
  type MockProvider,
} from '../support/mock-provider.js';

const CLAUDE = 'claude-mock-1';
const GPT = 'gpt-mock-1';
const USER_TEXT = 'Please summarise the quarterly report.'; // 38 chars -> 10 tokens

function anthropicParams(model = CLAUDE, system?: string | Array<{ type: 'text'; text: string }>) {
  return {
    model,
    max_tokens: 64,
    messages: [{ role: 'user' as const, content: USER_TEXT }],
    ...(system === undefined ? {} : { system }),
  };
}

function openaiParams(model = GPT, system?: string) {
  return {
    model,
    messages: [
      ...(system === undefined ? [] : [{ role: 'system' as const, content: system }]),
      { role: 'user' as const, content: USER_TEXT },
    ],
  };
}

async function rejectionOf(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected promise to reject');
}

describe('mock provider', () => {
  let mock: MockProvider;
  let anthropic: Anthropic;
  let openai: OpenAI;

  beforeAll(async () => {
    mock = await startMockProvider();
    anthropic = new Anthropic({ apiKey: 'test', baseURL: mock.anthropicBaseUrl, maxRetries: 0 });
    openai = new OpenAI({ apiKey: 'test', baseURL: mock.openaiBaseUrl, maxRetries: 0 });
  });

  afterAll(async () => {
    await mock.close();
  });

  beforeEach(() => {
    mock.reset();
  });

  it('binds to loopback on a random port and exposes SDK base URLs', () => {
    expect(mock.port).toBeGreaterThan(0);
    expect(mock.anthropicBaseUrl).toBe(`http://127.0.0.1:${mock.port}`);
    expect(mock.openaiBaseUrl).toBe(`http://127.0.0.1:${mock.port}/v1`);
  });

  describe('success round-trip', () => {
    it('anthropic: message with text, usage and request id', async () => {
      const msg = await anthropic.messages.create(anthropicParams());
      expect(msg.type).toBe('message');
      expect(msg.role).toBe('assistant');
      expect(msg.model).toBe(CLAUDE);
      expect(msg.id).toMatch(/^msg_/);
      expect(msg.stop_reason).toBe('end_turn');
      expect(msg.content).toEqual([{ type: 'text', text: `Hello from ${CLAUDE}` }]);
      expect(msg.usage.input_tokens).toBe(10);
      expect(msg.usage.input_tokens).toBe(estimateInputTokens(anthropicParams()));
      expect(msg.usage.output_tokens).toBe(12);
      expect(msg._request_id).toMatch(/^req_/);

      expect(mock.calls).toHaveLength(1);
      const call = mock.calls[0];
      expect(call.protocol).toBe('anthropic');
      expect(call.kind).toBe('completion');
      expect(call.model).toBe(CLAUDE);
      expect(call.path).toBe('/v1/messages');
      expect(call.body.messages[0].content).toBe(USER_TEXT);
      // @anthropic-ai/sdk 1.x sends the apiKey as `Authorization: Bearer`, older versions as `x-api-key`.
      expect(call.headers['x-api-key'] ?? call.headers.authorization).toMatch(/^(Bearer )?test$/);
      expect(call.headers['anthropic-version']).toBeDefined();
      expect(typeof call.at).toBe('number');
    });

    it('openai: chat completion with text and usage', async () => {
      const res = await openai.chat.completions.create(openaiParams());
      expect(res.object).toBe('chat.completion');
      expect(res.id).toMatch(/^chatcmpl-/);
      expect(res.model).toBe(GPT);
      expect(res.choices[0].message.content).toBe(`Hello from ${GPT}`);
      expect(res.choices[0].message.refusal).toBeNull();
      expect(res.choices[0].finish_reason).toBe('stop');
      expect(res.usage).toEqual({ prompt_tokens: 10, completion_tokens: 12, total_tokens: 22 });

      expect(mock.callCount({ protocol: 'openai' })).toBe(1);
      const call = mock.calls[0];
      expect(call.path).toBe('/v1/chat/completions');
      expect(call.headers.authorization).toBe('Bearer test');
    });

    it('scripted ok overrides text and usage', async () => {
      mock.script({ behavior: { type: 'ok', text: 'custom', inputTokens: 100, outputTokens: 7 } });
      const msg = await anthropic.messages.create(anthropicParams());
      expect(msg.content).toEqual([{ type: 'text', text: 'custom' }]);
      expect(msg.usage).toMatchObject({ input_tokens: 100, output_tokens: 7 });
      const res = await openai.chat.completions.create(openaiParams());
      expect(res.choices[0].message.content).toBe('custom');
      expect(res.usage).toEqual({ prompt_tokens: 100, completion_tokens: 7, total_tokens: 107 });
    });
  });

  describe('classifier', () => {
    it('detects the marker in a string or text-block system prompt and answers "general" by default', async () => {
      const a = await anthropic.messages.create(anthropicParams(CLAUDE, `You are ${CLASSIFIER_MARKER}.`));
      expect(a.content).toEqual([{ type: 'text', text: 'general' }]);
      const b = await anthropic.messages.create(
        anthropicParams(CLAUDE, [
          { type: 'text', text: 'preamble' },
          { type: 'text', text: `route it ${CLASSIFIER_MARKER}` },
        ]),
      );
      expect(b.content).toEqual([{ type: 'text', text: 'general' }]);
      await anthropic.messages.create(anthropicParams(CLAUDE, 'an ordinary system prompt'));
      const o = await openai.chat.completions.create(openaiParams(GPT, CLASSIFIER_MARKER));
      expect(o.choices[0].message.content).toBe('general');

      expect(mock.calls.map((c) => c.kind)).toEqual(['classifier', 'classifier', 'completion', 'classifier']);
    });

    it('label behaviour returns exactly the label for classifier calls only (rule matched by kind)', async () => {
      mock.script({ kind: 'classifier', behavior: { type: 'label', label: 'code' } });
      const cls = await anthropic.messages.create(anthropicParams(CLAUDE, CLASSIFIER_MARKER));
      expect(cls.content).toEqual([{ type: 'text', text: 'code' }]);
      const completion = await anthropic.messages.create(anthropicParams());
      expect(completion.content).toEqual([{ type: 'text', text: `Hello from ${CLAUDE}` }]);
    });
  });

  describe('HTTP errors', () => {
    it('500 -> anthropic InternalServerError with the real error shape', async () => {
      mock.script({ behavior: { type: 'status', status: 500 } });
      const err = await rejectionOf(anthropic.messages.create(anthropicParams()));
      expect(err).toBeInstanceOf(Anthropic.InternalServerError);
      expect(err).toBeInstanceOf(Anthropic.APIError);
      expect(err.status).toBe(500);
      expect(err.error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
      expect(err.type).toBe('api_error');
      expect(err.requestID).toMatch(/^req_/);
    });

    it('500 -> openai InternalServerError with the real error shape', async () => {
      mock.script({ protocol: 'openai', behavior: { type: 'status', status: 500, message: 'boom' } });
      const err = await rejectionOf(openai.chat.completions.create(openaiParams()));
      expect(err).toBeInstanceOf(OpenAI.InternalServerError);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err.status).toBe(500);
      expect(err.message).toBe('500 boom');
      expect(err.error).toEqual({ message: 'boom', type: 'server_error', param: null, code: null });
    });

    it('529 -> anthropic OverloadedError', async () => {
      mock.script({ behavior: { type: 'status', status: 529 } });
      const err = await rejectionOf(anthropic.messages.create(anthropicParams()));
      expect(err).toBeInstanceOf(Anthropic.OverloadedError);
      expect(err).toBeInstanceOf(Anthropic.InternalServerError);
      expect(err.type).toBe('overloaded_error');
    });

    it('429 -> RateLimitError with retry-after (both SDKs)', async () => {
      mock.script({ behavior: { type: 'status', status: 429 } });
      const a = await rejectionOf(anthropic.messages.create(anthropicParams()));
      expect(a).toBeInstanceOf(Anthropic.RateLimitError);
      expect(a.status).toBe(429);
      expect(a.type).toBe('rate_limit_error');
      expect(a.headers.get('retry-after')).toBe('1');

      const o = await rejectionOf(openai.chat.completions.create(openaiParams()));
      expect(o).toBeInstanceOf(OpenAI.RateLimitError);
      expect(o.status).toBe(429);
      expect(o.headers.get('retry-after')).toBe('1');
    });

    it('custom status headers and body are passed through', async () => {
      mock.script({
        behavior: { type: 'status', status: 429, headers: { 'Retry-After': '7' }, body: { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } } },
      });
      const err = await rejectionOf(anthropic.messages.create(anthropicParams()));
      expect(err).toBeInstanceOf(Anthropic.RateLimitError);
      expect(err.headers.get('retry-after')).toBe('7');
      expect(err.apiMessage).toBe('slow down');
    });

    it('401 / 400 / 404 map to the matching SDK classes', async () => {
      mock.script({ times: 1, behavior: { type: 'status', status: 401 } });
      mock.script({ times: 1, behavior: { type: 'status', status: 400 } });
      mock.script({ times: 1, behavior: { type: 'status', status: 404 } });
      const e401 = await rejectionOf(anthropic.messages.create(anthropicParams()));
      const e400 = await rejectionOf(anthropic.messages.create(anthropicParams()));
      const e404 = await rejectionOf(openai.chat.completions.create(openaiParams()));
      expect(e401).toBeInstanceOf(Anthropic.AuthenticationError);
      expect(e401.type).toBe('authentication_error');
      expect(e400).toBeInstanceOf(Anthropic.BadRequestError);
      expect(e400.type).toBe('invalid_request_error');
      expect(e404).toBeInstanceOf(OpenAI.NotFoundError);
    });

    it('unknown routes -> 404 in the matching shape; stream: true -> 400', async () => {
      const a404 = await rejectionOf(anthropic.models.list());
      expect(a404).toBeInstanceOf(Anthropic.NotFoundError);
      expect(a404.type).toBe('not_found_error');
      const o404 = await rejectionOf(openai.embeddings.create({ model: 'e', input: 'x' }));
      expect(o404).toBeInstanceOf(OpenAI.NotFoundError);

      const stream = await rejectionOf(anthropic.messages.create({ ...anthropicParams(), stream: true }));
      expect(stream).toBeInstanceOf(Anthropic.BadRequestError);
      expect(mock.callCount()).toBe(3);
    });
  });

  describe('transport failures', () => {
    it('hang + SDK timeout -> APIConnectionTimeoutError quickly; the call is still recorded', async () => {
      mock.script({ behavior: { type: 'hang' } });
      const t0 = Date.now();
      const a = await rejectionOf(anthropic.messages.create(anthropicParams(), { timeout: 200 }));
      expect(a).toBeInstanceOf(Anthropic.APIConnectionTimeoutError);
      const o = await rejectionOf(openai.chat.completions.create(openaiParams(), { timeout: 200 }));
      expect(o).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(mock.callCount()).toBe(2);
    });

    it('garbage JSON -> SDK throws (a raw SyntaxError, not an APIError)', async () => {
      mock.script({ behavior: { type: 'garbage' } });
      const a = await rejectionOf(anthropic.messages.create(anthropicParams()));
      expect(a).toBeInstanceOf(SyntaxError);
      expect(a).not.toBeInstanceOf(Anthropic.APIError);
      const o = await rejectionOf(openai.chat.completions.create(openaiParams()));
      expect(o).toBeInstanceOf(SyntaxError);
    });

    it('wrong content-type -> SDKs resolve with the raw body string (no throw!)', async () => {
      mock.script({ behavior: { type: 'wrong-content-type' } });
      const a: unknown = await anthropic.messages.create(anthropicParams());
      expect(typeof a).toBe('string');
      expect(a).toContain('<html>');
      const o: unknown = await openai.chat.completions.create(openaiParams());
      expect(typeof o).toBe('string');
    });

    it('reset -> APIConnectionError (not a timeout)', async () => {
      mock.script({ behavior: { type: 'reset' } });
      const a = await rejectionOf(anthropic.messages.create(anthropicParams()));
      expect(a).toBeInstanceOf(Anthropic.APIConnectionError);
      expect(a).not.toBeInstanceOf(Anthropic.APIConnectionTimeoutError);
      const o = await rejectionOf(openai.chat.completions.create(openaiParams()));
      expect(o).toBeInstanceOf(OpenAI.APIConnectionError);
    });

    it('trickle delivers a valid response slowly', async () => {
      mock.script({ behavior: { type: 'trickle', chunks: 4, chunkDelayMs: 30, text: 'slow' } });
      const t0 = Date.now();
      const msg = await anthropic.messages.create(anthropicParams());
      expect(Date.now() - t0).toBeGreaterThanOrEqual(85);
      expect(msg.content).toEqual([{ type: 'text', text: 'slow' }]);
      expect(msg.usage.output_tokens).toBe(12);
    });

    it('ok with delayMs delays the response', async () => {
      mock.script({ behavior: { type: 'ok', delayMs: 60 } });
      const t0 = Date.now();
      await openai.chat.completions.create(openaiParams());
      expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
    });
  });

  describe('refusal', () => {
    it('anthropic: stop_reason refusal; openai: refusal field', async () => {
      mock.script({ behavior: { type: 'refusal' } });
      const a = await anthropic.messages.create(anthropicParams());
      expect(a.stop_reason).toBe('refusal');
      const o = await openai.chat.completions.create(openaiParams());
      expect(o.choices[0].message.content).toBeNull();
      expect(typeof o.choices[0].message.refusal).toBe('string');
      expect(o.choices[0].message.refusal!.length).toBeGreaterThan(0);
    });

    it('empty refusal text gives an empty anthropic content array', async () => {
      mock.script({ behavior: { type: 'refusal', text: '' } });
      const a = await anthropic.messages.create(anthropicParams());
      expect(a.stop_reason).toBe('refusal');
      expect(a.content).toEqual([]);
    });
  });

  describe('rules and counting', () => {
    it('times consumption: rule is used n times, then falls through', async () => {
      mock.script({ protocol: 'anthropic', times: 2, behavior: { type: 'status', status: 500 } });
      await expect(anthropic.messages.create(anthropicParams())).rejects.toBeInstanceOf(Anthropic.InternalServerError);
      await expect(anthropic.messages.create(anthropicParams())).rejects.toBeInstanceOf(Anthropic.InternalServerError);
      const ok = await anthropic.messages.create(anthropicParams());
      expect(ok.stop_reason).toBe('end_turn');
      expect(mock.callCount()).toBe(3);
    });

    it('first matching rule wins; model / protocol filters; regex models', async () => {
      mock.script({ model: 'claude-b', behavior: { type: 'ok', text: 'B' } });
      mock.script({ model: /^claude-/, behavior: { type: 'ok', text: 'any claude' } });
      mock.script({ protocol: 'openai', behavior: { type: 'ok', text: 'oa' } });
      mock.script({ behavior: { type: 'ok', text: 'unreachable for these' } });
      const b = await anthropic.messages.create(anthropicParams('claude-b'));
      const a = await anthropic.messages.create(anthropicParams('claude-a'));
      const o = await openai.chat.completions.create(openaiParams());
      expect(b.content).toEqual([{ type: 'text', text: 'B' }]);
      expect(a.content).toEqual([{ type: 'text', text: 'any claude' }]);
      expect(o.choices[0].message.content).toBe('oa');
    });

    it('callCount filters by kind, model and protocol', async () => {
      await anthropic.messages.create(anthropicParams('claude-a', CLASSIFIER_MARKER));
      await anthropic.messages.create(anthropicParams('claude-a'));
      await anthropic.messages.create(anthropicParams('claude-b'));
      await openai.chat.completions.create(openaiParams('gpt-a'));
      await openai.chat.completions.create(openaiParams('gpt-a', CLASSIFIER_MARKER));

      expect(mock.callCount()).toBe(5);
      expect(mock.callCount({ kind: 'classifier' })).toBe(2);
      expect(mock.callCount({ kind: 'completion' })).toBe(3);
      expect(mock.callCount({ model: 'claude-a' })).toBe(2);
      expect(mock.callCount({ model: 'claude-a', kind: 'completion' })).toBe(1);
      expect(mock.callCount({ protocol: 'openai' })).toBe(2);
      expect(mock.callCount({ protocol: 'anthropic', kind: 'classifier' })).toBe(1);
      expect(mock.callCount({ model: 'nope' })).toBe(0);
    });

    it('reset() clears rules and calls (calls array identity is kept)', async () => {
      const calls = mock.calls;
      mock.script({ behavior: { type: 'status', status: 500 } });
      await expect(anthropic.messages.create(anthropicParams())).rejects.toBeInstanceOf(Anthropic.APIError);
      expect(calls).toHaveLength(1);
      mock.reset();
      expect(mock.calls).toBe(calls);
      expect(mock.calls).toHaveLength(0);
      const ok = await anthropic.messages.create(anthropicParams());
      expect(ok.stop_reason).toBe('end_turn');
    });
  });
});

describe('mock provider lifecycle', () => {
  it('close() ends hanging requests', async () => {
    const m = await startMockProvider();
    const client = new Anthropic({ apiKey: 'test', baseURL: m.anthropicBaseUrl, maxRetries: 0 });
    m.script({ behavior: { type: 'hang' } });
    const pending = rejectionOf(client.messages.create(anthropicParams()));
    // wait until the request has been received
    for (let i = 0; i < 200 && m.callCount() === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(m.callCount()).toBe(1);
    const t0 = Date.now();
    await m.close();
    const err = await pending;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(err).toBeInstanceOf(Anthropic.APIConnectionError);
    expect(err).not.toBeInstanceOf(Anthropic.APIConnectionTimeoutError);
    await m.close(); // idempotent
  });

  it('record: false still applies rules but keeps no call log', async () => {
    const m = await startMockProvider({ record: false });
    try {
      const client = new Anthropic({ apiKey: 'test', baseURL: m.anthropicBaseUrl, maxRetries: 0 });
      m.script({ kind: 'classifier', behavior: { type: 'label', label: 'math' } });
      const msg = await client.messages.create(anthropicParams(CLAUDE, CLASSIFIER_MARKER));
      expect(msg.content).toEqual([{ type: 'text', text: 'math' }]);
      expect(m.callCount()).toBe(0);
    } finally {
      await m.close();
    }
  });

  it('latencyMs delays successful responses; errors still map correctly', async () => {
    const m = await startMockProvider({ latencyMs: 50 });
    try {
      const client = new OpenAI({ apiKey: 'test', baseURL: m.openaiBaseUrl, maxRetries: 0 });
      const t0 = Date.now();
      await client.chat.completions.create(openaiParams());
      expect(Date.now() - t0).toBeGreaterThanOrEqual(45);

      m.script({ behavior: { type: 'status', status: 503 } });
      const err = await rejectionOf(client.chat.completions.create(openaiParams()));
      expect(err).toBeInstanceOf(OpenAI.InternalServerError);
      expect(err.status).toBe(503);
    } finally {
      await m.close();
    }
  });
});
