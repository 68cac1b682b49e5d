// The power monitor (src/rule/power.ts): pure, UPS readings in, power alarms and live compliance out. Driven here as
// the daemon drives it, and through the alarm manager that holds its alarms (raised once, cleared once).
import fc from 'fast-check'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import type { Alarm } from '../../src/control/payloads.ts'
import { parseConfigText } from '../../src/domain/load.ts'
import type { UpsPower } from '../../src/domain/power.ts'
import { PowerMonitor, type UpsReading } from '../../src/rule/power.ts'
import { AlarmManager } from '../../src/runtime/alarms.ts'
import type { Entry } from '../../src/journal/index.ts'

const config = parseConfigText(`
site: { id: t }
powerSources:
  - { id: util-a, kind: utility }
  - { id: ups-a, kind: ups, upstream: util-a, device: ups-a, surgeProtected: true }
  - { id: ups-b, kind: ups, upstream: util-a, device: ups-b, surgeProtected: true }
  - { id: ups-c, kind: ups, upstream: util-a, device: ups-c, surgeProtected: true }
  - { id: ups-d, kind: ups, upstream: util-a, device: ups-d, surgeProtected: true }
devices:
  - { id: ups-a, role: ups }
  - { id: ups-b, role: ups }
  - { id: ups-c, role: ups }
  - { id: ups-d, role: ups }
  - { id: rtr, role: router, power: [ups-a, ups-b], lineCards: [ { id: c1, inputs: [1, 8] }, { id: c2, inputs: [9, 16] } ] }
  - { id: rx-1, role: receiver, power: [ups-a, ups-b] }
  - { id: rx-2, role: receiver, power: [ups-c, ups-d] }
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
policy: { minPaths: 2, discretePower: false }
`)

const UPS = ['ups-a', 'ups-b', 'ups-c', 'ups-d'] as const
const reading = (power: UpsPower | null, commLost = false, minutesRemaining: number | null = null): UpsReading => ({
	power,
	commLost,
	minutesRemaining,
})
const all = (r: Partial<Record<(typeof UPS)[number], UpsReading>>): Map<string, UpsReading> =>
	new Map(UPS.map((id) => [id, r[id] ?? reading('online')]))
const active = (m: PowerMonitor, readings: Map<string, UpsReading>) =>
	m
		.update(readings)
		.alarms.filter((a) => a.active)
		.map((a) => a.id)
		.sort()

describe('the power monitor', () => {
	it('all online: no alarm, compliant', () => {
		const m = new PowerMonitor(config)
		expect(active(m, all({}))).toEqual([])
		expect(m.feedCompliance('ev/pgm')?.compliant).toBe(true)
	})

	it('a UPS on battery: power-on-battery for it, at-risk for the feed whose device it powers', () => {
		const m = new PowerMonitor(config)
		const step = m.update(all({ 'ups-c': reading('on-battery', false, 42) }))
		const on = step.alarms.filter((a) => a.active)
		expect(on.map((a) => a.id).sort()).toEqual(['at-risk:ev/pgm:power', 'power-on-battery:ups-c'])
		expect(on.find((a) => a.code === 'power-on-battery')).toMatchObject({
			device: 'ups-c',
			message: 'UPS ups-c is on battery (42 min left)',
		})
		expect(on.find((a) => a.code === 'at-risk')?.message).toBe(
			'feed ev/pgm is at risk: rx-2 has 2 protected power sources left (ups-c on battery)',
		)
	})

	it('low battery, or contact lost while on battery, is power-low-battery instead, and costs the source', () => {
		for (const r of [reading('low-battery', false, 3), reading('on-battery', true)]) {
			const m = new PowerMonitor(config)
			const step = m.update(all({ 'ups-d': r }))
			const ids = step.alarms.filter((a) => a.active).map((a) => a.id)
			expect(ids).toContain('power-low-battery:ups-d')
			expect(ids).not.toContain('power-on-battery:ups-d')
			expect(ids).toContain('at-risk:ev/pgm:power')
			expect(m.report?.devices.get('rx-2')?.protectedSources).toBe(1)
		}
	})

	it('live compliance follows lost sources and says which feeds changed', () => {
		const m = new PowerMonitor(config)
		expect(m.update(all({})).changed).toEqual([])
		const lost = m.update(all({ 'ups-a': reading('off'), 'ups-b': reading('off') }))
		expect(lost.changed).toEqual(['ev/pgm'])
		expect(m.feedCompliance('ev/pgm')?.compliant).toBe(false)
		expect(m.feedCompliance('ev/pgm')?.violations.map((v) => v.code)).toContain('single-power')
		expect(m.update(all({})).changed).toEqual(['ev/pgm'])
		expect(m.feedCompliance('ev/pgm')?.compliant).toBe(true)
	})

	const arbReading = fc.record({
		power: fc.constantFrom<UpsPower | null>('online', 'on-battery', 'low-battery', 'bypass', 'off', null),
		commLost: fc.boolean(),
		minutesRemaining: fc.option(fc.integer({ min: 0, max: 600 })),
	})
	const arbReadings = fc.tuple(arbReading, arbReading, arbReading, arbReading).map((rs) => {
		const [a, b, c, d] = rs
		return all({ 'ups-a': a, 'ups-b': b, 'ups-c': c, 'ups-d': d })
	})

	it('property: the alarms and compliance depend only on the readings now, not on the way there', () => {
		fc.assert(
			fc.property(fc.array(arbReadings, { minLength: 1, maxLength: 12 }), (steps) => {
				const m = new PowerMonitor(config)
				const last = steps.map((s) => m.update(s)).at(-1)
				const fresh = new PowerMonitor(config)
				const again = fresh.update(steps.at(-1)!)
				expect(last?.alarms).toEqual(again.alarms)
				expect(m.feedCompliance('ev/pgm')).toEqual(fresh.feedCompliance('ev/pgm'))
			}),
			{ numRuns: 200 },
		)
	})

	it('property: through the alarm manager, each condition is raised and cleared in turn, never twice', () => {
		fc.assert(
			fc.property(fc.array(arbReadings, { minLength: 1, maxLength: 20 }), (steps) => {
				const published: Alarm[] = []
				const journaled: Entry[] = []
				const alarms = new AlarmManager({
					log: pino({ level: 'silent' }),
					journal: (e) => journaled.push(...e),
					now: () => 0,
					wallMs: () => 0,
				})
				alarms.on('alarm', (a) => published.push(a))
				const m = new PowerMonitor(config)
				const state = new Map<string, boolean>()
				for (const s of steps) {
					for (const a of m.update(s).alarms) {
						const before = published.length
						alarms.hold(a)
						const changed = (state.get(a.id) ?? false) !== a.active
						expect(published.length - before).toBe(changed ? 1 : 0)
						if (changed) {
							const last = published.at(-1)!
							expect(last.state).toBe(a.active ? 'raised' : 'cleared')
							expect(last.id).toBe(a.id)
							// a clear reads as a clear: its own text, never the raise's
							expect(last.message).toBe(a.active ? a.message : a.cleared)
						}
						state.set(a.id, a.active)
					}
				}
				// one journal record per published alarm, and the feed's codes are its active power alarms
				expect(journaled).toHaveLength(published.length)
				expect(alarms.codes('ev/pgm')).toEqual(state.get('at-risk:ev/pgm:power') ? ['at-risk'] : [])
			}),
			{ numRuns: 200 },
		)
	})
})
