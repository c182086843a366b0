/**
 * GraphiQL in a real browser (Debian's chromium driven by playwright-core), against the real
 * server: the page loads from the server's own assets under a strict CSP, a key typed into the
 * Headers editor loads the schema into the Docs explorer, and a query runs.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test-artifacts');

/** The bits of the page's DOM the test reads (the project compiles without lib "dom"). */
interface CodeMirrorHost {
  CodeMirror?: { getValue(): string; operations?: unknown[] | null };
}
type PageGlobals = { document: { querySelector(selector: string): CodeMirrorHost | null } };

let app: TestApp;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`The GraphiQL browser test needs Chromium at ${CHROMIUM}. Install it with: apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH).`);
  }
  [app, browser] = await Promise.all([
    startTestApp(),
    chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 20_000,
    }),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

/** Replace a CodeMirror editor's whole content the way a user would. */
async function typeInto(page: Page, editorSelector: string, text: string): Promise<void> {
  await page.locator(`${editorSelector} .CodeMirror-scroll`).click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(text);
}

/** A CodeMirror 5 editor's full value (the DOM only holds the lines in view). */
function editorValue(page: Page, editorSelector: string): Promise<string> {
  return page.evaluate((sel) => {
    const el = (globalThis as unknown as PageGlobals).document.querySelector(`${sel} .CodeMirror`);
    return el?.CodeMirror?.getValue() ?? '';
  }, editorSelector);
}

describe('GraphiQL', () => {
  it('is served to browsers only, with its own assets and a CSP', async () => {
    const page = await fetch(`${app.baseUrl}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status, 'GET /graphql for a browser should be GraphiQL: is graphiqlRoutes wired as createServer extraRoutes?').toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<title>Ainfera GraphQL</title>');
    expect(html).not.toMatch(/https?:\/\//); // nothing from a CDN

    const asset = await fetch(`${app.baseUrl}/graphiql/assets/graphiql.min.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=86400');
    await asset.arrayBuffer();
    for (const bad of ['package.json', '..%2F..%2Fpackage.json', 'x%5C..%5Cpackage.json', '.hidden', 'graphiql.min.js.map']) {
      const res = await fetch(`${app.baseUrl}/graphiql/assets/${bad}`);
      expect(res.status, bad).toBe(404);
      await res.arrayBuffer();
    }

    // API clients are untouched: no text/html, or a query parameter, means GraphQL.
    const api = await fetch(`${app.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/html, application/json', authorization: `Bearer ${app.keys.agentKey}` },
      body: JSON.stringify({ query: '{ viewer { role } }' }),
    });
    expect(await api.json()).toEqual({ data: { viewer: { role: 'AGENT' } } });
  });

  it('runs a query with the key typed into the Headers editor, and loads the Docs', async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
    });
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
    try {
      const res = await page.goto(`${app.baseUrl}/graphql`, { waitUntil: 'load' });
      expect(res?.status(), 'GET /graphql for a browser should be GraphiQL: is graphiqlRoutes wired as createServer extraRoutes?').toBe(200);
      expect(await page.title()).toBe('Ainfera GraphQL');
      await page.locator('.graphiql-container').waitFor({ timeout: 15_000 });

      // It opens on the example document, with the Headers editor showing the placeholder.
      const query = 'section.graphiql-query-editor';
      const headers = 'section.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden)';
      expect(await editorValue(page, query)).toContain('mutation Dispatch');
      expect(await editorValue(page, headers)).toContain('Bearer <paste a key from .data/demo-keys.json>');

      await typeInto(page, headers, JSON.stringify({ Authorization: `Bearer ${app.keys.agentKey}` }));
      await typeInto(page, query, '{ viewer { role tenant { slug } } }');
      expect(await editorValue(page, query)).toBe('{ viewer { role tenant { slug } } }');
      // GraphiQL re-parses the document 100 ms after an edit; until then the run button still
      // knows the example's three operations and would open a menu to pick one.
      await page.waitForFunction((sel) => {
        const el = (globalThis as unknown as PageGlobals).document.querySelector(`${sel} .CodeMirror`);
        return el?.CodeMirror?.operations?.length === 1;
      }, query);
      await page.locator('.graphiql-execute-button').click();

      const result = 'section.result-window';
      await expect.poll(() => editorValue(page, result), { timeout: 10_000 }).toContain('"role": "AGENT"');
      expect(await editorValue(page, result)).toContain(`"slug": "${app.keys.tenant}"`);

      // The key also made GraphiQL introspect again: the Docs explorer lists the schema.
      await page.locator('button[aria-label="Show Documentation Explorer"]').click();
      await page.locator('.graphiql-doc-explorer').getByText('Root Types').waitFor({ timeout: 10_000 });

      // With no provider credentials, a dispatch from GraphiQL is answered by the simulator, and says so.
      const dispatch = 'mutation { dispatchInference(input: { model: "ainfera-auto", messages: [{ role: USER, content: "hello from GraphiQL" }] }) { inference { status provider { slug } model { slug } cell } } }';
      await typeInto(page, query, dispatch);
      await page.waitForFunction(
        ([sel, text]) => {
          const el = (globalThis as unknown as PageGlobals).document.querySelector(`${sel} .CodeMirror`);
          return el?.CodeMirror?.getValue?.() === text && el?.CodeMirror?.operations?.length === 1;
        },
        [query, dispatch] as const,
      );
      await page.locator('.graphiql-execute-button').click();
      await expect.poll(() => editorValue(page, result), { timeout: 10_000 }).toContain('"status": "SUCCEEDED"');
      expect(await editorValue(page, result)).toContain('"slug": "simulator"');
      expect(await editorValue(page, result)).toContain('"slug": "sim-small"');

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'graphiql.png') });
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
