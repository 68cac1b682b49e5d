// The fence of docs/contract.md §9, on a clock the test drives: a grant counts from the keep-alive's send.
import { describe, expect, it } from 'vitest'
import { Fence, marginMs } from '../../src/runtime/ha/fence.ts'

describe('fence', () => {
	it('is valid from a grant until sent + leaseMs − margin, by its own clock', () => {
		let now = 1000
		const f = new Fence(2000, () => now)
		expect(marginMs(2000)).toBe(500)
		expect(marginMs(10_000)).toBe(2500)
		expect(f.valid()).toBe(false)
		f.granted(1000)
		expect(f.valid()).toBe(true)
		now = 2499
		expect(f.remainingMs()).toBe(1)
		now = 2500
		expect(f.valid()).toBe(false)
		expect(f.remainingMs()).toBe(0)
	})

	it('counts from the send: an answer that arrives late, or after a pause, extends nothing past it', () => {
		let now = 0
		const f = new Fence(2000, () => now)
		f.granted(0)
		// a keep-alive sent at 600, the node paused, the answer read at 5000: valid until 2100, long gone
		now = 5000
		f.granted(600)
		expect(f.valid()).toBe(false)
		// an older answer after a newer one changes nothing
		now = 700
		f.granted(650)
		f.granted(100)
		expect(f.closesAt).toBe(650 + 1500)
	})

	it('closes when the lease is gone, until the next grant', () => {
		let now = 0
		const f = new Fence(3000, () => now)
		f.granted(0)
		f.close()
		expect(f.valid()).toBe(false)
		now = 10
		f.granted(10)
		expect(f.valid()).toBe(true)
	})
})
