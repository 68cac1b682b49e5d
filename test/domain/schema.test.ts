import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { configJsonSchema, SCHEMA_FILE } from '../../scripts/gen-schema.ts'
import { README, withReference } from '../../scripts/gen-config-doc.ts'

type Json = { [k: string]: unknown }

/** Every property of every object in the schema, with its path. */
function properties(node: unknown, path = '$', out: { path: string; schema: Json }[] = []) {
	if (Array.isArray(node)) node.forEach((n, i) => properties(n, `${path}[${i}]`, out))
	else if (node && typeof node === 'object') {
		const obj = node as Json
		const props = obj['properties'] as Record<string, Json> | undefined
		if (props) for (const [k, v] of Object.entries(props)) out.push({ path: `${path}.${k}`, schema: v })
		for (const [k, v] of Object.entries(obj)) properties(v, `${path}/${k}`, out)
	}
	return out
}

describe('the generated JSON Schema', () => {
	it('is up to date with the zod config (run `npm run schema` when this fails)', () => {
		expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(configJsonSchema())
	})

	it('the README config reference is up to date (run `npm run schema` when this fails)', () => {
		const readme = readFileSync(README, 'utf8')
		expect(readme).toBe(withReference(readme))
		expect(readme).toContain('| `events[].feeds[].failover.lossMs` | integer |  | 500 |')
	})

	it('describes every field', () => {
		const schema = JSON.parse(configJsonSchema()) as Json
		const missing = properties(schema)
			.filter(({ schema: s }) => typeof s['description'] !== 'string' && typeof s['$ref'] !== 'string')
			.map((x) => x.path)
		expect(missing).toEqual([])
	})

	it('rejects unknown keys at every level', () => {
		const schema = JSON.parse(configJsonSchema()) as Json
		const open: string[] = []
		const walk = (node: unknown, path: string) => {
			if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`))
			if (!node || typeof node !== 'object') return
			const obj = node as Json
			if (obj['type'] === 'object' && obj['properties'] && obj['additionalProperties'] !== false) open.push(path)
			for (const [k, v] of Object.entries(obj)) walk(v, `${path}/${k}`)
		}
		walk(schema, '$')
		expect(open).toEqual([])
	})
})
