// The shared poll loop and probe helper: polls never overlap, the cadence restarts after each poll, stop() leaves
// no timer; a probe resolves at the first answer or the deadline and always stops the device.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { PollLoop } from '../../../drivers/common/poll.ts'
import { probeFirstAnswer } from '../../../drivers/common/probe.ts'

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

describe('PollLoop', () => {
	it('polls every interval after the last poll ended, never two at once, nothing after stop()', async () => {
		let running = 0
		let most = 0
		const starts: number[] = []
		const loop = new PollLoop({
			intervalMs: 100,
			poll: async () => {
				running++
				most = Math.max(most, running)
				starts.push(Date.now())
				await new Promise((r) => setTimeout(r, 30))
				running--
			},
		})
		const t0 = Date.now()
		loop.start()
		await vi.advanceTimersByTimeAsync(110)
		void loop.now() // one is running: a no-op
		await vi.advanceTimersByTimeAsync(300)
		expect(most).toBe(1)
		expect(starts.map((t) => t - t0)).toEqual([100, 230, 360])
		loop.stop()
		expect(vi.getTimerCount()).toBe(0)
		await vi.advanceTimersByTimeAsync(1000)
		expect(starts).toHaveLength(3)
		expect(vi.getTimerCount()).toBe(0)
	})

	it('holds polls back while an exclusive exchange runs', async () => {
		let polls = 0
		const loop = new PollLoop({ intervalMs: 10, poll: async () => void polls++ })
		let release = () => {}
		const hello = loop.exclusive(() => new Promise<void>((r) => (release = r)))
		await loop.now()
		expect(polls).toBe(0)
		release()
		await hello
		await loop.now()
		expect(polls).toBe(1)
		loop.stop()
	})
})

describe('probeFirstAnswer', () => {
	function device() {
		const d = { started: 0, stopped: 0, start: () => void d.started++, stop: async () => void d.stopped++ }
		return d
	}
	const result = { device: 'd', connected: true, health: 'ok' as const, detail: {} }

	it('resolves at the first answer and stops the device', async () => {
		const d = device()
		const unwatched = vi.fn()
		const p = probeFirstAnswer(
			d,
			5,
			(answered) => {
				setTimeout(answered, 20)
				return unwatched
			},
			() => result,
		)
		await vi.advanceTimersByTimeAsync(20)
		await expect(p).resolves.toBe(result)
		expect(d).toMatchObject({ started: 1, stopped: 1 })
		expect(unwatched).toHaveBeenCalledOnce()
		expect(vi.getTimerCount()).toBe(0)
	})

	it('resolves at the deadline when nothing answers, and stops the device when the result throws', async () => {
		const d = device()
		const p = probeFirstAnswer(
			d,
			1,
			() => () => undefined,
			() => {
				throw new Error('no result')
			},
		)
		const settled = expect(p).rejects.toThrow('no result')
		await vi.advanceTimersByTimeAsync(1000)
		await settled
		expect(d.stopped).toBe(1)
	})
})
