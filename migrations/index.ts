import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261125192950_base } from './Migration20261125192950_base.js';
import { Migration20261125193005_sixteen_schema_lock } from './Migration20261125193005_sixteen_schema_lock.js';
import { Migration20261125194735_coverage_rollup } from './Migration20261125194735_coverage_rollup.js';
import { Migration20261125203035_chain_head_prev_hash } from './Migration20261125203035_chain_head_prev_hash.js';
import { Migration20261125220000_api_key_notify } from './Migration20261125220000_api_key_notify.js';
import { Migration20261126003000_idempotency_partial_unique } from './Migration20261126003000_idempotency_partial_unique.js';
import { Migration20261126040000_audit_payload_json } from './Migration20261126040000_audit_payload_json.js';
import { Migration20261126140000_rollup_single_row } from './Migration20261126140000_rollup_single_row.js';

/**
 * The migrations, in order. Listed explicitly so every runner (tsx, vitest, compiled) loads the
 * same files; `npm run migration:create` prints the line to add here.
 */
export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261125192950_base', class: Migration20261125192950_base },
  { name: 'Migration20261125193005_sixteen_schema_lock', class: Migration20261125193005_sixteen_schema_lock },
  { name: 'Migration20261125194735_coverage_rollup', class: Migration20261125194735_coverage_rollup },
  { name: 'Migration20261125203035_chain_head_prev_hash', class: Migration20261125203035_chain_head_prev_hash },
  { name: 'Migration20261125220000_api_key_notify', class: Migration20261125220000_api_key_notify },
  { name: 'Migration20261126003000_idempotency_partial_unique', class: Migration20261126003000_idempotency_partial_unique },
  { name: 'Migration20261126040000_audit_payload_json', class: Migration20261126040000_audit_payload_json },
  { name: 'Migration20261126140000_rollup_single_row', class: Migration20261126140000_rollup_single_row },
];
