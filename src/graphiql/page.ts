/**
 * The GraphiQL page: its HTML, the example document it opens with, and the small browser script
 * that mounts GraphiQL. Everything the page loads comes from this server (no CDN): the script
 * below is served as `/graphiql/assets/ainfera-graphiql.js`, and its configuration travels in a
 * JSON data block, so the Content-Security-Policy needs no inline scripts.
 */

export const KEY_PLACEHOLDER = '<paste a key from .data/demo-keys.json>';

/** The document GraphiQL opens with (a fresh browser; later visits get their saved tabs back). */
export const DEFAULT_QUERY = `# Welcome to the Ainfera GraphQL API.
#
# Every operation, introspection included, needs an API
# key, sent as an HTTP header:
#
#   Authorization: Bearer <key>
#
# Put it in the Headers tab below. Running locally, the
# demo tenant's keys are printed by \`npm start\` and kept
# in .data/demo-keys.json (under DATA_DIR if it is set):
#   agentKey  dispatches inferences and reads them
#   userKey   the owner's admin key: reads, and
#             publishes routing policies
#
# With a key set, the schema loads and the Docs explorer
# (the book icon, top left) documents every type and
# field. Run with the play button (Ctrl-Enter) and pick
# an operation: Viewer, RecentInferences or Dispatch.

query Viewer {
  viewer {
    tenant { slug name }
    role
    user { handle }
    agent { id name }
  }
}

query RecentInferences {
  inferences(first: 5) {
    nodes {
      id
      status
      model { slug }
      provider { slug }
      taskType
      taskTypeSource
      cell
      policyVersion
      costUsd
      createdAt
    }
  }
}

# Needs an agent key. "ainfera-auto": the routing policy
# picks the model.
mutation Dispatch {
  dispatchInference(input: {
    model: "ainfera-auto"
    messages: [{ role: USER, content: "Write a haiku about audit logs" }]
    taskType: CHAT
  }) {
    replayed
    inference {
      id
      status
      model { slug }
      provider { slug }
      cell
      outputText
    }
  }
}
`;

export function defaultHeaders(exampleKeyHint?: string): string {
  const hint = exampleKeyHint?.trim();
  const value = !hint ? `Bearer ${KEY_PLACEHOLDER}` : /^bearer\s/i.test(hint) ? hint : `Bearer ${hint}`;
  return `{"Authorization": ${JSON.stringify(value)}}`;
}

export interface PageConfig {
  endpoint: string;
  defaultQuery: string;
  defaultHeaders: string;
  needKeyMessage: string;
}

/** JSON that is safe inside a <script> data block (no `</script>`, no `<!--`, no U+2028/9). */
function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function renderPage(config: PageConfig, assetUrl: (name: string) => string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Ainfera GraphQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${assetUrl('graphiql.min.css')}">
<link rel="stylesheet" href="${assetUrl('ainfera-graphiql.css')}">
</head>
<body>
<div id="graphiql"><p class="ainfera-loading">Loading GraphiQL…</p></div>
<noscript>GraphiQL needs JavaScript. Without it, POST GraphQL requests to ${config.endpoint.replace(/[<>&"]/g, '')}.</noscript>
<script id="graphiql-config" type="application/json">${scriptSafeJson(config)}</script>
<script src="${assetUrl('react.production.min.js')}"></script>
<script src="${assetUrl('react-dom.production.min.js')}"></script>
<script src="${assetUrl('graphiql.min.js')}"></script>
<script src="${assetUrl('ainfera-graphiql.js')}"></script>
</body>
</html>
`;
}

export const PAGE_CSS = `html, body, #graphiql { height: 100%; margin: 0; }
.ainfera-loading { font-family: system-ui, sans-serif; color: #555; padding: 2rem; }
`;

/**
 * Mounts GraphiQL. Plain ES2017, no modules: it runs as-is in the browser.
 *
 * Introspection needs a valid key like everything else, so while the Authorization header still
 * holds the placeholder the fetcher answers introspection itself with a hint instead of asking
 * the server. Once a key is typed in, GraphiQL is given a fresh fetcher, which makes it
 * introspect again with the new headers: the Docs explorer fills in without a reload.
 */
export const CLIENT_SCRIPT = `(function () {
  'use strict';
  var mount = document.getElementById('graphiql');
  var config;
  try {
    config = JSON.parse(document.getElementById('graphiql-config').textContent);
  } catch (e) {
    mount.textContent = 'GraphiQL: the page configuration is missing or invalid.';
    return;
  }
  if (!window.React || !window.ReactDOM || !window.GraphiQL) {
    mount.textContent = 'GraphiQL: its scripts did not load (see the browser console).';
    return;
  }
  var url = new URL(config.endpoint, window.location.href).href;
  var schemaLoaded = false;
  var lastTriedAuth = null;

  function authorizationOf(headers) {
    if (!headers || typeof headers !== 'object') return null;
    for (var name in headers) {
      if (Object.prototype.hasOwnProperty.call(headers, name) && name.toLowerCase() === 'authorization') {
        return String(headers[name]);
      }
    }
    return null;
  }
  function keyMissing(auth) {
    if (!auth) return true;
    var token = auth.replace(/^\\s*bearer\\s*/i, '').trim();
    return token === '' || /[<>]/.test(token);
  }

  function makeFetcher() {
    var http = GraphiQL.createFetcher({ url: url });
    return function (params, opts) {
      if (params && params.operationName === 'IntrospectionQuery') {
        var auth = authorizationOf(opts && opts.headers);
        if (keyMissing(auth)) {
          schemaLoaded = false;
          return Promise.resolve({ data: null, errors: [{ message: config.needKeyMessage }] });
        }
        lastTriedAuth = auth;
        return Promise.resolve(http(params, opts)).then(function (result) {
          schemaLoaded = !!(result && result.data && result.data.__schema);
          return result;
        }, function (err) {
          schemaLoaded = false;
          throw err;
        });
      }
      return http(params, opts);
    };
  }

  function onEditHeaders(text) {
    if (schemaLoaded) return;
    var headers;
    try { headers = JSON.parse(text || '{}'); } catch (e) { return; }
    var auth = authorizationOf(headers);
    if (keyMissing(auth) || auth === lastTriedAuth) return;
    render(makeFetcher());
  }

  var root = ReactDOM.createRoot(mount);
  function render(fetcher) {
    root.render(React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: config.defaultQuery,
      defaultHeaders: config.defaultHeaders,
      defaultEditorToolsVisibility: 'headers',
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      onEditHeaders: onEditHeaders
    }));
  }
  render(makeFetcher());
})();
`;
