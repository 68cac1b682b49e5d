// The shared freshness tracker, under fake timers and a fake clock: stale after staleMs without a good answer,
// the explicit stale transition (device id, how long silent), comm-lost, a session's link up and down, pause, no
// timer after stop.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FreshnessTracker, type StaleTransition } from '../../../drivers/common/freshness.ts'
import { Timers } from '../../../drivers/common/timers.ts'
import type { Freshness } from '../../../drivers/types.ts'

let now = 0
const clock = { monotonicMs: () => now }

beforeEach(() => {
	vi.useFakeTimers()
	now = 1000
})
afterEach(() => vi.useRealTimers())

function advance(ms: number): void {
	now += ms
	vi.advanceTimersByTime(ms)
}

function tracker(staleDisconnects: boolean, lostMs?: number) {
	const timers = new Timers()
	const t = new FreshnessTracker({
		device: 'ups-a',
		staleMs: 100,
		...(lostMs !== undefined ? { lostMs } : {}),
		staleDisconnects,
		timers,
		clock,
	})
	const changes: Freshness[] = []
	const stale: StaleTransition[] = []
	const lost: boolean[] = []
	t.on('change', (f) => changes.push(f))
	t.on('stale', (s) => stale.push(s))
	t.on('lost', (l) => lost.push(l))
	return { t, timers, changes, stale, lost }
}

describe('FreshnessTracker', () => {
	it('a polled device: connected on an answer, stale and disconnected after staleMs of silence, fresh again', () => {
		const { t, changes, stale } = tracker(true)
		t.arm()
		advance(10)
		t.ok()
		expect(t.value).toEqual({ connected: true, stale: false, lastOkAt: 1010 })
		advance(50)
		t.ok() // no flip: no event
		expect(changes).toHaveLength(1)
		advance(100)
		expect(t.value).toEqual({ connected: false, stale: true, lastOkAt: 1060 })
		expect(stale).toEqual([{ device: 'ups-a', stale: true, sinceOkMs: 100, lastOkAt: 1060, at: 1160 }])
		advance(40)
		t.ok()
		expect(stale[1]).toEqual({ device: 'ups-a', stale: false, sinceOkMs: 140, lastOkAt: 1200, at: 1200 })
		expect(changes.map((c) => [c.connected, c.stale])).toEqual([
			[true, false],
			[false, true],
			[true, false],
		])
	})

	it('counts silence from arm() before the first answer', () => {
		const { t, stale } = tracker(true)
		advance(500)
		t.arm()
		advance(100)
		expect(stale).toEqual([{ device: 'ups-a', stale: true, sinceOkMs: 100, lastOkAt: null, at: 1600 }])
	})

	it('a failed poll disconnects at once; stale follows from the timer', () => {
		const { t, changes } = tracker(true)
		t.arm()
		t.ok()
		t.disconnected()
		t.disconnected()
		expect(changes.map((c) => c.connected)).toEqual([true, false])
		expect(t.value.stale).toBe(false)
		advance(100)
		expect(t.value.stale).toBe(true)
	})

	it('comm-lost after lostMs of silence, regained on the next answer', () => {
		const { t, lost } = tracker(true, 300)
		t.arm()
		advance(299)
		expect(t.lost).toBe(false)
		advance(1)
		expect(t.lost).toBe(true)
		t.ok()
		expect(lost).toEqual([true, false])
	})

	it('a session device: stale keeps it connected; a paused tracker (link down) never goes stale', () => {
		const { t, stale } = tracker(false)
		t.ok()
		advance(100)
		expect(t.value).toMatchObject({ connected: true, stale: true })
		t.ok()
		t.disconnected()
		t.pause()
		advance(1000)
		expect(t.value).toMatchObject({ connected: false, stale: false })
		expect(stale.map((s) => s.stale)).toEqual([true, false])
	})

	it('a router link: its silence counts on while the link is down; a link back is no answer, its first frame is', () => {
		const { t, stale, changes } = tracker(false)
		t.linkUp() // the first link: counting starts now
		expect(t.value).toEqual({ connected: true, stale: false, lastOkAt: null })
		t.ok()
		advance(40)
		t.disconnected()
		advance(59)
		expect(t.value).toMatchObject({ connected: false, stale: false })
		advance(1)
		expect(stale).toEqual([{ device: 'ups-a', stale: true, sinceOkMs: 100, lastOkAt: 1000, at: 1100 }])
		advance(500)
		t.linkUp()
		expect(t.value).toMatchObject({ connected: true, stale: true })
		advance(10)
		t.ok()
		expect(t.value).toEqual({ connected: true, stale: false, lastOkAt: 1610 })
		expect(stale.map((s) => s.stale)).toEqual([true, false])
		expect(changes.map((c) => [c.connected, c.stale])).toEqual([
			[true, false],
			[false, false],
			[false, true],
			[true, true],
			[true, false],
		])
	})

	it('a router that links and never says a word goes stale from the link', () => {
		const { t, stale } = tracker(false)
		t.linkUp()
		advance(100)
		expect(stale).toEqual([{ device: 'ups-a', stale: true, sinceOkMs: 100, lastOkAt: null, at: 1100 }])
	})

	it('leaves no timer after stop(), in the timer set it was given', () => {
		const { t, timers } = tracker(true, 300)
		t.arm()
		expect(timers.size).toBe(2)
		t.stop()
		expect(timers.size).toBe(0)
	})
})
