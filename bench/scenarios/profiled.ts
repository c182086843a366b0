/** A load window with the server's V8 sampling profiler on (in-process, started and stopped over IPC). */
import fs from 'node:fs';
import path from 'node:path';
import { type CpuProfile, type ProfileSummary, summarizeProfile } from '../profile.js';
import type { Stack } from '../stack.js';

export async function profiled(stack: Stack, opts: { label: string; file: string }, run: () => Promise<{ ok: number }>): Promise<ProfileSummary> {
  const server = stack.server;
  if (!server) throw new Error('no server to profile');
  await server.ipc.call('profile', { action: 'start', intervalUs: 500 });
  let done: { ok: number } | null = null;
  let profile: CpuProfile;
  try {
    done = await run();
  } finally {
    profile = await server.ipc.call<CpuProfile>('profile', { action: 'stop' });
  }
  fs.mkdirSync(path.dirname(opts.file), { recursive: true });
  fs.writeFileSync(opts.file, JSON.stringify(profile));
  return summarizeProfile(profile, { label: opts.label, operations: done.ok, file: opts.file });
}
