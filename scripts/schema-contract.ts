/**
 * The schema contract check: is the schema we are about to serve still a valid server for the clients we know?
 *
 * - every client operation (operations/**\/*.graphql) must validate against the new schema;
 * - the new schema is diffed against the accepted snapshot (schema/contract.graphql) with GraphQL Inspector:
 *   breaking changes fail, dangerous and safe ones are listed.
 *
 * Pure over strings, so tests can feed it modified schemas; scripts/schema-check.ts is the CLI around it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Change, ChangeType, CriticalityLevel, diff } from '@graphql-inspector/core';
import {
  type ASTNode,
  buildASTSchema,
  concatAST,
  type DefinitionNode,
  type DocumentNode,
  type GraphQLError,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  isInputObjectType,
  Kind,
  lexicographicSortSchema,
  parse,
  printSchema,
  Source,
  TypeInfo,
  validate,
  visit,
  visitWithTypeInfo,
} from 'graphql';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const OPERATIONS_DIR = path.join(ROOT, 'operations');
export const CONTRACT_PATH = path.join(ROOT, 'schema', 'contract.graphql');

/** One client operation document, by its path relative to the repository root. */
export interface OperationFile {
  path: string;
  source: string;
}

export interface ContractReport {
  breaking: string[];
  dangerous: string[];
  safe: string[];
  invalidOperations: string[];
}

/** Every `.graphql` document under operations/ (by client folder), in path order. */
export function loadOperationFiles(dir = OPERATIONS_DIR): OperationFile[] {
  const out: OperationFile[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.graphql')) out.push({ path: path.relative(ROOT, full).split(path.sep).join('/'), source: fs.readFileSync(full, 'utf8') });
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

/** The canonical printed form of a schema: what schema/contract.graphql holds and what introspection must reproduce. */
export function printContract(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema));
}

/**
 * Diff `sdl` (the schema about to be served) against `contract` (the accepted snapshot) and validate every client
 * operation against `sdl`. The check fails when `breaking` or `invalidOperations` is non-empty (see contractFails).
 */
export async function checkContract(input: { sdl: string; contract: string; operations: OperationFile[] }): Promise<ContractReport> {
  const report: ContractReport = { breaking: [], dangerous: [], safe: [], invalidOperations: [] };
  const next = buildASTSchema(parse(new Source(input.sdl, 'schema')));
  const accepted = buildASTSchema(parse(new Source(input.contract, 'schema/contract.graphql')));

  const { document, errors } = parseOperations(input.operations);
  report.invalidOperations.push(...errors);
  if (document) report.invalidOperations.push(...validate(next, document).map((e) => describeError(e, document)));

  const usage = document ? collectUsage(accepted, document) : new Map<string, Set<string>>();
  for (const change of await diff(accepted, next)) {
    const line = describeChange(change, usage);
    if (change.criticality.level === CriticalityLevel.Breaking) report.breaking.push(line);
    else if (change.criticality.level === CriticalityLevel.Dangerous) report.dangerous.push(line);
    else report.safe.push(line);
  }
  return report;
}

export function contractFails(report: ContractReport): boolean {
  return report.breaking.length > 0 || report.invalidOperations.length > 0;
}

/** A report a person can act on: each change on its own line, grouped by severity. */
export function formatReport(report: ContractReport, contractPath = 'schema/contract.graphql'): string {
  const lines: string[] = [];
  const section = (mark: string, title: string, items: string[]) => {
    if (items.length === 0) return;
    lines.push(`${mark} ${title} (${items.length})`);
    for (const item of items) lines.push(`    - ${item}`);
    lines.push('');
  };
  section('✖', 'Invalid client operations', report.invalidOperations);
  section('✖', 'Breaking changes', report.breaking);
  section('⚠', 'Dangerous changes', report.dangerous);
  section('✓', 'Safe changes', report.safe);
  const changes = report.breaking.length + report.dangerous.length + report.safe.length;
  if (report.invalidOperations.length > 0 || report.breaking.length > 0) {
    const what = [
      report.invalidOperations.length ? `${report.invalidOperations.length} invalid operation(s)` : '',
      report.breaking.length ? `${report.breaking.length} breaking change(s)` : '',
    ].filter(Boolean);
    lines.push(`FAILED: ${what.join(', ')}.`);
    if (report.invalidOperations.length) lines.push('Fix the schema or update the client operations under operations/.');
    if (report.breaking.length) lines.push(`If a break is deliberate and every client is ready for it, run \`npm run schema:accept\` and commit ${contractPath}.`);
  } else if (changes > 0) {
    lines.push(`PASSED with ${changes} unaccepted change(s): run \`npm run schema:accept\` and commit ${contractPath} (tests check the snapshot equals the served schema).`);
  } else {
    lines.push(`PASSED: the schema equals ${contractPath} and every client operation validates.`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------

/** All operation files as one document (each node keeps its own file as `loc.source`), or the parse errors. */
function parseOperations(files: OperationFile[]): { document: DocumentNode | null; errors: string[] } {
  const docs: DocumentNode[] = [];
  const errors: string[] = [];
  for (const file of files) {
    try {
      docs.push(parse(new Source(file.source, file.path)));
    } catch (err) {
      errors.push(describeError(err as GraphQLError, null));
    }
  }
  return { document: docs.length && errors.length === 0 ? concatAST(docs) : null, errors };
}

function describeError(error: GraphQLError, document: DocumentNode | null): string {
  const node = error.nodes?.[0];
  const source = node?.loc?.source ?? error.source;
  const at = error.locations?.[0];
  const where = `${source?.name ?? 'operations'}${at ? `:${at.line}:${at.column}` : ''}`;
  const owner = node && document ? enclosingDefinition(document, node) : null;
  return `${where}${owner ? ` (${owner})` : ''}: ${error.message}`;
}

function enclosingDefinition(document: DocumentNode, node: ASTNode): string | null {
  const loc = node.loc;
  if (!loc) return null;
  const def = document.definitions.find((d) => d.loc?.source === loc.source && d.loc.start <= loc.start && loc.start < d.loc.end);
  return def ? definitionLabel(def) : null;
}

function definitionLabel(def: DefinitionNode): string | null {
  if (def.kind === Kind.OPERATION_DEFINITION) return `${def.operation} ${def.name?.value ?? '<anonymous>'}`;
  if (def.kind === Kind.FRAGMENT_DEFINITION) return `fragment ${def.name.value}`;
  return null;
}

/**
 * Which operations touch which schema coordinate (`Type`, `Type.field`, `Type.field.arg`), resolved against the
 * accepted schema, so that a breaking change can name the clients it breaks. A variable of an input type uses every
 * field of it (transitively): the document cannot tell which of them the client fills in.
 */
function collectUsage(schema: GraphQLSchema, document: DocumentNode): Map<string, Set<string>> {
  const usage = new Map<string, Set<string>>();
  const typeInfo = new TypeInfo(schema);
  let owner = '';
  const use = (coordinate: string) => {
    if (!owner) return;
    let set = usage.get(coordinate);
    if (!set) usage.set(coordinate, (set = new Set()));
    set.add(owner);
  };
  const useInput = (type: GraphQLNamedType, seen = new Set<string>()) => {
    if (seen.has(type.name)) return;
    seen.add(type.name);
    use(type.name);
    if (!isInputObjectType(type)) return;
    for (const field of Object.values(type.getFields())) {
      use(`${type.name}.${field.name}`);
      useInput(getNamedType(field.type), seen);
    }
  };
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      OperationDefinition(node) {
        owner = definitionLabel(node) ?? '';
      },
      FragmentDefinition(node) {
        owner = definitionLabel(node) ?? '';
      },
      VariableDefinition() {
        const type = typeInfo.getInputType();
        if (type) useInput(getNamedType(type));
      },
      Field(node) {
        const parent = typeInfo.getParentType();
        const type = typeInfo.getType();
        if (parent) use(`${parent.name}.${node.name.value}`);
        if (type) use(getNamedType(type).name);
      },
      Argument(node) {
        const parent = typeInfo.getParentType();
        const field = typeInfo.getFieldDef();
        const type = typeInfo.getInputType();
        if (!typeInfo.getDirective() && parent && field) use(`${parent.name}.${field.name}.${node.name.value}`);
        if (type) useInput(getNamedType(type));
      },
    }),
  );
  return usage;
}

/** Changes that name a new or removed member of something an operation uses: the users of the parent are affected. */
const AFFECTS_PARENT_USERS = new Set<string>([
  ChangeType.FieldArgumentAdded,
  ChangeType.InputFieldAdded,
  ChangeType.EnumValueRemoved,
  ChangeType.EnumValueAdded,
]);

function describeChange(change: Change, usage: Map<string, Set<string>>): string {
  const where = change.path ? ` [${change.path}]` : '';
  const users = change.path && change.criticality.level !== CriticalityLevel.NonBreaking ? usersOf(change, usage) : [];
  return `${change.message}${where}${users.length ? ` — used by ${users.join(', ')}` : ''}`;
}

function usersOf(change: Change, usage: Map<string, Set<string>>): string[] {
  const coordinate = change.path ?? '';
  const users = usage.get(coordinate) ?? (AFFECTS_PARENT_USERS.has(change.type) ? usage.get(coordinate.split('.').slice(0, -1).join('.')) : undefined);
  return [...(users ?? [])].sort();
}
