/**
 * Child processes of the benchmark (server, mock, load generator, Portkey, bare http, pg floor)
 * and what /proc says about them. Every child is tracked so the orchestrator can end exactly the
 * processes it started, by pid, on any exit.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { PROJECT_ROOT } from '../src/shared/paths.js';

export const ROOT = PROJECT_ROOT;
const children = new Set<ChildProcess>();

/** Compile everything the children run (`npm run build` → dist/), so they run as `npm start` runs the server. */
export function buildDist(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
}

/** `node dist/<file>.js` (built by buildDist); the pid is the real node process, with no wrapper in between. */
export function spawnCompiled(file: string, args: string[], opts: { ipc?: boolean; log?: string; env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {}): ChildProcess {
  const out = opts.log ? fs.openSync(opts.log, 'a') : 'ignore';
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), path.join(ROOT, 'dist', file.replace(/\.ts$/, '.js')), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: opts.ipc ? ['ignore', out, out, 'ipc'] : ['pipe', 'pipe', out],
  });
  track(child);
  return child;
}

export function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** SIGTERM every child still running (each by its own pid); used on exit and on SIGINT. */
export function killChildren(): void {
  for (const c of children) {
    if (c.pid !== undefined && c.exitCode === null) {
      try {
        process.kill(c.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  }
}

export function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Stop a child: SIGTERM, then SIGKILL after a grace period. */
export async function stopChild(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  if (!(await waitExit(child, graceMs))) {
    child.kill('SIGKILL');
    await waitExit(child, 5_000);
  }
}

/** The first line a child prints on stdout, parsed as JSON. */
export function firstJsonLine<T>(child: ChildProcess, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout! });
    const t = setTimeout(() => reject(new Error(`${what}: no output after ${timeoutMs} ms`)), timeoutMs);
    rl.once('line', (line) => {
      clearTimeout(t);
      try {
        resolve(JSON.parse(line) as T);
      } catch {
        reject(new Error(`${what}: expected one JSON line, got ${line.slice(0, 200)}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${what} exited with ${String(code)} before it was ready`));
    });
  });
}

/** A JSON-lines request/response channel over a child's stdin/stdout (one request at a time). */
export class LineChannel {
  private readonly rl: readline.Interface;
  private pending: { resolve: (v: unknown) => void; reject: (e: Error) => void } | null = null;

  constructor(
    private readonly child: ChildProcess,
    private readonly what: string,
  ) {
    this.rl = readline.createInterface({ input: child.stdout! });
    this.rl.on('line', (line) => {
      const p = this.pending;
      this.pending = null;
      if (!p) return;
      try {
        p.resolve(JSON.parse(line));
      } catch {
        p.reject(new Error(`${what}: unreadable output ${line.slice(0, 200)}`));
      }
    });
    child.once('exit', (code) => {
      this.exited = `${what} exited with ${String(code)}`;
      this.pending?.reject(new Error(this.exited));
    });
  }

  /** Why the child is gone, once it is: a job sent after that would wait forever. */
  exited: string | null = null;

  call<T>(job: unknown): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.exited} (see its log)`));
    if (this.pending) throw new Error(`${this.what}: one job at a time`);
    return new Promise<T>((resolve, reject) => {
      this.pending = { resolve: resolve as (v: unknown) => void, reject };
      this.child.stdin!.write(`${JSON.stringify(job)}\n`);
    });
  }
}

/** Request/response over a child's IPC channel. */
export class IpcChannel {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(
    readonly child: ChildProcess,
    private readonly what: string,
  ) {
    child.on('message', (m: { id?: number; ok?: boolean; result?: unknown; error?: string }) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${what}: ${m.error}`));
    });
    child.once('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`${what} exited with ${String(code)}`));
      this.pending.clear();
    });
  }

  call<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, cmd, ...args });
    });
  }
}

/** Wait for the first IPC message of the given type. */
export function ipcMessage<T>(child: ChildProcess, type: string, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: not ready after ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: { type?: string }) => {
      if (m.type !== type) return;
      clearTimeout(t);
      child.off('message', onMessage);
      resolve(m as T);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${what} exited with ${String(code)} before it was ready`));
    });
  });
}

// --- /proc -----------------------------------------------------------------------------------

let clkTck = 0;
function ticksPerSecond(): number {
  if (!clkTck) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** utime and stime (ms) from a /proc stat file. */
function userSys(file: string): { user: number; sys: number } {
  const stat = fs.readFileSync(file, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = 1000 / ticksPerSecond();
  return { user: Number(rest[11]) * tick, sys: Number(rest[12]) * tick };
}

/**
 * utime + stime of one process (all its threads), plus cutime + cstime — its children that have
 * exited and been waited for — in ms. So a PostgreSQL backend that ends during a measurement
 * (a pool closing an idle connection) still counts, through the postmaster, instead of taking
 * its whole past CPU out of the sum.
 */
export function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14])) * (1000 / ticksPerSecond());
}

/**
 * CPU of a process split into user/kernel time and into its main thread (JavaScript, and the
 * syscalls it makes) vs its other threads (V8's GC and compiler helpers, libuv's pool), in ms.
 */
export function cpuBreakdown(pid: number): { user: number; sys: number; mainThread: number; otherThreads: number } {
  const all = userSys(`/proc/${pid}/stat`);
  const main = userSys(`/proc/${pid}/task/${pid}/stat`);
  return { user: all.user, sys: all.sys, mainThread: main.user + main.sys, otherThreads: all.user + all.sys - main.user - main.sys };
}

/** VmRSS and VmHWM of one process, in KiB. */
export function memoryKiB(pid: number): { rss: number; hwm: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** Every descendant pid of a process (e.g. the embedded PostgreSQL's postmaster and backends). */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(entry), ppid);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent) {
      if (pp === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

/** `run`, and the CPU ms each named set of processes spent while it ran. */
export async function cpuDuring<T>(
  pids: Record<string, number[]>,
  run: () => Promise<T>,
  /** Groups whose processes can start during the run (PostgreSQL backends of new connections): listed again at the end, and a new one counts all its CPU. */
  relist: Record<string, () => number[]> = {},
): Promise<{ result: T; cpuMs: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, v]) => [k, cpuMsOf(v)]));
  const result = await run();
  const after = (k: string, v: number[]) => cpuMsOf(relist[k] ? [...new Set([...v, ...relist[k]()])] : v);
  return { result, cpuMs: Object.fromEntries(Object.entries(pids).map(([k, v]) => [k, after(k, v) - before[k]])) };
}

/** Summed CPU ms of a set of processes (those that exited meanwhile count as 0). */
export function cpuMsOf(pids: number[]): number {
  let total = 0;
  for (const p of pids) {
    try {
      total += cpuMs(p);
    } catch {
      /* gone */
    }
  }
  return total;
}

export function cpuModel(): string {
  const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1] ?? 'unknown';
  const cores = (info.match(/^processor\s*:/gm) ?? []).length;
  return `${model} (${cores} logical cores)`;
}

export function loadAverage(): string {
  return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
