// Model-based properties of the engine over random timelines on the fixture BOC:
// - never an automatic switch to an ineligible path, never one on a manual or locked feed, a revert only to a
//   healthy path (checked on the engine's own snapshot at the instant of each decision);
// - the outputs do not depend on how time is chunked (extra wake-ups at random instants, as real timers give) nor
//   on how fast the clock runs (every time and duration scaled);
// - a journal written as the daemon writes it, extracted with extractTimeline and replayed, reproduces the journaled
//   decisions, alarms and refusals.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Config } from '../../src/domain/config.ts'
import { buildModel, type FeedKey, type Model } from '../../src/domain/model.ts'
import {
	Engine,
	jsonLine,
	parseTimeline,
	replay,
	toObservation,
	type Observation,
	type Output,
	type TimelineRecord,
} from '../../src/engine/index.ts'
import { entriesFor, entriesForOutput, extractTimeline, Journal, readRecords } from '../../src/journal/index.ts'
import { boc, toText } from './helpers.ts'

const FEEDS = { 'wbc/pgm': ['fiber', 'sat', 'inet'], 'wbc/iso': ['fiber2', 'sat2'], 'wbc/crit': ['a', 'b', 'c'] }
const DEVICES = ['venue-enc', 'fiber-rx', 'sat-ird', 'inet-gw', 'fiber2-rx', 'sat2-ird', 'rtr-1']
const feedKeys = Object.keys(FEEDS) as (keyof typeof FEEDS)[]
const report = fc.constantFrom('up', 'up', 'up', 'down', 'degraded', 'unknown')

type Step = { gap: number; back: number; rec: (t: number, at: number) => TimelineRecord }

const step: fc.Arbitrary<Step> = fc.record({
	gap: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 400 }), fc.integer({ min: 400, max: 12_000 })),
	back: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 200 })),
	rec: fc.oneof(
		{
			weight: 6,
			arbitrary: fc
				.tuple(fc.constantFrom(...feedKeys), fc.nat(2), report, fc.boolean())
				.map(([f, i, s, withAt]) => (t: number, at: number) => {
					const paths = FEEDS[f]
					return { t, path: `${f}/${paths[i % paths.length]!}`, signal: s, ...(withAt ? { at } : {}) }
				}),
		},
		{
			weight: 3,
			arbitrary: fc
				.tuple(fc.constantFrom(...DEVICES), report, fc.boolean())
				.map(([device, s, withAt]) => (t: number, at: number) => ({ t, device, state: s, ...(withAt ? { at } : {}) })),
		},
		{
			weight: 1,
			arbitrary: fc
				.tuple(
					fc.constantFrom(...feedKeys),
					fc.constantFrom('take', 'take', 'auto', 'manual', 'lock', 'unlock'),
					fc.nat(2),
					fc.boolean(),
				)
				.map(([f, command, i, force]) => (t: number) => {
					const paths = FEEDS[f]
					return command === 'take'
						? { t, feed: f, command, path: paths[i % paths.length]!, force, operator: 'op' }
						: { t, feed: f, command, operator: 'op' }
				}),
		},
	),
})

const starts = fc.array(
	fc.tuple(fc.constantFrom(...feedKeys), fc.nat(2), fc.constantFrom('auto', 'manual'), fc.boolean()),
	{ maxLength: 3 },
)

const timeline = fc
	.tuple(starts, fc.boolean(), fc.array(step, { minLength: 1, maxLength: 80, size: 'large' }))
	.map(([st, allUp, steps]) => {
		const out: TimelineRecord[] = []
		const seen = new Set<string>()
		for (const [f, i, mode, locked] of st) {
			if (seen.has(f)) continue
			seen.add(f)
			const paths = FEEDS[f]
			out.push({ t: 0, feed: f, active: paths[i % paths.length]!, mode, locked })
		}
		// most runs begin with every path up, so that failures have somewhere to go
		if (allUp) for (const f of feedKeys) for (const p of FEEDS[f]) out.push({ t: 0, path: `${f}/${p}`, signal: 'up' })
		let t = 0
		for (const s of steps) {
			t += s.gap
			out.push(s.rec(t, Math.max(0, t - s.back)))
		}
		return out
	})

const parse = (records: readonly TimelineRecord[], model: Model = boc) =>
	parseTimeline(toText(records), model).map((p) => p.obs)

/** Drives the engine with a wake-up at every deadline, checking each decision against the snapshot it leaves. */
function drive(model: Model, obs: readonly Observation[], check: (o: Output, e: Engine) => void): Output[] {
	const pending = new Set<FeedKey>(obs.filter((o) => o.type === 'start').map((o) => o.feed))
	const e = new Engine(model, { pending })
	const all: Output[] = []
	const take = (outs: Output[]) => {
		for (const o of outs) check(o, e)
		all.push(...outs)
	}
	for (const o of obs) {
		for (let d = e.nextDeadline(); d !== undefined && d <= o.t; d = e.nextDeadline()) take(e.advance(d))
		take(e.advance(o.t))
		take(e.apply(o))
	}
	return all
}

describe('safety', () => {
	it('no automatic switch to an ineligible path, none on a manual or locked feed; reverts only to healthy', () => {
		const seen = { failover: 0, revert: 0, take: 0 }
		fc.assert(
			fc.property(timeline, (records) => {
				drive(boc, parse(records), (o, e) => {
					if (o.kind !== 'decision') return
					seen[o.cause]++
					if (o.cause === 'take') return
					const s = e.feedSnapshot(o.feed)
					const to = s.paths[o.to]!
					expect(to.signal === null || to.signal === 'down', `${o.t} ${o.feed} -> ${o.to}`).toBe(false)
					expect(s.mode).toBe('auto')
					expect(s.locked).toBe(false)
					if (o.cause === 'revert') expect(to.state).toBe('healthy')
				})
			}),
			{ numRuns: 300 },
		)
		// the generator reaches every kind of decision, or the property says little
		expect(seen.failover).toBeGreaterThan(150)
		expect(seen.revert).toBeGreaterThan(30)
		expect(seen.take).toBeGreaterThan(40)
	})

	it('a refused take changes nothing; an accepted take sets manual', () => {
		fc.assert(
			fc.property(timeline, (records) => {
				const obs = parse(records)
				const e = new Engine(boc, { pending: new Set(obs.filter((o) => o.type === 'start').map((o) => o.feed)) })
				for (const o of obs) {
					e.advance(o.t)
					const before = o.type === 'command' ? e.feedSnapshot(o.feed) : undefined
					const outs = e.apply(o)
					if (before && o.type === 'command' && outs.some((x) => x.kind === 'refusal')) {
						const after = e.feedSnapshot(o.feed)
						expect([after.active, after.mode, after.locked]).toEqual([before.active, before.mode, before.locked])
					} else if (o.type === 'command' && o.command === 'take' && before?.started) {
						expect(e.feedSnapshot(o.feed).mode).toBe('manual')
						expect(e.feedSnapshot(o.feed).active).toBe(o.path)
					}
				}
			}),
			{ numRuns: 200 },
		)
	})
})

describe('determinism', () => {
	const lines = (outs: Output[]) => outs.map((o) => jsonLine(o, true) ?? '')

	it('does not depend on how time is chunked (random extra wake-ups)', () => {
		fc.assert(
			fc.property(timeline, fc.array(fc.nat(40_000), { maxLength: 40 }), (records, wakes) => {
				const obs = parse(records)
				const whole = replay(
					boc,
					obs.map((o, i) => ({ obs: o, line: i + 1 })),
				)
				const pending = new Set<FeedKey>(obs.filter((o) => o.type === 'start').map((o) => o.feed))
				const e = new Engine(boc, { pending })
				const chunked: Output[] = []
				const ws = [...wakes].sort((a, b) => a - b)
				for (const o of obs) {
					while (ws.length > 0 && ws[0]! <= o.t) chunked.push(...e.advance(ws.shift()!))
					chunked.push(...e.apply(o))
				}
				chunked.push(...e.advance(obs.at(-1)!.t))
				expect(lines(chunked)).toEqual(lines(whole))
			}),
			{ numRuns: 300 },
		)
	})

	it('does not depend on how fast the clock runs (times and durations scaled by k)', () => {
		const scaled = (k: number): Model => {
			const c = structuredClone<Config>(boc.config)
			for (const ev of c.events)
				for (const f of ev.feeds) {
					f.failover.lossMs *= k
					f.failover.clearMs *= k
				}
			return buildModel(c)
		}
		const models = new Map([1, 3, 7].map((k) => [k, scaled(k)]))
		fc.assert(
			fc.property(timeline, fc.constantFrom(3, 7), (records, k) => {
				const base = replay(
					models.get(1)!,
					parse(records).map((obs, i) => ({ obs, line: i + 1 })),
				)
				const fast = replay(
					models.get(k)!,
					records.map((r, i) => ({
						obs: toObservation({
							...r,
							t: r.t * k,
							...('at' in r && r.at !== undefined ? { at: r.at * k } : {}),
						}),
						line: i + 1,
					})),
				)
				const key = (o: Output) =>
					`${o.kind} ${o.feed} ${'to' in o ? o.to : ''} ${'alarm' in o ? `${o.alarm}${o.active}` : ''}`
				expect(fast.map((o) => `${o.t} ${key(o)}`)).toEqual(base.map((o) => `${o.t * k} ${key(o)}`))
			}),
			{ numRuns: 150 },
		)
	})
})

describe('journal round trip', () => {
	it('replaying a journal-extracted timeline reproduces the journaled decisions, alarms and refusals', async () => {
		const root = mkdtempSync(join(tmpdir(), 'sigpath-rt-'))
		let n = 0
		let decisions = 0
		try {
			await fc.assert(
				fc.asyncProperty(timeline, async (records) => {
					// the daemon: every feed waits for its start (the router's crosspoint), journaled with its mode
					const dir = join(root, String(n++))
					const j = Journal.open({ dir })
					const e = new Engine(boc, { pending: feedKeys })
					const acks: Promise<unknown>[] = [j.append('boot', { version: 'test', pid: 1, mono: 0 })]
					const write = (entries: ReturnType<typeof entriesFor>) => {
						for (const en of entries) acks.push(j.append(en.kind, en.payload))
					}
					const explicit = new Map(records.filter((r) => 'active' in r).map((r) => [(r as { feed: string }).feed, r]))
					for (const f of feedKeys) {
						const r = explicit.get(f) as { active: string; mode: 'auto' | 'manual'; locked: boolean } | undefined
						const o: Observation = {
							type: 'start',
							t: 0,
							feed: f,
							active: r?.active ?? FEEDS[f][0]!,
							mode: r?.mode ?? 'auto',
							locked: r?.locked ?? false,
						}
						write(entriesFor(o, e.apply(o)))
					}
					for (const o of parse(records.filter((r) => !('active' in r)))) {
						// outputs of the timers that fired before the observation, journaled as the daemon's timer does
						for (const out of e.advance(o.t)) write(entriesForOutput(out))
						write(entriesFor(o, e.apply(o)))
					}
					await Promise.all(acks)
					await j.close()
					const recs = readRecords(dir)
					for (const f of feedKeys) {
						const x = extractTimeline(recs, { feed: f })
						const journaled = recs
							.filter(
								(r) => ['decision', 'alarm', 'refusal'].includes(r.kind) && (r.payload as { feed: string }).feed === f,
							)
							.map((r) => {
								const p = r.payload as Record<string, unknown>
								return r.kind === 'decision'
									? JSON.stringify({ t: p.t, feed: p.feed, from: p.from, to: p.to, cause: p.cause })
									: JSON.stringify(p)
							})
						const replayed = replay(boc, parseTimeline(toText(x.timeline), boc), { until: x.lastT })
							.filter((o) => o.feed === f)
							.map((o) => {
								const l = jsonLine(o)
								return o.kind === 'refusal' || o.kind === 'alarm' ? JSON.stringify(JSON.parse(l!)) : l
							})
							.filter((l): l is string => l !== undefined)
						expect(replayed).toEqual(journaled)
						decisions += journaled.filter((l) => l.includes('"cause"')).length
					}
				}),
				{ numRuns: 25 },
			)
			expect(decisions).toBeGreaterThan(10)
		} finally {
			rmSync(root, { recursive: true, force: true })
		}
	})
})
