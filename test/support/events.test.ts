// The shared event-wait helper: the first matching event, a clear rejection on timeout, no listener left behind.
import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { nextEvent } from './events.ts'

describe('nextEvent', () => {
	it('resolves with the first event that passes the filter and removes its listener', async () => {
		const e = new EventEmitter<{ n: [value: number] }>()
		const p = nextEvent(e, 'n', { filter: (v) => v > 1 })
		e.emit('n', 1)
		e.emit('n', 2)
		await expect(p).resolves.toEqual([2])
		expect(e.listenerCount('n')).toBe(0)
	})

	it('rejects naming the event after the timeout, and removes its listener', async () => {
		const e = new EventEmitter<{ n: [value: number] }>()
		const p = nextEvent(e, 'n', { timeoutMs: 20, filter: () => false })
		e.emit('n', 1)
		await expect(p).rejects.toThrow('no "n" event within 20 ms (1 did not match the filter)')
		expect(e.listenerCount('n')).toBe(0)
	})
})
