import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type FieldDefinitionNode, Kind, parse, print, type TypeNode, visit } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkContract, contractFails, formatReport, loadOperationFiles, printContract, ROOT } from '../../scripts/schema-contract.js';
import { buildSchema } from '../../src/schema.js';

// The baseline is the schema the server builds today, so these tests hold whatever the accepted snapshot says.
let current: string;
const operations = loadOperationFiles();

beforeAll(() => {
  current = printContract(buildSchema());
});

/** Edit one field definition of one type in an SDL. */
function editField(sdl: string, typeName: string, fieldName: string, edit: (field: FieldDefinitionNode) => FieldDefinitionNode | null): string {
  let found = false;
  const out = visit(parse(sdl), {
    ObjectTypeDefinition(node) {
      if (node.name.value !== typeName) return undefined;
      return {
        ...node,
        fields: (node.fields ?? []).flatMap((f) => {
          if (f.name.value !== fieldName) return [f];
          found = true;
          const next = edit(f);
          return next ? [next] : [];
        }),
      };
    },
  });
  expect(found, `${typeName}.${fieldName} exists in the current schema`).toBe(true);
  return print(out);
}

function removeEnumValue(sdl: string, enumName: string, value: string): string {
  let found = false;
  const out = visit(parse(sdl), {
    EnumTypeDefinition(node) {
      if (node.name.value !== enumName) return undefined;
      found = (node.values ?? []).some((v) => v.name.value === value);
      return { ...node, values: (node.values ?? []).filter((v) => v.name.value !== value) };
    },
  });
  expect(found, `${enumName}.${value} exists in the current schema`).toBe(true);
  return print(out);
}

/** Append a field (given as SDL) to one object type of an SDL. */
function addToType(sdl: string, typeName: string, fieldSdl: string): string {
  const field = fieldsOf(`type X { ${fieldSdl} }`)[0];
  let found = false;
  const out = visit(parse(sdl), {
    ObjectTypeDefinition(node) {
      if (node.name.value !== typeName) return undefined;
      found = true;
      return { ...node, fields: [...(node.fields ?? []), field] };
    },
  });
  expect(found, `type ${typeName} exists in the current schema`).toBe(true);
  return print(out);
}

function fieldsOf(sdl: string): FieldDefinitionNode[] {
  const def = parse(sdl).definitions[0];
  if (def.kind !== Kind.OBJECT_TYPE_DEFINITION) throw new Error('expected an object type');
  return [...(def.fields ?? [])];
}

const check = (sdl: string) => checkContract({ sdl, contract: current, operations });

describe('schema contract check', () => {
  it('passes on the unchanged schema, and every client operation validates against it', async () => {
    expect(operations.map((o) => o.path)).toEqual(expect.arrayContaining(['operations/gateway/DispatchInference.graphql', 'operations/dashboard/InferenceList.graphql']));
    const report = await check(current);
    expect(report).toEqual({ breaking: [], dangerous: [], safe: [], invalidOperations: [] });
    expect(contractFails(report)).toBe(false);
    expect(formatReport(report)).toContain('PASSED');
  });

  it('(a) fails when a field an operation uses is removed, naming the field and the operations', async () => {
    const report = await check(editField(current, 'Inference', 'cell', () => null));
    expect(contractFails(report)).toBe(true);
    expect(report.breaking).toHaveLength(1);
    expect(report.breaking[0]).toContain("Field 'cell' was removed from object type 'Inference'");
    expect(report.breaking[0]).toContain('[Inference.cell]');
    expect(report.breaking[0]).toMatch(/used by .*fragment DispatchedInference.*query InferenceDetail.*query InferenceList/);
    // The operations themselves no longer validate.
    expect(report.invalidOperations.join('\n')).toMatch(/operations\/dashboard\/InferenceDetail\.graphql:\d+:\d+ \(query InferenceDetail\): Cannot query field "cell" on type "Inference"/);
    expect(report.invalidOperations.join('\n')).toMatch(/operations\/gateway\/DispatchInference\.graphql:\d+:\d+ \(fragment DispatchedInference\)/);
    const text = formatReport(report);
    expect(text).toContain('✖ Breaking changes (1)');
    expect(text).toContain("Field 'cell' was removed from object type 'Inference'");
    expect(text).toContain('FAILED');
  });

  it('fails when a field no known operation uses is removed: unknown clients may use it', async () => {
    const report = await check(editField(current, 'Model', 'maxOutputTokens', () => null));
    expect(report.invalidOperations).toEqual([]);
    expect(report.breaking).toEqual(["Field 'maxOutputTokens' was removed from object type 'Model' [Model.maxOutputTokens]"]);
    expect(contractFails(report)).toBe(true);
  });

  it('(b) fails when a non-null output field becomes nullable', async () => {
    const report = await check(editField(current, 'Inference', 'status', (f) => ({ ...f, type: (f.type as { type: TypeNode }).type })));
    expect(report.invalidOperations).toEqual([]);
    expect(report.breaking).toHaveLength(1);
    expect(report.breaking[0]).toContain("Field 'Inference.status' changed type from 'InferenceStatus!' to 'InferenceStatus'");
    expect(report.breaking[0]).toContain('used by');
    expect(contractFails(report)).toBe(true);
  });

  it('(c) fails when an enum value is removed', async () => {
    const report = await check(removeEnumValue(current, 'TaskType', 'CREATIVE'));
    expect(report.breaking).toHaveLength(1);
    expect(report.breaking[0]).toContain("Enum value 'CREATIVE' was removed from enum 'TaskType'");
    // The gateway sends TaskType inside DispatchInferenceInput; the dashboards read it.
    expect(report.breaking[0]).toMatch(/used by .*mutation DispatchInference/);
    expect(contractFails(report)).toBe(true);
  });

  it('(d) fails when a required argument is added', async () => {
    const sdl = editField(current, 'Query', 'inferences', (f) => ({
      ...f,
      arguments: [...(f.arguments ?? []), ...(fieldsOf('type X { f(tenant: ID!): Int }')[0].arguments ?? [])],
    }));
    const report = await check(sdl);
    expect(report.breaking).toHaveLength(1);
    expect(report.breaking[0]).toContain("Argument 'tenant: ID!' added to field 'Query.inferences'");
    expect(report.breaking[0]).toContain('used by query InferenceList');
    expect(report.invalidOperations.join('\n')).toMatch(/InferenceList.*argument "tenant" of type "ID!" is required/);
    expect(contractFails(report)).toBe(true);
  });

  it('fails when a required input field is added to an input the gateway sends', async () => {
    const sdl = current.replace(/input DispatchInferenceInput \{\n/, 'input DispatchInferenceInput {\n  region: String!\n');
    expect(sdl).not.toBe(current);
    const report = await check(sdl);
    expect(report.breaking.join('\n')).toMatch(/Input field 'region' of type 'String!' was added to input object type 'DispatchInferenceInput'.*used by mutation DispatchInference/);
    expect(contractFails(report)).toBe(true);
  });

  it('(e) passes when an optional field is added, listing it as safe', async () => {
    const report = await check(addToType(current, 'Inference', '"""Where it ran.""" region: String'));
    expect(report.breaking).toEqual([]);
    expect(report.invalidOperations).toEqual([]);
    expect(report.dangerous).toEqual([]);
    expect(report.safe).toContain("Field 'region' was added to object type 'Inference' [Inference.region]");
    expect(contractFails(report)).toBe(false);
    expect(formatReport(report)).toMatch(/PASSED with \d+ unaccepted change\(s\)/);
  });

  it('(f) passes when a new type is added', async () => {
    const report = await check(`${current}\n"""A deployment region."""\ntype Region {\n  """Its code."""\n  code: String!\n}\n`);
    expect(report.breaking).toEqual([]);
    expect(report.invalidOperations).toEqual([]);
    expect(report.dangerous).toEqual([]);
    expect(report.safe).toContain("Type 'Region' was added [Region]");
    expect(contractFails(report)).toBe(false);
  });

  it('lists dangerous changes (a new enum value) without failing', async () => {
    const report = await check(current.replace(/enum TaskType \{\n/, 'enum TaskType {\n  PLANNING\n'));
    expect(report.breaking).toEqual([]);
    expect(report.dangerous.join('\n')).toContain("Enum value 'PLANNING' was added to enum 'TaskType'");
    expect(contractFails(report)).toBe(false);
    expect(formatReport(report)).toContain('⚠ Dangerous changes (1)');
  });

  it('reports an operation document that does not parse', async () => {
    const report = await checkContract({ sdl: current, contract: current, operations: [...operations, { path: 'operations/dashboard/Broken.graphql', source: 'query Broken { viewer { ' }] });
    expect(report.invalidOperations).toEqual([expect.stringMatching(/^operations\/dashboard\/Broken\.graphql:1:\d+: Syntax Error/)]);
    expect(contractFails(report)).toBe(true);
  });
});

describe('npm run schema:check (the CLI)', () => {
  const run = promisify(execFile);
  const tsx = path.join(ROOT, 'node_modules/.bin/tsx');
  const cli = (args: string[]) =>
    run(tsx, ['scripts/schema-check.ts', ...args], { cwd: ROOT }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contract-'));
  });

  it('exits 1 with a readable report when the schema breaks the accepted contract', async () => {
    // A contract that still had a field the schema no longer serves.
    const contract = path.join(dir, 'breaking.graphql');
    fs.writeFileSync(contract, addToType(current, 'Inference', 'legacyCost: Float!'));
    const { code, out } = await cli(['--contract', contract]);
    expect(out).toContain("Field 'legacyCost' was removed from object type 'Inference' [Inference.legacyCost]");
    expect(out).toContain('FAILED: 1 breaking change(s).');
    expect(code).toBe(1);
  }, 60_000);

  it('--accept writes the served schema; checking against it then passes', async () => {
    const contract = path.join(dir, 'accepted.graphql');
    const accepted = await cli(['--accept', '--contract', contract]);
    expect(accepted.code).toBe(0);
    expect(fs.readFileSync(contract, 'utf8')).toBe(current);
    const { code, out } = await cli(['--contract', contract]);
    expect(out).toContain('PASSED: the schema equals');
    expect(code).toBe(0);
  }, 60_000);
});
