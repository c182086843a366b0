import pino, { type Logger } from 'pino';
import type { Env } from './config/env.js';

/**
 * Structured JSON logs; keys, prompts and upstream credentials are never logged (redacted if
 * they slip in). Written asynchronously: one log line per request must not cost the event loop
 * a synchronous write(2); pino flushes what is buffered when the process exits.
 */
export function createLogger(env: Pick<Env, 'logLevel'>): Logger {
  return pino(
    {
      level: env.logLevel,
      base: undefined,
      redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.apiKey', '*.userKey', '*.agentKey', 'input.messages', 'input.system'], censor: '[redacted]' },
    },
    pino.destination({ dest: 1, sync: false }),
  );
}
