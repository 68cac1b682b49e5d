// The power model: UPS states to source states, protected sources left per device, and live compliance
// through the pure rule on liveConfig().
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseConfigText } from '../../src/domain/load.ts'
import {
	atRiskDevices,
	liveConfig,
	powerReport,
	sourceState,
	type UpsObservation,
	type UpsPower,
} from '../../src/domain/power.ts'
import { judge } from '../../src/rule/index.ts'

const config = parseConfigText(`
site: { id: t }
powerSources:
  - { id: util-a, kind: utility }
  - { id: ups-a, kind: ups, upstream: util-a, device: ups-a, surgeProtected: true }
  - { id: ups-b, kind: ups, upstream: util-a, device: ups-b, surgeProtected: true }
  - { id: ups-c, kind: ups, upstream: util-a, device: ups-c, surgeProtected: true }
  - { id: ups-d, kind: ups, upstream: util-a, device: ups-d, surgeProtected: true }
  - { id: ups-x, kind: ups, surgeProtected: true }
devices:
  - { id: ups-a, role: ups }
  - { id: ups-b, role: ups }
  - { id: ups-c, role: ups }
  - { id: ups-d, role: ups }
  - { id: rtr, role: router, power: [ups-a, ups-b], lineCards: [ { id: c1, inputs: [1, 8] }, { id: c2, inputs: [9, 16] } ] }
  - { id: rx-1, role: receiver, power: [ups-a, ups-b] }
  - { id: rx-2, role: receiver, power: [ups-c, ups-d] }
  - { id: rx-3, role: receiver, power: [ups-x, ups-c] }
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

const obs = (power: UpsPower | null, commLost = false): UpsObservation => ({ power, commLost })

describe('source state from a UPS state', () => {
	it.each([
		[obs('online'), 'protected'],
		[obs('on-battery'), 'at-risk'],
		[obs('bypass'), 'unprotected'],
		[obs('low-battery'), 'lost'],
		[obs('off'), 'lost'],
		[obs('on-battery', true), 'lost'], // upsmon: silent on battery = low battery
		[obs('low-battery', true), 'lost'],
		[obs('off', true), 'lost'],
		[obs('online', true), 'unknown'],
		[obs('bypass', true), 'unknown'],
		[obs(null), 'unknown'],
		[undefined, 'unknown'],
	] as const)('%j -> %s', (o, state) => {
		expect(sourceState(o).state).toBe(state)
	})
})

describe('powerReport', () => {
	it('counts protected sources per device and names the at-risk and lost ones', () => {
		const r = powerReport(
			config,
			new Map([
				['ups-a', obs('online')],
				['ups-b', obs('on-battery')],
				['ups-c', obs('low-battery')],
				['ups-d', obs('online')],
			]),
		)
		expect(r.sources.get('util-a')?.state).toBe('unmonitored')
		expect(r.sources.get('ups-x')?.state).toBe('unmonitored')
		expect(r.devices.get('rx-1')).toMatchObject({ sources: 2, protectedSources: 2, atRisk: ['ups-b'], lost: [] })
		expect(r.devices.get('rx-2')).toMatchObject({ protectedSources: 1, lost: ['ups-c'] })
		// an unmonitored ups source is taken as configured
		expect(r.devices.get('rx-3')).toMatchObject({ protectedSources: 1, lost: ['ups-c'] })
		expect(atRiskDevices(r).map((d) => d.device)).toEqual(['rx-2', 'rx-3'])
	})

	it('a restart (nothing read yet) loses nothing', () => {
		const r = powerReport(config, new Map())
		expect(atRiskDevices(r)).toEqual([])
	})

	it('live compliance: a lost UPS makes single-power, a UPS on bypass makes power-not-ups', () => {
		expect(judge(config).ok).toBe(true)
		const lost = powerReport(config, new Map([['ups-c', obs('off')]]))
		const j1 = judge(liveConfig(config, lost))
		expect(j1.ok).toBe(false)
		expect(j1.feeds[0]!.violations.map((v) => [v.code, v.paths])).toEqual([['single-power', ['sat']]])
		const bypass = powerReport(config, new Map([['ups-a', obs('bypass')]]))
		const j2 = judge(liveConfig(config, bypass))
		expect(j2.feeds[0]!.violations.map((v) => v.code)).toContain('power-not-ups')
		// the config itself is untouched
		expect(config.devices.find((d) => d.id === 'rx-2')?.power).toEqual(['ups-c', 'ups-d'])
	})

	it('property: protectedSources never exceeds the ups sources, and more trouble never adds protection', () => {
		const power = fc.constantFrom<UpsPower | null>('online', 'on-battery', 'low-battery', 'bypass', 'off', null)
		const o = fc.record({ power, commLost: fc.boolean() })
		fc.assert(
			fc.property(fc.tuple(o, o, o, o), (os) => {
				const m = new Map(['ups-a', 'ups-b', 'ups-c', 'ups-d'].map((id, i) => [id, os[i]!]))
				const r = powerReport(config, m)
				for (const d of r.devices.values()) expect(d.protectedSources).toBeLessThanOrEqual(d.sources)
				const worse = new Map([...m].map(([k, v]) => [k, { ...v, power: 'off' as const }]))
				const rw = powerReport(config, worse)
				for (const [id, d] of rw.devices)
					expect(d.protectedSources).toBeLessThanOrEqual(r.devices.get(id)!.protectedSources)
			}),
		)
	})
})
