import { describe, expect, it } from 'vitest'
import { ConfigError, parseConfigText } from '../../src/domain/load.ts'

describe('config loading', () => {
	it('accepts a minimal config and applies the defaults of docs/contract.md §2', () => {
		const c = parseConfigText('site: { id: boc-lg }\n')
		expect(c.policy.minPaths).toBe(3)
		expect(c.policy.approvedMethods).toEqual(['fiber', 'satellite', 'internet', 'srt'])
		expect(c.events).toEqual([])
	})
	it('rejects unknown keys naming the place and the line', () => {
		try {
			parseConfigText('site: { id: boc-lg }\nsight: 1\n')
			expect.unreachable()
		} catch (err) {
			expect(err).toBeInstanceOf(ConfigError)
			expect((err as ConfigError).problems[0]).toMatchObject({ message: 'unknown key "sight"' })
		}
	})
})
