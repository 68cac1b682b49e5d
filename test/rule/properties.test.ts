// fast-check properties of the contribution rule (issue #2).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { judge, type Report } from '../../src/rule/index.ts'
import { deviceOf, discreteTopology, feedOf, pathOf, valid, type Cfg } from '../support/topology.ts'

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
				// one of b's devices now draws on one of a's UPS units instead of one of its own: still two UPS sources
				const dev = deviceOf(cfg, pb.via![pick % pb.via!.length]!)
				const source = deviceOf(cfg, pa.via![0]!).power![pick % 2]!
				if (!dev.power!.includes(source)) dev.power = [dev.power![0]!, source]
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
					const v = judge(valid(cfg)).feeds.flatMap((f) => f.violations)
					expect(v.map((z) => z.code)).toEqual([expected[kind]])
					expect(v[0]!.paths).toEqual([`p${Math.min(a, b)}`, `p${Math.max(a, b)}`])
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
})
