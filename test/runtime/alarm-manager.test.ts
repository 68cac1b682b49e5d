// The alarm manager (src/runtime/alarms.ts): one alarm per condition by its id, raise/clear/acknowledge journaled
// and emitted, the active list newest first, cleared alarms kept an hour; and the producers' texts (power monitor,
// engine) that make a clear read as a clear.
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import type { Alarm, AlarmRecord } from '../../src/control/payloads.ts'
import { parseConfigText } from '../../src/domain/load.ts'
import type { Alarm as EngineAlarm } from '../../src/engine/types.ts'
import type { Entry } from '../../src/journal/index.ts'
import { PowerMonitor, type UpsReading } from '../../src/rule/power.ts'
import { AlarmManager, CLEARED_KEPT_MS, type Condition } from '../../src/runtime/alarms.ts'

function manager() {
	let wall = Date.parse('2025-03-21T20:00:00.000Z')
	const events: Alarm[] = []
	const lists: AlarmRecord[][] = []
	const journaled: Entry[] = []
	const m = new AlarmManager({
		log: pino({ level: 'silent' }),
		journal: (e) => journaled.push(...e),
		now: () => 42,
		wallMs: () => wall,
	})
	m.on('alarm', (a) => events.push(a))
	m.on('active', (l) => lists.push(l))
	return { m, events, lists, journaled, advance: (ms: number) => (wall += ms) }
}

const battery = (active: boolean, minutes = 30): Condition => ({
	id: 'power-on-battery:ups-a',
	code: 'power-on-battery',
	active,
	device: 'ups-a',
	message: `UPS ups-a is on battery (${minutes} min left)`,
	cleared: 'UPS ups-a back on mains',
})

const engineAlarm = (alarm: EngineAlarm['alarm'], active: boolean, message: string): EngineAlarm => ({
	kind: 'alarm',
	t: 7,
	feed: 'ev/pgm',
	alarm,
	active,
	path: 'fiber',
	message,
	explain: { rule: alarm, triggers: [], because: [] },
})

describe('the alarm manager', () => {
	it('a standing condition is one alarm: raised once, its text kept current, cleared once with its own text', () => {
		const { m, events, lists, journaled, advance } = manager()
		m.hold(battery(true))
		advance(1000)
		m.hold(battery(true))
		m.hold(battery(true, 29))
		expect(events.map((e) => e.state)).toEqual(['raised'])
		expect(m.list()).toEqual([
			{
				id: 'power-on-battery:ups-a',
				code: 'power-on-battery',
				severity: 'major',
				device: 'ups-a',
				message: 'UPS ups-a is on battery (29 min left)',
				raisedAt: '2025-03-21T20:00:00.000Z',
			},
		])
		// the list went out on the raise and on the new text, not on the repeat
		expect(lists).toHaveLength(2)
		advance(1000)
		m.hold(battery(false))
		m.hold(battery(false))
		expect(events.map((e) => e.state)).toEqual(['raised', 'cleared'])
		expect(events[1]).toMatchObject({
			id: 'power-on-battery:ups-a',
			state: 'cleared',
			severity: 'cleared',
			message: 'UPS ups-a back on mains',
			t: '2025-03-21T20:00:02.000Z',
			raisedAt: '2025-03-21T20:00:00.000Z',
			clearedAt: '2025-03-21T20:00:02.000Z',
		})
		expect(m.list()).toEqual([])
		expect(lists.at(-1)).toEqual([])
		expect(journaled.map((e) => e.payload)).toEqual([
			{
				t: 42,
				feed: '',
				alarm: 'power-on-battery',
				active: true,
				message: 'UPS ups-a is on battery (30 min left)',
				id: 'power-on-battery:ups-a',
				device: 'ups-a',
				severity: 'major',
			},
			{
				t: 42,
				feed: '',
				alarm: 'power-on-battery',
				active: false,
				message: 'UPS ups-a back on mains',
				id: 'power-on-battery:ups-a',
				device: 'ups-a',
				severity: 'major',
			},
		])
	})

	it("the engine's at-risk and the power monitor's at-risk of one feed are two alarms that clear apart", () => {
		const { m, events } = manager()
		m.fromEngine(
			engineAlarm('at-risk', true, 'ev/pgm: fewer healthy discrete paths than the contribution rule requires'),
		)
		m.hold({
			id: 'at-risk:ev/pgm:power',
			code: 'at-risk',
			active: true,
			feed: 'ev/pgm',
			message: 'feed ev/pgm is at risk: rx-a has 1 protected power source left',
			cleared: 'feed ev/pgm: no longer at risk from power',
		})
		expect(m.list().map((a) => a.id)).toEqual(['at-risk:ev/pgm:power', 'at-risk:ev/pgm:paths'])
		m.hold({
			id: 'at-risk:ev/pgm:power',
			code: 'at-risk',
			active: false,
			feed: 'ev/pgm',
			message: '',
			cleared: 'feed ev/pgm: no longer at risk from power',
		})
		// the paths cause still stands: the feed is still at risk
		expect(m.list().map((a) => a.id)).toEqual(['at-risk:ev/pgm:paths'])
		expect(m.codes('ev/pgm')).toEqual(['at-risk'])
		expect(events.at(-1)).toMatchObject({ id: 'at-risk:ev/pgm:power', state: 'cleared' })
		m.fromEngine(engineAlarm('at-risk', false, 'ev/pgm: enough healthy discrete paths again (3 of 3)'))
		expect(m.codes('ev/pgm')).toEqual([])
		expect(events.at(-1)).toMatchObject({
			id: 'at-risk:ev/pgm:paths',
			message: 'ev/pgm: enough healthy discrete paths again (3 of 3)',
		})
	})

	it('acknowledges an active alarm once; it stays active until its condition clears', () => {
		const { m, events, journaled, advance } = manager()
		m.hold(battery(true))
		advance(5000)
		const r = m.ack('power-on-battery:ups-a', { operator: 'anna', panel: 'panel-3', via: 'mqtt' })
		expect(r).toEqual({
			ok: true,
			alarm: expect.objectContaining({ ack: { by: 'anna', at: '2025-03-21T20:00:05.000Z' } }) as AlarmRecord,
		})
		expect(m.list()[0]?.ack).toEqual({ by: 'anna', at: '2025-03-21T20:00:05.000Z' })
		expect(events.at(-1)).toMatchObject({ state: 'acknowledged', severity: 'major', t: '2025-03-21T20:00:05.000Z' })
		expect(journaled.at(-1)).toEqual({
			kind: 'ack',
			payload: {
				t: 42,
				id: 'power-on-battery:ups-a',
				alarm: 'power-on-battery',
				device: 'ups-a',
				by: 'anna',
				operator: 'anna',
				panel: 'panel-3',
				via: 'mqtt',
			},
		})
		// a second acknowledgement changes nothing: the first one stands
		const n = journaled.length
		expect(m.ack('power-on-battery:ups-a', { operator: 'bob', panel: null, via: 'http' })).toMatchObject({
			ok: true,
			alarm: { ack: { by: 'anna' } },
		})
		expect(journaled).toHaveLength(n)
		expect(events.filter((e) => e.state === 'acknowledged')).toHaveLength(1)
		// acknowledged, still active; the clear ends it
		m.hold(battery(false))
		expect(m.list()).toEqual([])
		// raised again later: a new alarm, not acknowledged
		m.hold(battery(true))
		expect(m.list()[0]?.ack).toBeUndefined()
	})

	it('an unknown or cleared id: one clear error, nothing changes', () => {
		const { m, events, lists, journaled } = manager()
		m.hold(battery(true))
		m.hold(battery(false))
		const before = { events: events.length, lists: lists.length, journaled: journaled.length }
		expect(m.ack('no-such:alarm\nforged', { operator: 'x', panel: null, via: 'http' })).toEqual({
			ok: false,
			error: 'no active alarm "no-such:alarm\\nforged"',
		})
		expect(m.ack('power-on-battery:ups-a', { operator: 'x', panel: null, via: 'http' })).toEqual({
			ok: false,
			error: 'alarm power-on-battery:ups-a cleared at 2025-03-21T20:00:00.000Z: there is nothing to acknowledge',
		})
		expect({ events: events.length, lists: lists.length, journaled: journaled.length }).toEqual(before)
	})

	it('lists the active alarms newest first, and with all those cleared in the last hour', () => {
		const { m, advance } = manager()
		const cond = (id: string, active: boolean): Condition => ({
			id,
			code: 'device-stale',
			active,
			device: id,
			message: `${id} silent`,
			cleared: `${id} back`,
		})
		m.hold(cond('a', true))
		advance(1000)
		m.hold(cond('b', true))
		advance(1000)
		m.hold(cond('c', true))
		m.hold(cond('b', false))
		expect(m.list().map((a) => a.id)).toEqual(['c', 'a'])
		expect(m.list(true).map((a) => [a.id, a.clearedAt !== undefined])).toEqual([
			['c', false],
			['b', true],
			['a', false],
		])
		advance(CLEARED_KEPT_MS + 1)
		expect(m.list(true).map((a) => a.id)).toEqual(['c', 'a'])
	})
})

describe('clear texts', () => {
	const config = parseConfigText(`
site: { id: t }
powerSources:
  - { id: util-a, kind: utility }
  - { id: ups-a, kind: ups, upstream: util-a, device: ups-a, surgeProtected: true }
  - { id: ups-b, kind: ups, upstream: util-a, device: ups-b, surgeProtected: true }
devices:
  - { id: ups-a, role: ups }
  - { id: ups-b, role: ups }
  - { id: rtr, role: router, power: [ups-a, ups-b], lineCards: [ { id: c1, inputs: [1, 8] }, { id: c2, inputs: [9, 16] } ] }
  - { id: rx-1, role: receiver, power: [ups-a, ups-b] }
  - { id: rx-2, role: receiver, power: [ups-a, ups-b] }
events:
  - id: ev
    tier: yellow
    feeds:
      - id: pgm
        critical: true
        output: { router: rtr, output: 1 }
        paths:
          - { id: fiber, method: fiber, via: [rx-1], input: { router: rtr, input: 1 } }
          - { id: sat, method: satellite, via: [rx-2], input: { router: rtr, input: 9 } }
policy: { minPaths: 2 }
`)
	const r = (power: UpsReading['power'], minutesRemaining: number | null = 20): UpsReading => ({
		power,
		commLost: false,
		minutesRemaining,
	})

	it('a UPS alarm clears with how the UPS stands now, never with the raise text', () => {
		const m = new PowerMonitor(config)
		const at = (a: UpsReading) =>
			new Map(
				m
					.update(
						new Map([
							['ups-a', a],
							['ups-b', r('online')],
						]),
					)
					.alarms.map((x) => [x.id, x.active ? x.message : x.cleared]),
			)
		expect(at(r('on-battery')).get('power-on-battery:ups-a')).toBe('UPS ups-a is on battery (20 min left)')
		expect(at(r('online')).get('power-on-battery:ups-a')).toBe('UPS ups-a back on mains')
		// on battery, then low: on-battery ends because low-battery began
		expect(at(r('low-battery', 3)).get('power-on-battery:ups-a')).toBe(
			'UPS ups-a: battery now low, 3 min left (power-low-battery)',
		)
		expect(at(r('bypass')).get('power-low-battery:ups-a')).toBe(
			'UPS ups-a off battery, on bypass (mains, not protected)',
		)
		expect(at(r('on-battery')).get('at-risk:ev/pgm:power')).toBe(
			'feed ev/pgm is at risk: rx-1 has 2 protected power sources left (ups-a on battery); rx-2 has 2 protected power sources left (ups-a on battery)',
		)
		expect(at(r('online')).get('at-risk:ev/pgm:power')).toBe(
			'feed ev/pgm: no longer at risk from power (its devices have their protected sources back)',
		)
	})
})
