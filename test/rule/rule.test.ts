// Every code of contract §3, violated and satisfied, with details an operator can act on.
import { describe, expect, it } from 'vitest'
import { judge, type Code, type Violation } from '../../src/rule/index.ts'
import { deviceOf, discreteTopology, feedOf, pathOf, valid, type Cfg } from '../support/topology.ts'

function violations(cfg: Cfg): Violation[] {
	const r = judge(valid(cfg))
	return r.feeds.flatMap((f) => f.violations)
}
function codes(cfg: Cfg): Code[] {
	return violations(cfg).map((v) => v.code)
}

describe('the contribution rule', () => {
	it('finds a discrete three-path feed compliant', () => {
		const r = judge(valid(discreteTopology({ paths: 3 })))
		expect(r.ok).toBe(true)
		expect(r.feeds).toEqual([{ event: 'ev', feed: 'pgm', critical: true, compliant: true, violations: [] }])
	})

	describe('too-few-paths', () => {
		it('is raised below minPaths, holding every path of the feed', () => {
			const v = violations(discreteTopology({ paths: 2, minPaths: 3 }))
			expect(v).toEqual([
				{ code: 'too-few-paths', paths: ['p0', 'p1'], detail: 'feed ev/pgm has 2 paths; policy requires 3' },
			])
		})
		it('takes the tier override before the policy', () => {
			const cfg = discreteTopology({ paths: 2, minPaths: 3, tier: 'yellow' })
			cfg.policy = { minPaths: 3, tiers: { yellow: { minPaths: 2 } } }
			expect(codes(cfg)).toEqual([])
			cfg.policy = { minPaths: 1, tiers: { yellow: { minPaths: 3 } } }
			expect(violations(cfg)[0]?.detail).toBe('feed ev/pgm has 2 paths; tier yellow requires 3')
		})
		it('is raised for a critical feed with no paths at all', () => {
			const cfg = discreteTopology({ paths: 0, minPaths: 3 })
			expect(violations(cfg)).toEqual([
				{ code: 'too-few-paths', paths: [], detail: 'feed ev/pgm has 0 paths; policy requires 3' },
			])
		})
	})

	describe('method-not-approved', () => {
		it('names the path and its method', () => {
			const cfg = discreteTopology({ paths: 3 })
			pathOf(cfg, 1).method = 'bonded-cellular'
			expect(violations(cfg)).toEqual([
				{
					code: 'method-not-approved',
					paths: ['p1'],
					detail:
						'path p1 uses method "bonded-cellular", which is not approved (approved: fiber, satellite, internet, srt)',
				},
			])
		})
		it('accepts a method the policy approves', () => {
			const cfg = discreteTopology({ paths: 3 })
			pathOf(cfg, 1).method = 'bonded-cellular'
			cfg.policy = { approvedMethods: ['fiber', 'satellite', 'internet', 'srt', 'bonded-cellular'] }
			expect(codes(cfg)).toEqual([])
		})
	})

	describe('shared-device', () => {
		it('is raised once per pair: a device in three paths gives three violations', () => {
			const cfg = discreteTopology({ paths: 3 })
			for (const i of [1, 2]) pathOf(cfg, i).via!.push('d0-1')
			const v = violations(cfg).filter((x) => x.code === 'shared-device')
			expect(v.map((x) => x.paths)).toEqual([
				['p0', 'p1'],
				['p0', 'p2'],
				['p1', 'p2'],
			])
			expect(v[0]!.detail).toBe('paths p0 and p1 both go through device d0-1')
			expect(codes(cfg).every((c) => c === 'shared-device')).toBe(true)
		})
		it('lists every device two paths share in one violation', () => {
			const cfg = discreteTopology({ paths: 3 })
			pathOf(cfg, 1).via!.push('d0-0', 'd0-1')
			expect(violations(cfg)).toEqual([
				{ code: 'shared-device', paths: ['p0', 'p1'], detail: 'paths p0 and p1 both go through devices d0-0, d0-1' },
			])
		})
	})

	describe('shared-line-card', () => {
		it('is raised for two inputs on one card, naming both paths, the card and the inputs', () => {
			const cfg = discreteTopology({ paths: 3, cardSize: 16 })
			pathOf(cfg, 1).input = { router: 'rtr-1', input: 4 }
			expect(violations(cfg)).toEqual([
				{
					code: 'shared-line-card',
					paths: ['p0', 'p1'],
					detail: 'paths p0 and p1 land on rtr-1 card-0 (inputs 1 and 4)',
				},
			])
		})
		it('is raised for the very same input', () => {
			const cfg = discreteTopology({ paths: 3 })
			pathOf(cfg, 2).input = { router: 'rtr-1', input: 1 }
			expect(violations(cfg)).toEqual([
				{
					code: 'shared-line-card',
					paths: ['p0', 'p2'],
					detail: 'paths p0 and p2 land on the same input: rtr-1 input 1',
				},
			])
		})
		it('is not raised for adjacent inputs on different cards', () => {
			const cfg = discreteTopology({ paths: 3, cardSize: 8 })
			pathOf(cfg, 0).input = { router: 'rtr-1', input: 8 }
			pathOf(cfg, 1).input = { router: 'rtr-1', input: 9 }
			expect(codes(cfg)).toEqual([])
		})
	})

	describe('line-card-unknown', () => {
		it('is raised for an input no card covers', () => {
			const cfg = discreteTopology({ paths: 3, cardSize: 8 })
			pathOf(cfg, 2).input = { router: 'rtr-1', input: 30 }
			expect(violations(cfg)).toEqual([
				{
					code: 'line-card-unknown',
					paths: ['p2'],
					detail: 'path p2 lands on rtr-1 input 30, which no declared line card covers',
				},
			])
		})
		it('is raised for every path on a router that declares no cards', () => {
			const cfg = discreteTopology({ paths: 3 })
			delete deviceOf(cfg, 'rtr-1').lineCards
			expect(codes(cfg)).toEqual(['line-card-unknown', 'line-card-unknown', 'line-card-unknown'])
		})
	})

	describe('shared-risk', () => {
		it('names the shared risk groups', () => {
			const cfg = discreteTopology({ paths: 3 })
			pathOf(cfg, 2).risks!.push('risk-0-0', 'conduit-east')
			pathOf(cfg, 0).risks!.push('conduit-east')
			expect(violations(cfg)).toEqual([
				{
					code: 'shared-risk',
					paths: ['p0', 'p2'],
					detail: 'paths p0 and p2 share the risk groups conduit-east, risk-0-0',
				},
			])
		})
		it('is not raised for distinct tags', () => {
			expect(codes(discreteTopology({ paths: 4, risksPerPath: 3 }))).toEqual([])
		})
	})

	describe('shared-power (extension)', () => {
		it('is raised when devices of two paths draw on one UPS', () => {
			const cfg = discreteTopology({ paths: 3 })
			deviceOf(cfg, 'd2-0').power = ['ups-2a', 'ups-0b']
			expect(violations(cfg)).toEqual([
				{
					code: 'shared-power',
					paths: ['p0', 'p2'],
					detail: 'paths p0 and p2 draw on the same power source: ups-0b (p0: d0-0, d0-1; p2: d2-0)',
				},
			])
		})
		it('is not judged when the policy allows a shared A/B bus', () => {
			const cfg = discreteTopology({ paths: 3 })
			deviceOf(cfg, 'd2-0').power = ['ups-0a', 'ups-0b']
			cfg.policy = { minPaths: 3, discretePower: false }
			expect(codes(cfg)).toEqual([])
		})
	})

	describe('single-power', () => {
		it('is raised for one source and for none, per device of the path', () => {
			const cfg = discreteTopology({ paths: 3 })
			deviceOf(cfg, 'd1-0').power = ['ups-1a']
			deviceOf(cfg, 'd1-1').power = []
			expect(violations(cfg)).toEqual([
				{
					code: 'single-power',
					paths: ['p1'],
					detail: 'device d1-0 in path p1 has one power source (ups-1a); it needs two',
				},
				{
					code: 'single-power',
					paths: ['p1'],
					detail: 'device d1-1 in path p1 has no power source declared; it needs two',
				},
			])
		})
		it('judges only devices in some path', () => {
			const cfg = discreteTopology({ paths: 3 })
			cfg.devices.push({ id: 'spare', role: 'other' })
			deviceOf(cfg, 'rtr-1').power = []
			expect(codes(cfg)).toEqual([])
		})
	})

	describe('power-not-ups and not-surge-protected', () => {
		it('names a source that is not a UPS', () => {
			const cfg = discreteTopology({ paths: 3 })
			deviceOf(cfg, 'd0-1').power = ['ups-0a', 'gen']
			expect(violations(cfg)).toEqual([
				{ code: 'power-not-ups', paths: ['p0'], detail: 'device d0-1 in path p0 is fed by gen (generator), not a UPS' },
			])
		})
		it('names a UPS without surge protection', () => {
			const cfg = discreteTopology({ paths: 3 })
			const ups = cfg.powerSources.find((p) => p.id === 'ups-2b')!
			ups.surgeProtected = false
			expect(violations(cfg)).toEqual([
				{
					code: 'not-surge-protected',
					paths: ['p2'],
					detail: 'device d2-0 in path p2 is fed by UPS ups-2b without surge protection',
				},
				{
					code: 'not-surge-protected',
					paths: ['p2'],
					detail: 'device d2-1 in path p2 is fed by UPS ups-2b without surge protection',
				},
			])
		})
	})

	it('lists a non-critical feed with critical false and no violations', () => {
		const cfg = discreteTopology({ paths: 1 })
		feedOf(cfg).critical = false
		pathOf(cfg, 0).method = 'carrier-pigeon'
		expect(judge(valid(cfg))).toEqual({
			ok: true,
			feeds: [{ event: 'ev', feed: 'pgm', critical: false, compliant: true, violations: [] }],
		})
	})

	it('a config with devices alone is compliant', () => {
		const r = judge(valid({ site: { id: 's' }, powerSources: [], events: [], devices: [{ id: 'x', role: 'other' }] }))
		expect(r).toEqual({ ok: true, feeds: [] })
	})
})
