// The shared reconnect backoff: every delay within [floor, cap], ceilings that double until the cap, reset.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Backoff } from '../../../drivers/common/backoff.ts'

const config = fc.record({
	initialMs: fc.integer({ min: 1, max: 5000 }),
	maxMs: fc.integer({ min: 1, max: 60_000 }),
})

describe('Backoff', () => {
	it('always gives a delay within [floor, cap], whatever the random source says', () => {
		fc.assert(
			fc.property(config, fc.array(fc.double({ min: -1, max: 2, noNaN: true }), { maxLength: 60 }), (c, draws) => {
				let i = 0
				const b = new Backoff({ ...c, random: () => draws[i++ % Math.max(1, draws.length)] ?? 0.5 })
				for (let n = 0; n < 60; n++) {
					const d = b.next()
					expect(d).toBeGreaterThanOrEqual(Math.floor(b.floorMs))
					expect(d).toBeLessThanOrEqual(c.maxMs)
					expect(Number.isInteger(d)).toBe(true)
				}
			}),
		)
	})

	it('grows until the cap for a fixed random draw, and stays there', () => {
		fc.assert(
			fc.property(config, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (c, r) => {
				const b = new Backoff({ ...c, random: () => r })
				let prev = 0
				const delays: number[] = []
				for (let n = 0; n < 40; n++) {
					const d = b.next()
					expect(d).toBeGreaterThanOrEqual(prev)
					prev = d
					delays.push(d)
				}
				// after 40 doublings the ceiling is the cap: the delay is in its upper half
				expect(delays.at(-1)!).toBeGreaterThanOrEqual(Math.floor(c.maxMs / 2))
			}),
		)
	})

	it('gives the longest delay of each step with random 1, and the shortest with 0', () => {
		const long = new Backoff({ initialMs: 100, maxMs: 800, random: () => 1 })
		expect(Array.from({ length: 6 }, () => long.next())).toEqual([100, 200, 400, 800, 800, 800])
		const short = new Backoff({ initialMs: 100, maxMs: 800, random: () => 0 })
		expect(Array.from({ length: 6 }, () => short.next())).toEqual([50, 100, 200, 400, 400, 400])
	})

	it('starts over after reset()', () => {
		fc.assert(
			fc.property(config, fc.integer({ min: 0, max: 50 }), (c, steps) => {
				const b = new Backoff({ ...c, random: () => 0.5 })
				const first = b.next()
				for (let n = 0; n < steps; n++) b.next()
				b.reset()
				expect(b.attempt).toBe(0)
				expect(b.next()).toBe(first)
			}),
		)
	})

	it('refuses a zero or negative delay configuration', () => {
		expect(() => new Backoff({ initialMs: 0, maxMs: 100 })).toThrow('positive')
	})
})
