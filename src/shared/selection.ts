import { type FieldNode, type FragmentDefinitionNode, type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';

/** The fields of a selection set, through inline fragments and fragment spreads (directives ignored: at most a superset). */
function fieldsOf(set: SelectionSetNode | undefined, fragments: Record<string, FragmentDefinitionNode>, out: FieldNode[] = [], seen = new Set<string>()): FieldNode[] {
  for (const s of set?.selections ?? []) {
    if (s.kind === Kind.FIELD) out.push(s);
    else if (s.kind === Kind.INLINE_FRAGMENT) fieldsOf(s.selectionSet, fragments, out, seen);
    else if (!seen.has(s.name.value)) {
      seen.add(s.name.value);
      fieldsOf(fragments[s.name.value]?.selectionSet, fragments, out, seen);
    }
  }
  return out;
}

/**
 * The names of the fields selected at the end of any of `paths` below the field being resolved —
 * e.g. `[['nodes'], ['edges', 'node']]` from a connection field gives the fields asked of its
 * items. Aliases, fragments and repeated fields all count; so a resolver can fetch only what
 * the query can read.
 */
export function selectedFieldNames(info: GraphQLResolveInfo, paths: string[][]): Set<string> {
  const names = new Set<string>();
  for (const path of paths) {
    let level: FieldNode[] = [...info.fieldNodes];
    for (const step of path) level = level.flatMap((f) => fieldsOf(f.selectionSet, info.fragments)).filter((f) => f.name.value === step);
    for (const f of level.flatMap((n) => fieldsOf(n.selectionSet, info.fragments))) names.add(f.name.value);
  }
  return names;
}
