// Incidents as regression tests: each test/fixtures/engine/incidents/NAME.jsonl is replayed against the fixture BOC
// (until the `# until: T` of its header, else its last record) and must print exactly NAME.expected.jsonl.
// Add an incident with `sigpath journal timeline DIR --feed E/F > NAME.jsonl`, check the decisions by hand, then
// record them with `sigpath replay test/fixtures/engine/boc.yaml NAME.jsonl --json --until T > NAME.expected.jsonl`.
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.ts'
import { bocFile, fixture } from './helpers.ts'

const dir = fixture('incidents')
const names = readdirSync(dir)
	.filter((f) => f.endsWith('.jsonl') && !f.endsWith('.expected.jsonl'))
	.map((f) => f.slice(0, -'.jsonl'.length))

describe('incidents', () => {
	it('has incidents to replay', () => {
		expect(names.length).toBeGreaterThan(0)
	})
	it.each(names)('%s', async (name) => {
		const file = `${dir}/${name}.jsonl`
		const until = /^# until: (\d+)$/m.exec(readFileSync(file, 'utf8'))?.[1]
		let out = ''
		let err = ''
		const code = await main(['replay', bocFile, file, '--json', ...(until ? ['--until', until] : [])], {
			out: (t) => (out += t),
			err: (t) => (err += t),
		})
		expect(err).toBe('')
		expect(code).toBe(0)
		expect(out).toBe(readFileSync(`${dir}/${name}.expected.jsonl`, 'utf8'))
	})
})
