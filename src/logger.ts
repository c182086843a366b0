import pino, { type Logger } from 'pino';
import type { Env } from './config/env.js';

/**
 * Structured JSON logs; keys, prompts and upstream credentials are never logged (redacted if
 * they slip in). Written asynchronously and in batches: lines collect up to 4 KiB and at most
 * 250 ms before one write(2) — a write per request line cost ~0.3 ms of CPU per dispatch on this
 * machine (bench/NOTES.md); pino flushes what is buffered when the process exits.
 */
export function createLogger(env: Pick<Env, 'logLevel'>): Logger {
  return pino(
    {
      level: env.logLevel,
      base: undefined,
      redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.apiKey', '*.userKey', '*.agentKey', 'input.messages', 'input.system'], censor: '[redacted]' },
    },
    pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 250 }),
  );
}
