/**
 * The peer: Portkey's open-source gateway (@portkey-ai/gateway, its Node server as shipped),
 * in a process of its own.
 *
 *   node --import tsx bench/peer-portkey.ts --port N
 *
 * Portkey's start-server.js takes `--port=N` and listens on every interface; this wrapper binds
 * it to 127.0.0.1 instead (the benchmark stays on loopback) and runs it unchanged otherwise,
 * `--headless` (no log UI). Requests go to POST /v1/chat/completions in the OpenAI format with
 * `x-portkey-provider: anthropic` and `x-portkey-custom-host: <mock>/v1`: Portkey builds the
 * upstream URL as custom host + the provider's endpoint (`/messages` for Anthropic), so the
 * mock sees the same POST /v1/messages our server sends. Portkey keeps nothing: no database,
 * no audit, no request log beyond its in-memory log stream.
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const PORTKEY_VERSION: string = (createRequire(import.meta.url)('@portkey-ai/gateway/package.json') as { version: string }).version;

/** The OpenAI-format request through Portkey to the mock's Anthropic endpoint. */
export function portkeyTarget(origin: string, mockAnthropicBaseUrl: string, prompt: string) {
  return {
    origin,
    path: '/v1/chat/completions',
    headers: {
      'x-portkey-provider': 'anthropic',
      'x-portkey-custom-host': `${mockAnthropicBaseUrl}/v1`,
      authorization: 'Bearer bench-anthropic-key',
    },
    bodies: [JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 1024, messages: [{ role: 'user', content: prompt }] })],
    expect: { status: 200, contains: '"chat.completion"' },
  };
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--port');
  const port = Number(process.argv[i + 1]);
  if (i === -1 || !Number.isInteger(port) || port <= 0) throw new Error('usage: peer-portkey.ts --port N');
  // Bind whatever Portkey listens on to loopback.
  const listen = net.Server.prototype.listen as (...a: unknown[]) => net.Server;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    const first = args[0];
    if (typeof first === 'number') {
      // listen(port[, host][, backlog][, callback]): keep backlog and callback, replace the host.
      const rest = args.slice(1).filter((a) => typeof a === 'function' || typeof a === 'number');
      return listen.call(this, first, '127.0.0.1', ...rest);
    }
    if (first && typeof first === 'object' && 'port' in first) return listen.call(this, { ...(first as object), host: '127.0.0.1' }, ...args.slice(1));
    return listen.apply(this, args);
  } as typeof net.Server.prototype.listen;
  // Its console output (a spinner, a banner) is noise here; keep errors.
  console.log = () => {};
  console.clear = () => {};
  process.argv = [process.argv[0], 'start-server.js', `--port=${port}`, '--headless'];
  const entry = path.join(path.dirname(createRequire(import.meta.url).resolve('@portkey-ai/gateway/package.json')), 'build/start-server.js');
  await import(pathToFileURL(entry).href);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
