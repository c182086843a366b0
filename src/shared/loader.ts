import DataLoader from 'dataloader';

/**
 * The one DataLoader shape: batch keys into a single `IN` query, answer in key order,
 * a missing key maps to null for that key alone.
 */
export function byIdLoader<T, K extends string = string>(
  fetch: (ids: readonly K[]) => Promise<T[]>,
  keyOf: (row: T) => K,
): DataLoader<K, T | null> {
  return new DataLoader<K, T | null>(async (ids) => {
    const rows = await fetch(ids);
    const byId = new Map(rows.map((r) => [keyOf(r), r]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

/** Like byIdLoader, but each key maps to a list (e.g. a user's agents). */
export function groupLoader<T, K extends string = string>(
  fetch: (ids: readonly K[]) => Promise<T[]>,
  keyOf: (row: T) => K,
): DataLoader<K, T[]> {
  return new DataLoader<K, T[]>(async (ids) => {
    const rows = await fetch(ids);
    const groups = new Map<K, T[]>();
    for (const r of rows) {
      const k = keyOf(r);
      const list = groups.get(k);
      if (list) list.push(r);
      else groups.set(k, [r]);
    }
    return ids.map((id) => groups.get(id) ?? []);
  });
}
