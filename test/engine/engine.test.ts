// The Engine's API as the daemon uses it: deadlines as data, the published snapshot, pending feeds and start,
// rule 4's "would have done", explanations, and the errors it raises on input that replay's validation would catch.
import { describe, expect, it } from 'vitest'
import { Engine, EngineError, type Output } from '../../src/engine/index.ts'
import { boc } from './helpers.ts'

const kinds = (outs: Output[]) => outs.map((o) => `${o.t} ${o.kind}`)

describe('deadlines are data', () => {
	it('nextDeadline says when to wake; advancing to it gives the decision stamped at that instant', () => {
		const e = new Engine(boc)
		for (const path of ['fiber', 'sat', 'inet']) e.apply({ type: 'signal', t: 0, feed: 'wbc/pgm', path, signal: 'up' })
		for (const path of ['fiber2', 'sat2']) e.apply({ type: 'signal', t: 0, feed: 'wbc/iso', path, signal: 'up' })
		for (const path of ['a', 'b', 'c']) e.apply({ type: 'signal', t: 0, feed: 'wbc/crit', path, signal: 'up' })
		e.advance(1000)
		expect(e.nextDeadline()).toBeUndefined()
		e.apply({ type: 'device', t: 1000, device: 'fiber-rx', state: 'down' })
		expect(e.nextDeadline()).toBe(1300)
		// a daemon's timer fires late: the decision keeps its instant
		const outs = e.advance(1317)
		expect(outs.filter((o) => o.kind === 'decision')).toMatchObject([{ t: 1300, from: 'fiber', to: 'sat' }])
		expect(e.now).toBe(1317)
		expect(e.nextDeadline()).toBeUndefined()
	})

	it('a blip cancels its deadline', () => {
		const e = new Engine(boc)
		e.apply({ type: 'signal', t: 0, feed: 'wbc/pgm', path: 'fiber', signal: 'up' })
		e.advance(600)
		e.apply({ type: 'signal', t: 1000, feed: 'wbc/pgm', path: 'fiber', signal: 'down' })
		e.apply({ type: 'signal', t: 1100, feed: 'wbc/pgm', path: 'fiber', signal: 'up' })
		expect(e.nextDeadline()).toBeUndefined()
		expect(e.advance(5000).filter((o) => o.feed === 'wbc/pgm' && o.kind === 'decision')).toEqual([])
	})
})

describe('snapshot (what MQTT and HTTP publish)', () => {
	it('gives each path its signal (or null) and class, failed while in a failed outage, and the feed state', () => {
		const e = new Engine(boc)
		const sig = (t: number, path: string, signal: 'up' | 'down' | 'degraded' | 'unknown') =>
			e.apply({ type: 'signal', t, feed: 'wbc/pgm', path, signal })
		sig(0, 'fiber', 'up')
		sig(0, 'sat', 'up')
		expect(e.feedSnapshot('wbc/pgm')).toMatchObject({
			active: 'fiber',
			mode: 'auto',
			locked: false,
			started: true,
			paths: {
				fiber: { signal: 'up', state: 'healthy', rank: 0 },
				sat: { signal: 'up', state: 'healthy', rank: 1 },
				inet: { signal: null, state: 'ineligible', rank: 2 },
			},
			compliance: null,
		})
		sig(1000, 'fiber', 'down')
		e.advance(1300)
		expect(e.feedSnapshot('wbc/pgm').paths.fiber).toEqual({
			signal: 'down',
			state: 'failed',
			rank: 0,
			lastFailure: 1300,
		})
		sig(2000, 'fiber', 'up')
		expect(e.feedSnapshot('wbc/pgm').paths.fiber?.state).toBe('recovering')
		sig(2500, 'sat', 'degraded')
		expect(e.feedSnapshot('wbc/pgm').paths.sat?.state).toBe('degraded')
		expect(e.feedSnapshot('wbc/pgm').active).toBe('sat')
		expect(e.snapshot().map((f) => f.feed)).toEqual(['wbc/pgm', 'wbc/iso', 'wbc/crit'])
	})

	it('a critical feed publishes its healthy discrete paths against the requirement', () => {
		const e = new Engine(boc)
		for (const path of ['a', 'b']) e.apply({ type: 'signal', t: 0, feed: 'wbc/crit', path, signal: 'up' })
		expect(e.feedSnapshot('wbc/crit').compliance).toEqual({ healthyDiscretePaths: 2, required: 3 })
		const outs = e.advance(100)
		expect(
			outs.filter((o) => o.kind === 'alarm' && o.feed === 'wbc/crit').map((o) => (o as { alarm: string }).alarm),
		).toEqual(['at-risk'])
		expect(e.feedSnapshot('wbc/crit').alarms).toEqual(['at-risk'])
	})
})

describe('pending feeds and start (the daemon reads the router first)', () => {
	it('a pending feed decides nothing and refuses commands until its start', () => {
		const e = new Engine(boc, { pending: ['wbc/pgm'] })
		expect(e.feedSnapshot('wbc/pgm')).toMatchObject({ started: false, active: null })
		e.apply({ type: 'signal', t: 0, feed: 'wbc/pgm', path: 'sat', signal: 'up' })
		const refused = e.apply({ type: 'command', t: 10, feed: 'wbc/pgm', command: 'take', path: 'sat' })
		expect(refused).toMatchObject([{ kind: 'refusal', refused: 'not-started' }])
		expect(e.advance(5000).filter((o) => o.feed === 'wbc/pgm')).toEqual([])
		// reports that came while it waited count from its start
		e.apply({ type: 'start', t: 5000, feed: 'wbc/pgm', active: 'inet', mode: 'auto', locked: false })
		expect(e.feedSnapshot('wbc/pgm').paths.sat).toMatchObject({ signal: 'up', state: 'healthy' })
	})

	it('a start after another record of the feed is an error', () => {
		const e = new Engine(boc)
		e.apply({ type: 'signal', t: 0, feed: 'wbc/pgm', path: 'sat', signal: 'up' })
		expect(() => e.apply({ type: 'start', t: 0, feed: 'wbc/pgm', active: 'sat' })).toThrow(EngineError)
	})
})

describe('rule 4: the engine reports what it would have done', () => {
	it('once per target, with the reason; the snapshot holds it; auto then switches', () => {
		const e = new Engine(boc)
		for (const path of ['fiber', 'sat']) e.apply({ type: 'signal', t: 0, feed: 'wbc/pgm', path, signal: 'up' })
		e.apply({ type: 'command', t: 100, feed: 'wbc/pgm', command: 'lock', operator: 'op' })
		e.apply({ type: 'signal', t: 1000, feed: 'wbc/pgm', path: 'fiber', signal: 'down' })
		const outs = e.advance(3000).filter((o) => o.feed === 'wbc/pgm')
		expect(outs).toMatchObject([
			{ kind: 'suppressed', t: 1300, from: 'fiber', to: 'sat', cause: 'failover', because: 'locked' },
			// §4a: the failed path stays on air, and says so
			{ kind: 'alarm', t: 1300, alarm: 'on-air-failed', active: true, path: 'fiber' },
		])
		expect(outs[1]?.kind === 'alarm' && outs[1].message).toBe(
			'wbc/pgm: active path fiber has failed and is still on air (the feed is locked)',
		)
		expect(e.feedSnapshot('wbc/pgm').wouldSwitch).toEqual({ to: 'sat', cause: 'failover' })
		const unlock = e.apply({ type: 'command', t: 3000, feed: 'wbc/pgm', command: 'unlock', operator: 'op' })
		expect(kinds(unlock.filter((o) => o.feed === 'wbc/pgm'))).toEqual(['3000 accepted', '3000 decision', '3000 alarm'])
		expect(e.feedSnapshot('wbc/pgm').wouldSwitch).toBeNull()
	})
})

describe('explanations', () => {
	it('a failover names the report that began the outage, the timer, and the facts read', () => {
		const e = new Engine(boc)
		for (const path of ['fiber', 'sat']) e.apply({ type: 'signal', t: 0, feed: 'wbc/pgm', path, signal: 'up' })
		e.apply({ type: 'device', t: 1045, device: 'venue-enc', state: 'down', at: 1000 })
		const d = e.advance(1300).find((o) => o.kind === 'decision' && o.feed === 'wbc/pgm')
		expect(d?.kind === 'decision' && d.explain).toEqual({
			rule: '1: the active path failed and is down; best candidate: healthy, then recovering, then degraded',
			triggers: [
				't=0 path wbc/pgm/sat up',
				't=1045 device venue-enc down (since 1000)',
				't=1300 timer: fiber failed (lossMs elapsed)',
			],
			because: [
				'active path fiber failed at 1300 (down or degraded for lossMs 300) and is down',
				'sat (rank 2) is healthy',
			],
		})
	})
})

describe('input errors (replay validates first; the daemon must not feed these)', () => {
	const e = new Engine(boc)
	it.each([
		['time going backwards', () => (e.advance(100), e.advance(50))],
		['a fractional time', () => e.advance(100.5)],
		['at after t', () => e.apply({ type: 'signal', t: 200, feed: 'wbc/pgm', path: 'fiber', signal: 'down', at: 300 })],
		['an unknown feed', () => e.apply({ type: 'command', t: 200, feed: 'x/y', command: 'auto' })],
		['an unknown path', () => e.apply({ type: 'signal', t: 200, feed: 'wbc/pgm', path: 'nope', signal: 'up' })],
		['an unknown device', () => e.apply({ type: 'device', t: 200, device: 'nope', state: 'up' })],
	])('%s throws EngineError', (_n, f) => {
		expect(f).toThrow(EngineError)
	})

	it('a device that no path depends on (a UPS) is accepted and changes nothing', () => {
		const x = new Engine(boc)
		expect(x.apply({ type: 'device', t: 0, device: 'ups-a', state: 'down' })).toEqual([])
	})
})

describe('alarms', () => {
	it('a cleared alarm names the path it was raised on, even after a switch', () => {
		const e = new Engine(boc)
		e.apply({ type: 'signal', t: 0, feed: 'wbc/pgm', path: 'fiber', signal: 'up' })
		e.apply({ type: 'signal', t: 1000, feed: 'wbc/pgm', path: 'fiber', signal: 'down' })
		e.advance(1300)
		const outs = e.apply({ type: 'signal', t: 2000, feed: 'wbc/pgm', path: 'sat', signal: 'up' })
		expect(outs.map((o) => (o.kind === 'alarm' ? `${o.alarm} ${o.active} ${o.path}` : o.kind))).toEqual([
			'decision',
			'no-path false fiber',
			'on-air-failed false fiber',
		])
	})
})
