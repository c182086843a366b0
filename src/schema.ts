import fs from 'node:fs';
import path from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { GraphQLError, GraphQLScalarType, type GraphQLSchema, isEnumType, Kind, buildASTSchema, parse, concatAST } from 'graphql';
import { JSONResolver } from 'graphql-scalars';
import type { Resolvers } from './__generated__/resolvers-types.js';
import { PROJECT_ROOT } from './shared/paths.js';
import { auditResolvers } from './modules/audit/audit.resolvers.js';
import { catalogResolvers } from './modules/catalog/catalog.resolvers.js';
import { coverageResolvers } from './modules/coverage/coverage.resolvers.js';
import { inferenceResolvers } from './modules/inference/inference.resolvers.js';
import { routingResolvers } from './modules/routing/routing.resolvers.js';
import { tenancyResolvers } from './modules/tenancy/tenancy.resolvers.js';

export const SCHEMA_DIR = path.join(PROJECT_ROOT, 'schema');

/** The SDL of schema/*.graphql (the contract snapshot excluded), in file-name order. */
export function loadTypeDefs(dir = SCHEMA_DIR): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.graphql') && f !== 'contract.graphql')
    .sort()
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
}

const DateTime = new GraphQLScalarType({
  name: 'DateTime',
  description: 'An ISO-8601 date-time in UTC with milliseconds, e.g. `2026-11-25T19:08:04.123Z`.',
  serialize: (v) => (v instanceof Date ? v : new Date(String(v))).toISOString(),
  parseValue: (v) => parseDate(v),
  parseLiteral: (ast) => (ast.kind === Kind.STRING ? parseDate(ast.value) : invalidDate()),
});

function parseDate(v: unknown): Date {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(v)) return invalidDate();
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? invalidDate() : d;
}

function invalidDate(): never {
  throw new GraphQLError('DateTime must be an ISO-8601 string with a time zone, e.g. 2026-11-25T19:08:04.123Z.');
}

/** GraphQL enums are SCREAMING_CASE; the database and the domain use the lower-case value. */
function enumResolvers(typeDefs: string[]): Record<string, Record<string, string>> {
  const schema = buildASTSchema(concatAST(typeDefs.map((t) => parse(t))), { assumeValidSDL: true });
  const out: Record<string, Record<string, string>> = {};
  for (const type of Object.values(schema.getTypeMap())) {
    if (isEnumType(type) && !type.name.startsWith('__')) out[type.name] = Object.fromEntries(type.getValues().map((v) => [v.name, v.name.toLowerCase()]));
  }
  return out;
}

export function buildSchema(): GraphQLSchema {
  const typeDefs = loadTypeDefs();
  const resolvers: Resolvers[] = [
    // The SDL's docstrings describe the scalars; the resolvers only parse and serialize.
    { DateTime, JSON: new GraphQLScalarType({ ...JSONResolver.toConfig(), description: 'Any JSON value.', specifiedByURL: null }), ...enumResolvers(typeDefs) } as Resolvers,
    tenancyResolvers,
    catalogResolvers,
    inferenceResolvers,
    routingResolvers,
    auditResolvers,
    coverageResolvers,
  ];
  return makeExecutableSchema({ typeDefs, resolvers: resolvers as never, resolverValidationOptions: { requireResolversToMatchSchema: 'error' } });
}
