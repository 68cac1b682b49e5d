// The engine against the literal per-millisecond reference model (oracle.ts) on random timelines, with short lossMs
// and clearMs so that every rule, timer and tie is reached within a few hundred ms.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Config } from '../../src/domain/config.ts'
import { buildModel } from '../../src/domain/model.ts'
import { parseTimeline, replay, type Output, type TimelineRecord } from '../../src/engine/index.ts'
import { boc, toText } from './helpers.ts'
import { oracle } from './oracle.ts'

const config = structuredClone<Config>(boc.config)
const timing: Record<string, [number, number]> = { pgm: [3, 20], iso: [5, 12], crit: [2, 9] }
for (const f of config.events[0]!.feeds) {
	const [loss, clear] = timing[f.id]!
	f.failover.lossMs = loss
	f.failover.clearMs = clear
}
const model = buildModel(config)

const FEEDS = { 'wbc/pgm': ['fiber', 'sat', 'inet'], 'wbc/iso': ['fiber2', 'sat2'], 'wbc/crit': ['a', 'b', 'c'] }
const keys = Object.keys(FEEDS) as (keyof typeof FEEDS)[]
const DEVICES = ['venue-enc', 'fiber-rx', 'sat-ird', 'inet-gw', 'fiber2-rx', 'sat2-ird', 'rtr-1']
const report = fc.constantFrom('up', 'up', 'down', 'degraded', 'unknown')

const record = fc.oneof(
	{
		weight: 6,
		arbitrary: fc
			.tuple(fc.constantFrom(...keys), fc.nat(2), report)
			.map(([f, i, s]) => ({ path: `${f}/${FEEDS[f][i % FEEDS[f].length]!}`, signal: s })),
	},
	{ weight: 2, arbitrary: fc.tuple(fc.constantFrom(...DEVICES), report).map(([device, state]) => ({ device, state })) },
	{
		weight: 2,
		arbitrary: fc
			.tuple(
				fc.constantFrom(...keys),
				fc.constantFrom('take', 'auto', 'manual', 'lock', 'unlock'),
				fc.nat(2),
				fc.boolean(),
			)
			.map(([f, command, i, force]) =>
				command === 'take' ? { feed: f, command, path: FEEDS[f][i % FEEDS[f].length]!, force } : { feed: f, command },
			),
	},
)

const timeline = fc
	.tuple(
		fc.array(fc.tuple(fc.constantFrom(...keys), fc.nat(2), fc.constantFrom('auto', 'manual'), fc.boolean()), {
			maxLength: 3,
		}),
		fc.boolean(),
		fc.array(
			fc.tuple(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 8, max: 30 })), record),
			{
				minLength: 1,
				maxLength: 120,
				size: 'large',
			},
		),
	)
	.map(([starts, allUp, steps]) => {
		const out: TimelineRecord[] = []
		const seen = new Set<string>()
		for (const [f, i, mode, locked] of starts)
			if (!seen.has(f)) {
				seen.add(f)
				out.push({ t: 0, feed: f, active: FEEDS[f][i % FEEDS[f].length]!, mode, locked })
			}
		if (allUp) for (const f of keys) for (const p of FEEDS[f]) out.push({ t: 0, path: `${f}/${p}`, signal: 'up' })
		let t = 0
		for (const [gap, r] of steps) {
			t += gap
			out.push({ t, ...r })
		}
		return out
	})

function engineLines(outs: Output[]): string[] {
	const lines: string[] = []
	for (const o of outs) {
		if (o.kind === 'decision') lines.push(`${o.t} ${o.feed} ${o.from}>${o.to} ${o.cause}`)
		else if (o.kind === 'refusal') lines.push(`${o.t} ${o.feed} refused ${o.refused}`)
		else if (o.kind === 'alarm' && o.alarm !== 'at-risk')
			lines.push(`${o.t} ${o.feed} ${o.alarm} ${o.active ? '+' : '-'} ${o.path}`)
	}
	return lines
}

describe('engine = literal per-ms model of §4', () => {
	it('gives the same decisions, refusals and alarms on random timelines', () => {
		let decisions = 0
		fc.assert(
			fc.property(timeline, fc.nat(40), (records, extra) => {
				const parsed = parseTimeline(toText(records), model)
				const until = records.at(-1)!.t + extra
				const got = engineLines(replay(model, parsed, { until }))
				const want = oracle(
					model,
					parsed.map((p) => p.obs),
					until,
				)
				expect(got).toEqual(want)
				decisions += got.filter((l) => l.includes('>')).length
			}),
			{ numRuns: 400 },
		)
		expect(decisions).toBeGreaterThan(400)
	})
})
