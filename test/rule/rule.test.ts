// Every code of docs/contract.md §3, violated and satisfied, with details an operator can act on. One table per code: each
// row builds the discrete topology, changes it in one way, and gives the exact violations it must yield.
import { describe, expect, it } from 'vitest'
import { judge, type Code, type Violation } from '../../src/rule/index.ts'
import {
	deviceOf,
	discreteTopology,
	feedOf,
	pathOf,
	valid,
	type Cfg,
	type TopologyOptions,
} from '../support/topology.ts'

function violations(cfg: Cfg): Violation[] {
	const r = judge(valid(cfg))
	return r.feeds.flatMap((f) => f.violations)
}
function warnings(cfg: Cfg): Violation[] {
	return judge(valid(cfg)).feeds.flatMap((f) => f.warnings)
}
function codes(cfg: Cfg): Code[] {
	return violations(cfg).map((v) => v.code)
}

interface Row {
	name: string
	topology: TopologyOptions
	/** the one change to the discrete topology */
	change?: (cfg: Cfg) => void
	/** the feed's exact violations, or only their codes where a row is about how many there are */
	expect: Violation[] | { codes: Code[] }
	/** the feed's exact warnings (none unless given) */
	warnings?: Violation[]
}

/** a describe of the rows, plus any test that does not fit one (`more`) */
function table(title: string, rows: Row[], more?: () => void): void {
	describe(title, () => {
		it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, r) => {
			const cfg = discreteTopology(r.topology)
			r.change?.(cfg)
			if (Array.isArray(r.expect)) expect(violations(cfg)).toEqual(r.expect)
			else expect(codes(cfg)).toEqual(r.expect.codes)
			expect(warnings(cfg)).toEqual(r.warnings ?? [])
		})
		more?.()
	})
}

describe('the contribution rule', () => {
	it('finds a discrete three-path feed compliant', () => {
		const r = judge(valid(discreteTopology({ paths: 3 })))
		expect(r.ok).toBe(true)
		expect(r.feeds).toEqual([
			{ event: 'ev', feed: 'pgm', critical: true, compliant: true, violations: [], warnings: [] },
		])
		expect(r.warnings).toEqual([])
	})

	table(
		'too-few-paths',
		[
			{
				name: 'is raised below minPaths, holding every path of the feed',
				topology: { paths: 2, minPaths: 3 },
				expect: [{ code: 'too-few-paths', paths: ['p0', 'p1'], detail: 'feed ev/pgm has 2 paths; policy requires 3' }],
			},
			{
				name: 'is raised for a critical feed with no paths at all',
				topology: { paths: 0, minPaths: 3 },
				expect: [{ code: 'too-few-paths', paths: [], detail: 'feed ev/pgm has 0 paths; policy requires 3' }],
			},
		],
		() => {
			it('takes the tier override before the policy', () => {
				const cfg = discreteTopology({ paths: 2, minPaths: 3, tier: 'yellow' })
				cfg.policy = { minPaths: 3, tiers: { yellow: { minPaths: 2 } } }
				expect(codes(cfg)).toEqual([])
				cfg.policy = { minPaths: 1, tiers: { yellow: { minPaths: 3 } } }
				expect(violations(cfg)[0]?.detail).toBe('feed ev/pgm has 2 paths; tier yellow requires 3')
			})
		},
	)

	table('method-not-approved', [
		{
			name: 'names the path and its method',
			topology: { paths: 3 },
			change: (cfg) => (pathOf(cfg, 1).method = 'bonded-cellular'),
			expect: [
				{
					code: 'method-not-approved',
					paths: ['p1'],
					detail:
						'path p1 uses method "bonded-cellular", which is not approved (approved: fiber, satellite, internet, srt)',
				},
			],
		},
		{
			name: 'accepts a method the policy approves',
			topology: { paths: 3 },
			change: (cfg) => {
				pathOf(cfg, 1).method = 'bonded-cellular'
				cfg.policy = { approvedMethods: ['fiber', 'satellite', 'internet', 'srt', 'bonded-cellular'] }
			},
			expect: { codes: [] },
		},
	])

	table(
		'shared-device',
		[
			{
				name: 'lists every device two paths share in one violation',
				topology: { paths: 3 },
				change: (cfg) => pathOf(cfg, 1).via!.push('d0-0', 'd0-1'),
				expect: [
					{
						code: 'shared-device',
						paths: ['p0', 'p1'],
						detail: 'paths p0 and p1 both go through devices d0-0, d0-1',
					},
				],
			},
		],
		() => {
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
		},
	)

	table('shared-line-card', [
		{
			name: 'is raised for two inputs on one card, naming both paths, the card and the inputs',
			topology: { paths: 3, cardSize: 16 },
			change: (cfg) => (pathOf(cfg, 1).input = { router: 'rtr-1', input: 4 }),
			expect: [
				{
					code: 'shared-line-card',
					paths: ['p0', 'p1'],
					detail: 'paths p0 and p1 land on rtr-1 card-0 (inputs 1 and 4)',
				},
			],
		},
		{
			name: 'is raised for the very same input',
			topology: { paths: 3 },
			change: (cfg) => (pathOf(cfg, 2).input = { router: 'rtr-1', input: 1 }),
			expect: [
				{
					code: 'shared-line-card',
					paths: ['p0', 'p2'],
					detail: 'paths p0 and p2 land on the same input: rtr-1 input 1',
				},
			],
		},
		{
			name: 'is not raised for adjacent inputs on different cards',
			topology: { paths: 3, cardSize: 8 },
			change: (cfg) => {
				pathOf(cfg, 0).input = { router: 'rtr-1', input: 8 }
				pathOf(cfg, 1).input = { router: 'rtr-1', input: 9 }
			},
			expect: { codes: [] },
		},
	])

	table('line-card-unknown', [
		{
			name: 'is raised for an input no card covers',
			topology: { paths: 3, cardSize: 8 },
			change: (cfg) => (pathOf(cfg, 2).input = { router: 'rtr-1', input: 30 }),
			expect: [
				{
					code: 'line-card-unknown',
					paths: ['p2'],
					detail: 'path p2 lands on rtr-1 input 30, which no declared line card covers',
				},
			],
		},
		{
			name: 'is raised for every path on a router that declares no cards',
			topology: { paths: 3 },
			change: (cfg) => delete deviceOf(cfg, 'rtr-1').lineCards,
			expect: { codes: ['line-card-unknown', 'line-card-unknown', 'line-card-unknown'] },
		},
	])

	table('shared-risk', [
		{
			name: 'names the shared risk groups',
			topology: { paths: 3 },
			change: (cfg) => {
				pathOf(cfg, 2).risks!.push('risk-0-0', 'conduit-east')
				pathOf(cfg, 0).risks!.push('conduit-east')
			},
			expect: [
				{
					code: 'shared-risk',
					paths: ['p0', 'p2'],
					detail: 'paths p0 and p2 share the risk groups conduit-east, risk-0-0',
				},
			],
		},
		{ name: 'is not raised for distinct tags', topology: { paths: 4, risksPerPath: 3 }, expect: { codes: [] } },
	])

	// The power analysis (docs/contract.md §3): which one power source, failing, takes two paths down together. In the
	// topology every device of path i is fed by ups-<i>a (on utility `util`) and ups-<i>b (on generator `gen`).
	const singleFed = (cfg: Cfg) => {
		deviceOf(cfg, 'd0-1').power = ['ups-0a']
		deviceOf(cfg, 'd2-0').power = ['ups-0a']
	}
	const singleFedViolations: Violation[] = [
		{
			code: 'single-power',
			paths: ['p0'],
			detail: 'device d0-1 in path p0 has one power source (ups-0a); it needs two',
		},
		{
			code: 'single-power',
			paths: ['p2'],
			detail: 'device d2-0 in path p2 has one power source (ups-0a); it needs two',
		},
	]
	const singleFedFindings: Violation[] = [
		{
			code: 'shared-power',
			paths: ['p0', 'p2'],
			detail: 'paths p0 and p2 both go down if ups source ups-0a fails (p0: d0-1; p2: d2-0)',
		},
		{
			code: 'shared-upstream',
			paths: ['p0', 'p2'],
			detail:
				'paths p0 and p2 both go down if utility source util is out for longer than the UPS batteries last (p0: d0-1; p2: d2-0)',
		},
	]

	table('shared-power (power analysis: a warning unless policy.discretePower)', [
		{
			name: 'names the one UPS that devices of two paths hang on alone, as a warning',
			topology: { paths: 3 },
			change: singleFed,
			expect: singleFedViolations,
			warnings: singleFedFindings,
		},
		{
			name: 'is a violation with policy.discretePower: true',
			topology: { paths: 3 },
			change: (cfg) => {
				singleFed(cfg)
				cfg.policy = { minPaths: 3, discretePower: true }
			},
			expect: [...singleFedFindings, ...singleFedViolations],
		},
		{
			name: 'is no finding for devices of two paths dual-fed from one A/B pair, even with discretePower',
			topology: { paths: 3 },
			change: (cfg) => {
				deviceOf(cfg, 'd2-0').power = ['ups-0a', 'ups-0b']
				deviceOf(cfg, 'd1-1').power = ['ups-0b', 'ups-2a']
				cfg.policy = { minPaths: 3, discretePower: true }
			},
			expect: [],
		},
		{
			name: 'names the utility feed behind two distribution boards (not UPS units: no ride-through)',
			topology: { paths: 3 },
			change: (cfg) => {
				cfg.powerSources.push(
					{ id: 'board-1', kind: 'utility', upstream: 'util' },
					{ id: 'board-2', kind: 'utility', upstream: 'util' },
				)
				deviceOf(cfg, 'd0-0').power = ['board-1', 'board-2']
				deviceOf(cfg, 'd1-0').power = ['board-2', 'board-1']
			},
			expect: [
				{
					code: 'power-not-ups',
					paths: ['p0'],
					detail: 'device d0-0 in path p0 is fed by board-1 (utility), board-2 (utility), not a UPS',
				},
				{
					code: 'power-not-ups',
					paths: ['p1'],
					detail: 'device d1-0 in path p1 is fed by board-1 (utility), board-2 (utility), not a UPS',
				},
			],
			warnings: [
				{
					code: 'shared-power',
					paths: ['p0', 'p1'],
					detail: 'paths p0 and p1 both go down if utility source util fails (p0: d0-0; p1: d1-0)',
				},
			],
		},
		{
			name: 'leaves out a device in both paths (a shared-device already)',
			topology: { paths: 3 },
			change: (cfg) => {
				pathOf(cfg, 2).via!.push('d0-0')
				deviceOf(cfg, 'd0-0').power = ['ups-0a']
			},
			expect: [
				{ code: 'shared-device', paths: ['p0', 'p2'], detail: 'paths p0 and p2 both go through device d0-0' },
				{
					code: 'single-power',
					paths: ['p0'],
					detail: 'device d0-0 in path p0 has one power source (ups-0a); it needs two',
				},
				{
					code: 'single-power',
					paths: ['p2'],
					detail: 'device d0-0 in path p2 has one power source (ups-0a); it needs two',
				},
			],
		},
	])

	table('shared-upstream (power analysis: an outage that outlasts the UPS batteries)', [
		{
			name: 'is no finding while each path has a UPS on utility and one on the generator',
			topology: { paths: 3 },
			change: (cfg) => (cfg.policy = { minPaths: 3, discretePower: true }),
			expect: [],
		},
		{
			name: 'names the one utility feed behind every UPS unit, once per pair, as a warning (ride-through: no shared-power)',
			topology: { paths: 3, devicesPerPath: 1 },
			change: (cfg) => {
				for (const ps of cfg.powerSources) if (ps.upstream === 'gen') ps.upstream = 'util'
			},
			expect: [],
			warnings: [
				['p0', 'p1'],
				['p0', 'p2'],
				['p1', 'p2'],
			].map(([x, y]) => ({
				code: 'shared-upstream' as const,
				paths: [x!, y!],
				detail: `paths ${x} and ${y} both go down if utility source util is out for longer than the UPS batteries last (${x}: d${x!.slice(1)}-0; ${y}: d${y!.slice(1)}-0)`,
			})),
		},
		{
			name: 'is a violation with policy.discretePower: true',
			topology: { paths: 2, devicesPerPath: 1 },
			change: (cfg) => {
				for (const ps of cfg.powerSources) if (ps.upstream === 'gen') ps.upstream = 'util'
				cfg.policy = { minPaths: 2, discretePower: true }
			},
			expect: [
				{
					code: 'shared-upstream',
					paths: ['p0', 'p1'],
					detail:
						'paths p0 and p1 both go down if utility source util is out for longer than the UPS batteries last (p0: d0-0; p1: d1-0)',
				},
			],
		},
	])

	table('single-power', [
		{
			name: 'is raised for one source and for none, per device of the path',
			topology: { paths: 3 },
			change: (cfg) => {
				deviceOf(cfg, 'd1-0').power = ['ups-1a']
				deviceOf(cfg, 'd1-1').power = []
			},
			expect: [
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
			],
		},
		{
			name: 'counts a source listed twice once (not an invalid config)',
			topology: { paths: 3 },
			change: (cfg) => {
				deviceOf(cfg, 'd1-0').power = ['ups-1a', 'ups-1a']
				deviceOf(cfg, 'd2-0').power = ['ups-2a', 'ups-2b', 'ups-2a']
			},
			expect: [
				{
					code: 'single-power',
					paths: ['p1'],
					detail: 'device d1-0 in path p1 has one power source (ups-1a, listed twice); it needs two',
				},
			],
		},
		{
			name: 'judges only devices in some path',
			topology: { paths: 3 },
			change: (cfg) => {
				cfg.devices.push({ id: 'spare', role: 'other' })
				deviceOf(cfg, 'rtr-1').power = []
			},
			expect: { codes: [] },
		},
	])

	table('power-not-ups and not-surge-protected', [
		{
			name: 'names a source that is not a UPS',
			topology: { paths: 3 },
			change: (cfg) => (deviceOf(cfg, 'd0-1').power = ['ups-0a', 'gen']),
			expect: [
				{ code: 'power-not-ups', paths: ['p0'], detail: 'device d0-1 in path p0 is fed by gen (generator), not a UPS' },
			],
		},
		{
			name: 'names a UPS without surge protection',
			topology: { paths: 3 },
			change: (cfg) => (cfg.powerSources.find((p) => p.id === 'ups-2b')!.surgeProtected = false),
			expect: [
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
			],
		},
	])

	it('lists a non-critical feed with critical false and no violations', () => {
		const cfg = discreteTopology({ paths: 1 })
		feedOf(cfg).critical = false
		pathOf(cfg, 0).method = 'carrier-pigeon'
		expect(judge(valid(cfg))).toEqual({
			ok: true,
			feeds: [{ event: 'ev', feed: 'pgm', critical: false, compliant: true, violations: [], warnings: [] }],
			warnings: [],
		})
	})

	it('a config with devices alone is compliant', () => {
		const r = judge(valid({ site: { id: 's' }, powerSources: [], events: [], devices: [{ id: 'x', role: 'other' }] }))
		expect(r).toEqual({ ok: true, feeds: [], warnings: [] })
	})
})
