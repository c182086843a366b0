import { type DefinitionNode, type DocumentNode, Kind, parse, Source, visit } from 'graphql';
import { loadOperationFiles } from '../../scripts/schema-contract.js';

interface Definition {
  text: string;
  node: DefinitionNode;
}

let cache: { operations: Map<string, Definition>; fragments: Map<string, Definition> } | null = null;

function definitions() {
  if (cache) return cache;
  const operations = new Map<string, Definition>();
  const fragments = new Map<string, Definition>();
  for (const file of loadOperationFiles()) {
    const doc: DocumentNode = parse(new Source(file.source, file.path));
    for (const node of doc.definitions) {
      const text = file.source.slice(node.loc!.start, node.loc!.end);
      if (node.kind === Kind.OPERATION_DEFINITION && node.name) operations.set(node.name.value, { text, node });
      else if (node.kind === Kind.FRAGMENT_DEFINITION) fragments.set(node.name.value, { text, node });
    }
  }
  return (cache = { operations, fragments });
}

/** The names of every operation under operations/. */
export function operationNames(): string[] {
  return [...definitions().operations.keys()].sort();
}

/**
 * The text of the named client operation from operations/, followed by every fragment it uses (transitively),
 * so tests send the very documents the clients send.
 */
export function operation(name: string): string {
  const { operations, fragments } = definitions();
  const op = operations.get(name);
  if (!op) throw new Error(`No operation named ${name} under operations/ (have: ${[...operations.keys()].join(', ')}).`);
  const needed = new Set<string>();
  const collect = (node: DefinitionNode) =>
    visit(node, {
      FragmentSpread(spread) {
        const fragmentName = spread.name.value;
        if (needed.has(fragmentName)) return;
        const fragment = fragments.get(fragmentName);
        if (!fragment) throw new Error(`Operation ${name} uses fragment ${fragmentName}, which no file under operations/ defines.`);
        needed.add(fragmentName);
        collect(fragment.node);
      },
    });
  collect(op.node);
  return [op.text, ...[...needed].sort().map((f) => fragments.get(f)!.text)].join('\n\n');
}
