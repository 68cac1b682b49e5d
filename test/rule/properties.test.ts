// fast-check properties of the contribution rule (issue #2).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compareViolations, judge, POWER_ANALYSIS_CODES, type Report } from '../../src/rule/index.ts'
import { deviceOf, discreteTopology, feedOf, pathOf, valid, type Cfg } from '../support/topology.ts'

const allWarnings = (r: Report) => r.feeds.flatMap((f) => f.warnings)
const allViolations = (r: Report) => r.feeds.flatMap((f) => f.violations)

const topology = fc.record({
	paths: fc.integer({ min: 2, max: 6 }),
	devicesPerPath: fc.integer({ min: 1, max: 4 }),
	risksPerPath: fc.integer({ min: 0, max: 3 }),
	cardSize: fc.integer({ min: 1, max: 16 }),
})

describe('contribution rule properties', () => {
	it('a topology whose paths are disjoint by construction is compliant', () => {
		fc.assert(
			fc.property(topology, (t) => {
				const r = judge(valid(discreteTopology({ ...t, minPaths: t.paths })))
				expect(r.ok).toBe(true)
			}),
		)
	})

	type Element = 'device' | 'line-card' | 'risk' | 'power'
	const expected: Record<Element, string> = {
		device: 'shared-device',
		'line-card': 'shared-line-card',
		risk: 'shared-risk',
		power: 'shared-power',
	}

	/** Makes paths a and b share one element of the given kind, and nothing else. */
	function merge(cfg: Cfg, kind: Element, a: number, b: number, pick: number): void {
		const pa = pathOf(cfg, a)
		const pb = pathOf(cfg, b)
		switch (kind) {
			case 'device': {
				const dev = pa.via![pick % pa.via!.length]!
				if (!pb.via!.includes(dev)) pb.via!.push(dev)
				return
			}
			case 'line-card': {
				// another input on a's card when the card has one, else a's very input
				const card = deviceOf(cfg, 'rtr-1').lineCards![a]!
				const [lo, hi] = card.inputs
				pb.input = { router: 'rtr-1', input: lo + (pick % (hi - lo + 1)) }
				return
			}
			case 'risk': {
				const tag = pa.risks!.length > 0 ? pa.risks![pick % pa.risks!.length]! : `merged-risk`
				if (pa.risks!.length === 0) pa.risks!.push(tag)
				pb.risks!.push(tag)
				return
			}
			case 'power': {
				// a's first device and one of b's hang on one of a's UPS units alone: a single point of failure
				const dev = deviceOf(cfg, pb.via![pick % pb.via!.length]!)
				const first = deviceOf(cfg, pa.via![0]!)
				const source = `ups-${a}${pick % 2 === 0 ? 'a' : 'b'}`
				first.power = [source]
				dev.power = [source]
				return
			}
		}
	}

	it('merging one element into two paths yields exactly that code for exactly those two paths', () => {
		fc.assert(
			fc.property(
				topology,
				fc.constantFrom<Element>('device', 'line-card', 'risk', 'power'),
				fc.nat(),
				fc.nat(),
				fc.nat(),
				(t, kind, x, y, pick) => {
					const cfg = discreteTopology({ ...t, minPaths: t.paths })
					const a = x % t.paths
					const b = (a + 1 + (y % (t.paths - 1))) % t.paths
					merge(cfg, kind, a, b, pick)
					const r = judge(valid(cfg))
					const v = r.feeds.flatMap((f) => f.violations)
					const w = r.feeds.flatMap((f) => f.warnings)
					const pair = [`p${Math.min(a, b)}`, `p${Math.max(a, b)}`]
					if (kind !== 'power') {
						expect(v.map((z) => z.code)).toEqual([expected[kind]])
						expect(v[0]!.paths).toEqual(pair)
						expect(w).toEqual([])
						return
					}
					// the power analysis is a warning by default (docs/contract.md §3); the single feeds are violations
					expect(v.map((z) => [z.code, z.paths])).toEqual(pair.map((p) => ['single-power', [p]]))
					expect(w.map((z) => [z.code, z.paths])).toEqual([
						['shared-power', pair],
						['shared-upstream', pair],
					])
					expect(r.ok).toBe(false)
				},
			),
			{ numRuns: 300 },
		)
	})

	it('the report does not depend on the order of paths or devices in the file', () => {
		fc.assert(
			fc.property(
				topology,
				fc.array(
					fc.tuple(fc.constantFrom<Element>('device', 'line-card', 'risk', 'power'), fc.nat(), fc.nat(), fc.nat()),
					{
						maxLength: 4,
					},
				),
				fc.infiniteStream(fc.nat()),
				(t, merges, rnd) => {
					const cfg = discreteTopology({ ...t, minPaths: t.paths + 1 })
					for (const [kind, x, y, pick] of merges) {
						const a = x % t.paths
						merge(cfg, kind, a, (a + 1 + (y % (t.paths - 1))) % t.paths, pick)
					}
					const before = judge(valid(cfg))
					const shuffled = structuredClone(cfg)
					const it = rnd[Symbol.iterator]()
					const shuffle = <T>(xs: T[]): T[] => {
						for (let i = xs.length - 1; i > 0; i--) {
							const j = it.next().value % (i + 1)
							;[xs[i], xs[j]] = [xs[j]!, xs[i]!]
						}
						return xs
					}
					shuffle(feedOf(shuffled).paths!)
					shuffle(shuffled.devices)
					shuffle(shuffled.powerSources)
					for (const p of feedOf(shuffled).paths!) {
						shuffle(p.via!)
						shuffle(p.risks!)
					}
					const after: Report = judge(valid(shuffled))
					expect(after).toEqual(before)
				},
			),
			{ numRuns: 200 },
		)
	})

	/** every path device's power redrawn from the feed's UPS units, some single-fed, some listing a unit twice */
	const powerDraw = fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat({ max: 3 })), { minLength: 1, maxLength: 24 })
	function redraw(cfg: Cfg, t: { paths: number }, draws: [number, number, number][], dualOnly: boolean): void {
		const units = Array.from({ length: t.paths }, (_, i) => [`ups-${i}a`, `ups-${i}b`]).flat()
		const devices = feedOf(cfg).paths!.flatMap((p) => p.via!)
		for (const [d, u, shape] of draws) {
			const dev = deviceOf(cfg, devices[d % devices.length]!)
			const x = units[u % units.length]!
			const y = units[(u + 1 + (shape % (units.length - 1))) % units.length]!
			// shape 0..1: two distinct units; 2: one unit; 3: one unit listed twice (counted once, docs/contract.md §3)
			dev.power = dualOnly || shape < 2 ? [x, y] : shape === 2 ? [x] : [x, x]
		}
	}

	it('with every path device on two distinct UPS units, shared-power is never found, however the units are shared', () => {
		fc.assert(
			fc.property(topology, powerDraw, (t, draws) => {
				const cfg = discreteTopology({ ...t, minPaths: t.paths })
				redraw(cfg, t, draws, true)
				cfg.policy = { minPaths: t.paths, discretePower: true }
				const r = judge(valid(cfg))
				expect(allViolations(r).filter((v) => v.code === 'shared-power')).toEqual([])
				expect(allWarnings(r)).toEqual([])
			}),
			{ numRuns: 200 },
		)
	})

	it('policy.discretePower moves the power analysis between warnings and violations, and changes nothing else', () => {
		fc.assert(
			fc.property(topology, powerDraw, fc.boolean(), (t, draws, upstreamShared) => {
				const cfg = discreteTopology({ ...t, minPaths: t.paths })
				redraw(cfg, t, draws, false)
				if (upstreamShared) for (const ps of cfg.powerSources) if (ps.upstream === 'gen') ps.upstream = 'util'
				const loose = judge(valid(cfg))
				cfg.policy = { minPaths: t.paths, discretePower: true }
				const strict = judge(valid(cfg))
				expect(allWarnings(strict)).toEqual([])
				expect(strict.warnings).toEqual([])
				const merged = [...allViolations(loose), ...allWarnings(loose)].sort(compareViolations)
				expect(allViolations(strict)).toEqual(merged)
				expect(allWarnings(loose).every((w) => POWER_ANALYSIS_CODES.has(w.code))).toBe(true)
				expect(loose.warnings).toHaveLength(allWarnings(loose).length)
				// the default's verdict ignores the power analysis
				expect(loose.ok).toBe(allViolations(loose).length === 0)
			}),
			{ numRuns: 200 },
		)
	})

	it('a source listed twice in a device is the same as listed once', () => {
		fc.assert(
			fc.property(topology, powerDraw, fc.nat(), (t, draws, which) => {
				const cfg = discreteTopology({ ...t, minPaths: t.paths })
				redraw(cfg, t, draws, false)
				const once = judge(valid(cfg))
				const devices = cfg.devices.filter((d) => d.role !== 'router' && d.power!.length > 0)
				const dev = devices[which % devices.length]!
				dev.power = [...dev.power!, dev.power![0]!]
				const twice = judge(valid(cfg))
				const codes = (r: Report) => [...allViolations(r), ...allWarnings(r)].map((v) => [v.code, v.paths])
				expect(codes(twice)).toEqual(codes(once))
			}),
			{ numRuns: 200 },
		)
	})
})
