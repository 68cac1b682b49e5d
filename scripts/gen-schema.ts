// Writes config/sigpath.schema.json from the zod config (the one source of truth), for editors.
// `npm run schema`; test/domain/schema.test.ts fails when the committed file is stale.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { Config } from '../src/domain/config.ts'

export const SCHEMA_FILE = fileURLToPath(new URL('../config/sigpath.schema.json', import.meta.url))

export function configJsonSchema(): string {
	const schema = z.toJSONSchema(Config, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' })
	return `${JSON.stringify({ ...schema, $id: 'https://sigpath.dev/schema/config.json', title: 'sigpath configuration' }, null, '\t')}\n`
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
	writeFileSync(SCHEMA_FILE, configJsonSchema())
	process.stdout.write(`wrote ${SCHEMA_FILE}\n`)
}
