/**
 * GraphiQL served from the project's own dependencies, for air-gapped deployments: the page at
 * `GET /graphql` (for browsers, i.e. `accept: text/html` and no `query` parameter) and its
 * scripts and styles under `/graphiql/assets/`, straight out of node_modules (the UMD bundles of
 * `graphiql@3`, `react@18` and `react-dom@18`). Nothing is fetched from a CDN and nothing is
 * bundled at run time.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { CLIENT_SCRIPT, DEFAULT_QUERY, defaultHeaders, PAGE_CSS, renderPage } from './page.js';

const gzip = promisify(gzipCb);
const require = createRequire(import.meta.url);

export const ASSET_PREFIX = '/graphiql/assets/';

export interface GraphiqlOptions {
  /** The GraphQL endpoint path; the page is served on it and GraphiQL posts to it. */
  endpoint: string;
  /** Replaces the key placeholder in the prefilled `Authorization` header. */
  exampleKeyHint?: string;
}

/**
 * Scripts need only 'self' (the page's configuration is a JSON data block, not a script). GraphiQL
 * and CodeMirror set inline styles, hence 'unsafe-inline' for styles; its fonts and icons are
 * data: URLs. The bundles need no eval.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface AssetSource {
  type: string;
  /** Package and path inside it, resolved through node_modules. */
  pkg?: string;
  file?: string;
  /** Or the content itself. */
  text?: string;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** The whitelist: nothing else under ASSET_PREFIX is ever read from disk. */
const SOURCES: Record<string, AssetSource> = {
  'react.production.min.js': { type: JS, pkg: 'react', file: 'umd/react.production.min.js' },
  'react-dom.production.min.js': { type: JS, pkg: 'react-dom', file: 'umd/react-dom.production.min.js' },
  'graphiql.min.js': { type: JS, pkg: 'graphiql', file: 'graphiql.min.js' },
  'graphiql.min.css': { type: CSS, pkg: 'graphiql', file: 'graphiql.min.css' },
  'ainfera-graphiql.js': { type: JS, text: CLIENT_SCRIPT },
  'ainfera-graphiql.css': { type: CSS, text: PAGE_CSS },
};

interface Asset {
  type: string;
  body: Buffer;
  etag: string;
  gzipped?: Promise<Buffer>;
}

/** The directory of an installed package, found from its entry point (some packages export no subpaths). */
function packageRoot(name: string): string {
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name) return dir;
      } catch {
        // not the package's own manifest; keep climbing
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`GraphiQL: cannot locate the installed package "${name}"`);
    dir = parent;
  }
}

let assetsPromise: Promise<Map<string, Asset>> | null = null;

/** Every asset, read once and kept in memory (about 4 MB), each with a content hash for ETag and cache busting. */
function loadAssets(): Promise<Map<string, Asset>> {
  assetsPromise ??= (async () => {
    const assets = new Map<string, Asset>();
    for (const [name, src] of Object.entries(SOURCES)) {
      const body = src.text !== undefined ? Buffer.from(src.text, 'utf8') : await readFile(path.join(packageRoot(src.pkg!), src.file!));
      const etag = createHash('sha256').update(body).digest('base64url').slice(0, 16);
      assets.set(name, { type: src.type, body, etag });
    }
    return assets;
  })();
  assetsPromise.catch(() => {
    assetsPromise = null;
  });
  return assetsPromise;
}

function acceptsHtml(req: IncomingMessage): boolean {
  return String(req.headers.accept ?? '').toLowerCase().includes('text/html');
}

function acceptsGzip(req: IncomingMessage): boolean {
  return /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''));
}

function sendText(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), 'x-content-type-options': 'nosniff', ...extra });
  res.end(text);
}

async function servePage(req: IncomingMessage, res: ServerResponse, opts: GraphiqlOptions): Promise<void> {
  const assets = await loadAssets();
  const html = renderPage(
    {
      endpoint: opts.endpoint,
      defaultQuery: DEFAULT_QUERY,
      defaultHeaders: defaultHeaders(opts.exampleKeyHint),
      needKeyMessage:
        'No API key yet: set the Authorization header (Headers tab, below the editor) to Bearer <key> ' +
        'to load the schema and the Docs. Running locally, the demo keys are in .data/demo-keys.json ' +
        '(also printed by npm start).',
    },
    (name) => `${ASSET_PREFIX}${name}?v=${assets.get(name)!.etag}`,
  );
  const body = Buffer.from(html, 'utf8');
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(body.length),
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
    vary: 'accept',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

async function serveAsset(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'Method not allowed.\n', { allow: 'GET, HEAD' });
  if (!Object.hasOwn(SOURCES, name)) return sendText(res, 404, 'Not found.\n');
  const asset = (await loadAssets()).get(name)!;
  const etag = `"${asset.etag}"`;
  const headers: Record<string, string> = {
    'content-type': asset.type,
    'cache-control': 'public, max-age=86400',
    etag,
    vary: 'accept-encoding',
    'x-content-type-options': 'nosniff',
  };
  const inm = req.headers['if-none-match'];
  if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
    res.writeHead(304, headers);
    return void res.end();
  }
  let body = asset.body;
  if (body.length > 1024 && acceptsGzip(req)) {
    asset.gzipped ??= gzip(asset.body);
    body = await asset.gzipped;
    headers['content-encoding'] = 'gzip';
  }
  headers['content-length'] = String(body.length);
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * Handles the GraphiQL page and its assets; resolves false for anything else (left to the caller).
 * `url` is the request's URL as the server parsed it (once per request).
 */
export async function graphiqlRoutes(req: IncomingMessage, res: ServerResponse, opts: GraphiqlOptions, url: URL): Promise<boolean> {
  const method = req.method ?? 'GET';

  if (url.pathname.startsWith(ASSET_PREFIX)) {
    // Only a plain file name from the whitelist: no slashes, no dot segments, no encoded tricks.
    const name = url.pathname.slice(ASSET_PREFIX.length);
    await serveAsset(req, res, /^[A-Za-z0-9._-]+$/.test(name) && !name.startsWith('.') ? name : '\0');
    return true;
  }

  if (url.pathname === opts.endpoint && (method === 'GET' || method === 'HEAD') && acceptsHtml(req) && !url.searchParams.has('query')) {
    await servePage(req, res, opts);
    return true;
  }

  if (url.pathname === '/graphiql' || url.pathname === '/graphiql/') {
    res.writeHead(302, { location: opts.endpoint, 'content-length': '0' });
    res.end();
    return true;
  }

  return false;
}
