const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs; anything else names nothing (and must never reach a uuid column, where it is an SQL error). */
export function isUuid(id: unknown): id is string {
  return typeof id === 'string' && UUID.test(id);
}
