/**
 * The floor of the GraphQL layer: a bare node:http handler that reads the request body and
 * answers what `{ __typename }` answers, with the same headers a JSON API sends.
 *
 *   node --import tsx bench/bare-http.ts   → prints {"port":N} and serves until SIGTERM
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const BODY = JSON.stringify({ data: { __typename: 'Query' } });

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(BODY) });
    res.end(BODY);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
