/**
 * Summaries of a V8 CPU profile (the `Profiler.stop` result, same format as `node --cpu-prof`):
 * self time by function and by component (our src/, each npm package, Node internals, GC).
 */
import path from 'node:path';
import { ROOT } from './proc.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileRow {
  name: string;
  ms: number;
  /** Share of busy (non-idle) time, %. */
  pct: number;
}

export interface ProfileSummary {
  label: string;
  wallMs: number;
  busyMs: number;
  idleMs: number;
  /** Operations completed in the window (e.g. dispatches), when known. */
  operations: number | null;
  busyMsPerOperation: number | null;
  /** Self time by where the code lives. */
  byComponent: ProfileRow[];
  /**
   * Time charged to the nearest caller that is a package or one of our files: Node internals,
   * native code and GC-free runtime work count for whoever called them (undici's fetch, behind the
   * Anthropic SDK, counts as its own owner). "What the server does", rather than "where the CPU is".
   */
  byOwner: ProfileRow[];
  topFunctions: ProfileRow[];
  /** Where the raw profile was written (open it in Chrome DevTools → Performance). */
  file: string | null;
}

function component(url: string, fn: string): string {
  if (!url) {
    if (fn === '(idle)') return '(idle)';
    if (fn === '(garbage collector)') return 'GC';
    if (fn === '(program)') return 'V8/native (program)';
    return `native: ${fn || '(anonymous)'}`;
  }
  if (url.startsWith('node:')) return 'node internals';
  const p = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  const nm = p.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const parts = p.slice(nm + 14).split('/');
    return `npm: ${parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  const rel = sourcePath(p);
  if (rel.startsWith('src/')) return `ours: ${rel.split('/').slice(0, 3).join('/')}`;
  return rel.startsWith('..') ? p : rel;
}

/** A file of ours relative to the root, as its source: dist/src/x.js (the compiled build the benchmark runs) → src/x.js. */
function sourcePath(file: string): string {
  return path.relative(ROOT, file).replace(/^dist\//, '');
}

/** The owner of a frame, or null for Node internals and native frames (which are charged to their caller). */
function owner(frame: CallFrame): string | null {
  const url = frame.url;
  if (!url) return null;
  if (url.startsWith('node:internal/deps/undici')) return 'node fetch (undici)';
  if (url.startsWith('node:')) return null;
  return component(url, frame.functionName);
}

function location(frame: CallFrame): string {
  if (!frame.url) return frame.functionName || '(anonymous)';
  const p = frame.url.startsWith('file://') ? decodeURIComponent(new URL(frame.url).pathname) : frame.url;
  const nm = p.lastIndexOf('/node_modules/');
  const short = nm !== -1 ? p.slice(nm + 14) : sourcePath(p).startsWith('..') ? p : sourcePath(p);
  return `${frame.functionName || '(anonymous)'} ${short}:${frame.lineNumber + 1}`;
}

export function summarizeProfile(profile: CpuProfile, opts: { label: string; operations?: number; top?: number; file?: string | null }): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ownerOf = new Map<number, string>();
  const ownerFor = (id: number): string => {
    const cached = ownerOf.get(id);
    if (cached) return cached;
    let cur: number | undefined = id;
    let found: string | null = null;
    while (cur !== undefined && found === null) {
      found = owner(byId.get(cur)!.callFrame);
      cur = parent.get(cur);
    }
    const leaf = byId.get(id)!.callFrame;
    const result = found ?? component(leaf.url, leaf.functionName);
    ownerOf.set(id, result);
    return result;
  };
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // Sample i lasted from its timestamp until the next one: charge timeDeltas[i + 1] to it.
  for (let i = 0; i < samples.length; i++) {
    const dt = (i + 1 < deltas.length ? deltas[i + 1] : 0) / 1000;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + dt);
  }
  const byComponent = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let idle = 0;
  let total = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    total += ms;
    const comp = component(node.callFrame.url, node.callFrame.functionName);
    if (comp === '(idle)') {
      idle += ms;
      continue;
    }
    byComponent.set(comp, (byComponent.get(comp) ?? 0) + ms);
    const own = ownerFor(id);
    byOwner.set(own, (byOwner.get(own) ?? 0) + ms);
    const loc = location(node.callFrame);
    byFunction.set(loc, (byFunction.get(loc) ?? 0) + ms);
  }
  const busy = total - idle;
  const rows = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => ({ name, ms: round(ms, 1), pct: round((100 * ms) / busy, 1) }));
  const ops = opts.operations ?? null;
  return {
    label: opts.label,
    wallMs: round((profile.endTime - profile.startTime) / 1000, 0),
    busyMs: round(busy, 0),
    idleMs: round(idle, 0),
    operations: ops,
    busyMsPerOperation: ops ? round(busy / ops, 3) : null,
    byComponent: rows(byComponent, 14),
    byOwner: rows(byOwner, 16),
    topFunctions: rows(byFunction, opts.top ?? 20),
    file: opts.file ?? null,
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
