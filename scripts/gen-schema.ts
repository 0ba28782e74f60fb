// Writes schemas/aft-experiment.schema.json from the experiment schema in code (the single
// source of truth). test/unit/schema.test.ts fails when the committed file is stale.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { experimentJsonSchema } from '../core/node/experiment/schema';

export const SCHEMA_FILE = path.join(__dirname, '..', 'schemas', 'aft-experiment.schema.json');

export function schemaText(): string {
  return JSON.stringify(experimentJsonSchema(), null, 2) + '\n';
}

if (require.main === module) {
  fs.writeFileSync(SCHEMA_FILE, schemaText());
  console.log(`wrote ${SCHEMA_FILE}`);
}
