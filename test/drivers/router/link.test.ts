import { afterEach, describe, expect, it, vi } from 'vitest'
import { Link, type WireHandlers, type WireOpener } from '../../../drivers/router/link.ts'
import { silentLogger } from '../../../src/log.ts'

afterEach(() => {
	vi.useRealTimers()
	vi.restoreAllMocks()
})

/** runs the link under fake timers and returns the (fake) times at which it tried to open */
async function attemptTimes(
	opener: (calls: number[], h: WireHandlers, signal: AbortSignal) => ReturnType<WireOpener>,
	until: number,
) {
	vi.useFakeTimers()
	vi.spyOn(Math, 'random').mockReturnValue(1) // the longest delay of each step
	const calls: number[] = []
	const link = new Link({
		open: (h, signal) => opener(calls, h, signal),
		log: silentLogger,
		backoffInitialMs: 100,
		backoffMaxMs: 800,
		connectTimeoutMs: 50,
	})
	const states: string[] = []
	link.on('state', (s) => states.push(s))
	link.start()
	await vi.advanceTimersByTimeAsync(until)
	await link.stop()
	expect(link.timerCount).toBe(0)
	expect(states.at(-1)).toBe('stopped')
	return { calls, states }
}

describe('Link: reconnect with capped exponential backoff', () => {
	it('backs off 100, 200, 400, 800, 800 ms from a refusing peer', async () => {
		const { calls } = await attemptTimes(async (calls) => {
			calls.push(Date.now())
			throw new Error('ECONNREFUSED')
		}, 2400)
		const t0 = calls[0]!
		expect(calls.map((t) => t - t0)).toEqual([0, 100, 300, 700, 1500, 2300])
	})

	it('keeps backing off from a peer that accepts and drops at once (no reset on a short connection)', async () => {
		const { calls, states } = await attemptTimes(async (calls, h) => {
			calls.push(Date.now())
			setTimeout(() => h.closed('closed by peer'), 1)
			return { description: 'fake', write: () => undefined, close: async () => undefined }
		}, 2400)
		const t0 = calls[0]!
		expect(calls.map((t) => t - t0)).toEqual([0, 101, 302, 703, 1504, 2305])
		expect(states.slice(0, 4)).toEqual(['connecting', 'connected', 'backoff', 'connecting'])
	})

	it('gives up an attempt that hangs after its connect timeout, and aborts it', async () => {
		const aborts: number[] = []
		const { calls } = await attemptTimes(
			(calls, _h, signal) =>
				new Promise((_resolve, reject) => {
					calls.push(Date.now())
					// a connect that never completes until the link aborts it
					signal.addEventListener('abort', () => {
						aborts.push(Date.now())
						reject(new Error('aborted'))
					})
				}),
			400,
		)
		// 0: attempt, 50: timeout, +100 backoff -> 150: attempt, 200: timeout, +200 -> 400: attempt
		const t0 = calls[0]!
		expect(calls.map((t) => t - t0)).toEqual([0, 150, 400])
		// each abandoned attempt was aborted (the last one by stop())
		expect(aborts.map((t) => t - t0)).toEqual([50, 200, 400])
	})
})
