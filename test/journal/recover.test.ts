// Recovery of each feed's state from the journal, and `sigpath journal timeline` (run selection, --from/--to,
// device filtering with --config), replayed against the config it ran with.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.ts'
import { Engine, parseTimeline, replay, type Observation } from '../../src/engine/index.ts'
import {
	checkPayload,
	entriesFor,
	entriesForOutput,
	extractTimeline,
	Journal,
	readRecords,
	recoverFeeds,
	runs,
	serialize,
	GENESIS,
	type JournalRecord,
} from '../../src/journal/index.ts'
import { boc, bocFile } from '../engine/helpers.ts'

const root = mkdtempSync(join(tmpdir(), 'sigpath-recover-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** Records in memory, chained as the journal chains them. */
function chain(entries: { kind: string; payload: unknown }[]): JournalRecord[] {
	let prev = GENESIS
	return entries.map((e, i) => {
		const r = { seq: i + 1, wall: '2026-11-21T06:00:00.000Z', mono: i, kind: e.kind, payload: e.payload, prev }
		const { hash } = serialize(r)
		prev = hash
		return { ...r, hash }
	})
}

describe('recoverFeeds', () => {
	it('folds starts, decisions, accepted commands and tallies; refused commands change nothing; the tally wins', () => {
		const recs = chain([
			{ kind: 'boot', payload: { version: '1', pid: 1, mono: 0 } },
			{ kind: 'start', payload: { t: 0, feed: 'wbc/pgm', active: 'fiber', mode: 'auto', locked: false } },
			{ kind: 'decision', payload: { t: 1300, feed: 'wbc/pgm', from: 'fiber', to: 'sat', cause: 'failover' } },
			{ kind: 'command', payload: { t: 2000, feed: 'wbc/pgm', command: 'lock', result: 'accepted' } },
			{
				kind: 'command',
				payload: { t: 2100, feed: 'wbc/pgm', command: 'take', path: 'inet', result: 'refused', reason: 'locked' },
			},
			{ kind: 'command', payload: { t: 2200, feed: 'wbc/iso', command: 'manual', result: 'accepted' } },
			{ kind: 'decision', payload: { t: 2300, feed: 'wbc/iso', from: 'fiber2', to: 'sat2', cause: 'take' } },
			{ kind: 'tally', payload: { t: 2400, router: 'rtr-1', output: 1, input: 17, feed: 'wbc/pgm', path: 'inet' } },
			{ kind: 'something-new', payload: { feed: 'wbc/pgm' } },
		])
		expect(Object.fromEntries([...recoverFeeds(recs)].map(([k, v]) => [k, { ...v, seq: undefined }]))).toEqual({
			'wbc/pgm': { active: 'inet', mode: 'auto', locked: true, seq: undefined },
			'wbc/iso': { active: 'sat2', mode: 'manual', locked: false, seq: undefined },
		})
	})

	it('a crosspoint change seen on the router (external) is on air and leaves the feed manual; off-path is null', () => {
		const recs = chain([
			{ kind: 'boot', payload: { version: '1', pid: 1, mono: 0 } },
			{ kind: 'start', payload: { t: 0, feed: 'wbc/pgm', active: 'fiber', mode: 'auto', locked: true } },
			{ kind: 'observation', payload: { t: 500, feed: 'wbc/pgm', external: 'sat', input: 9 } },
			{ kind: 'start', payload: { t: 0, feed: 'wbc/iso', active: 'fiber2', mode: 'auto', locked: false } },
			{ kind: 'observation', payload: { t: 600, feed: 'wbc/iso', external: null } },
		])
		expect(Object.fromEntries([...recoverFeeds(recs)].map(([k, v]) => [k, { ...v, seq: undefined }]))).toEqual({
			'wbc/pgm': { active: 'sat', mode: 'manual', locked: true, seq: undefined },
			'wbc/iso': { active: null, mode: 'manual', locked: false, seq: undefined },
		})
	})

	it('a restart restores mode and lock: replaying the recovered start keeps the manual take', () => {
		const e = new Engine(boc)
		const outs = [
			...e.apply({ type: 'signal', t: 0, feed: 'wbc/pgm', path: 'fiber', signal: 'up' }),
			...e.apply({ type: 'signal', t: 0, feed: 'wbc/pgm', path: 'sat', signal: 'up' }),
			...e.apply({ type: 'command', t: 100, feed: 'wbc/pgm', command: 'take', path: 'sat', operator: 'op' }),
		]
		const recs = chain(outs.flatMap(entriesForOutput))
		const s = recoverFeeds(recs).get('wbc/pgm')!
		expect(s).toMatchObject({ active: 'sat', mode: 'manual' })
	})
})

/** A daemon's run: boot, a start per feed, then the observations with the engine's outputs. */
async function daemonRun(j: Journal, obs: Observation[]): Promise<void> {
	const e = new Engine(boc, { pending: [...boc.feeds.keys()] })
	const acks: Promise<unknown>[] = [j.append('boot', { version: 'test', pid: 1, mono: 0 })]
	const write = (entries: ReturnType<typeof entriesFor>) => {
		for (const en of entries) acks.push(j.append(en.kind, en.payload))
	}
	for (const key of boc.feeds.keys()) {
		const o: Observation = {
			type: 'start',
			t: 0,
			feed: key,
			active: boc.feeds.get(key)!.ranked[0]!.id,
			mode: 'auto',
			locked: false,
		}
		write(entriesFor(o, e.apply(o)))
	}
	for (const o of obs) {
		for (const out of e.advance(o.t)) write(entriesForOutput(out))
		write(entriesFor(o, e.apply(o), 'test'))
	}
	await Promise.all(acks)
}

const incident: Observation[] = [
	{ type: 'signal', t: 0, feed: 'wbc/pgm', path: 'fiber', signal: 'up' },
	{ type: 'signal', t: 0, feed: 'wbc/pgm', path: 'sat', signal: 'up' },
	{ type: 'signal', t: 0, feed: 'wbc/pgm', path: 'inet', signal: 'up' },
	{ type: 'device', t: 1045, device: 'fiber-rx', state: 'down', at: 1000 },
	{ type: 'device', t: 1100, device: 'ups-a', state: 'down' },
	{ type: 'device', t: 2000, device: 'fiber-rx', state: 'up' },
	{ type: 'command', t: 3000, feed: 'wbc/pgm', command: 'lock', operator: 'bco-1' },
	{ type: 'command', t: 3500, feed: 'wbc/pgm', command: 'take', path: 'inet', operator: 'bco-2' },
	{ type: 'command', t: 4000, feed: 'wbc/pgm', command: 'unlock', operator: 'bco-1' },
	{ type: 'signal', t: 20_000, feed: 'wbc/pgm', path: 'inet', signal: 'up' },
]

async function cli(...argv: string[]) {
	let out = ''
	let err = ''
	const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) })
	return { code, out, err }
}

describe('journaled kinds', () => {
	it('every record the daemon writes has a valid payload; a held switch on a locked feed is journaled as suppressed', async () => {
		const dir = join(root, 'kinds')
		const j = Journal.open({ dir })
		await daemonRun(j, [
			{ type: 'signal', t: 0, feed: 'wbc/pgm', path: 'fiber', signal: 'up' },
			{ type: 'signal', t: 0, feed: 'wbc/pgm', path: 'sat', signal: 'up' },
			{ type: 'command', t: 100, feed: 'wbc/pgm', command: 'lock', operator: 'bco-1' },
			{ type: 'signal', t: 1000, feed: 'wbc/pgm', path: 'fiber', signal: 'down' },
			{ type: 'command', t: 2000, feed: 'wbc/pgm', command: 'unlock', operator: 'bco-1' },
		])
		await j.close()
		const recs = readRecords(dir)
		for (const r of recs)
			expect(checkPayload(r.kind, r.payload), `${r.kind} ${JSON.stringify(r.payload)}`).toBeUndefined()
		expect(recs.filter((r) => r.kind === 'suppressed').map((r) => r.payload)).toMatchObject([
			{ t: 1300, feed: 'wbc/pgm', from: 'fiber', to: 'sat', cause: 'failover', because: 'locked' },
		])
		expect(recs.filter((r) => r.kind === 'decision').map((r) => r.payload)).toMatchObject([
			{ t: 2000, feed: 'wbc/pgm', from: 'fiber', to: 'sat', cause: 'failover' },
		])
		expect(recs.filter((r) => r.kind === 'command').map((r) => (r.payload as { result: string }).result)).toEqual([
			'accepted',
			'accepted',
		])
	})
})

describe('sigpath journal timeline', () => {
	const dir = join(root, 'incident')

	it('extracts the last run of a feed; replayed with --until, it reproduces the journaled decisions', async () => {
		const j = Journal.open({ dir })
		await daemonRun(j, incident.slice(0, 3)) // an earlier run
		await daemonRun(j, incident)
		await j.close()
		const r = await cli('journal', 'timeline', dir, '--feed', 'wbc/pgm', '--config', bocFile)
		expect(r.code).toBe(0)
		expect(r.err).toMatch(/run 2 of 2: .*replay with --until 20000/)
		const lines = r.out.trim().split('\n')
		expect(JSON.parse(lines[0]!)).toEqual({ t: 0, feed: 'wbc/pgm', active: 'fiber', mode: 'auto', locked: false })
		expect(lines).toContain('{"t":1045,"device":"fiber-rx","state":"down","at":1000}')
		expect(lines.some((l) => l.includes('ups-a'))).toBe(false) // --config: only the devices the feed depends on
		expect(lines).toContain('{"t":3500,"feed":"wbc/pgm","command":"take","path":"inet","operator":"bco-2"}')
		const outs = replay(boc, parseTimeline(r.out, boc), { until: 20_000 })
		const decisions = outs.filter((o) => o.kind === 'decision').map((o) => `${o.t} ${o.from}>${o.to} ${o.cause}`)
		const lastRun = runs(readRecords(dir))
			.at(-1)!
			.filter((x) => x.kind === 'decision' && (x.payload as { feed: string }).feed === 'wbc/pgm')
			.map((x) => x.payload as { t: number; from: string; to: string; cause: string })
			.map((p) => `${p.t} ${p.from}>${p.to} ${p.cause}`)
		expect(decisions).toEqual(['1300 fiber>sat failover', '12000 sat>fiber revert'])
		expect(lastRun).toEqual(decisions)
		// the refused take is reproduced too
		expect(outs.filter((o) => o.kind === 'refusal').map((o) => o.t)).toEqual([3500])
	})

	it('--run picks an earlier run; --from starts from the state the journal held then; --to stops', async () => {
		const first = extractTimeline(readRecords(dir), { feed: 'wbc/pgm', run: 1 })
		expect(first.timeline.map((r) => r.t)).toEqual([0, 0, 0, 0])
		const mid = extractTimeline(readRecords(dir), { feed: 'wbc/pgm', from: 3200, to: 4000 })
		expect(mid.timeline[0]).toEqual({ t: 3200, feed: 'wbc/pgm', active: 'sat', mode: 'auto', locked: true })
		expect(mid.timeline.map((r) => r.t)).toEqual([3200, 3200, 3200, 3200, 3200, 3200, 3500, 4000])
		expect(mid.notes[0]).toMatch(/loss and clear counts restart at 3200/)
		const r = await cli('journal', 'timeline', dir, '--feed', 'wbc/pgm', '--run', '3')
		expect(r.code).toBe(2)
		expect(r.err).toMatch(/run 3 does not exist/)
	})

	it('bad arguments exit 2', async () => {
		expect((await cli('journal', 'timeline', dir)).code).toBe(2)
		expect((await cli('journal', 'timeline', dir, '--feed', 'nofeed')).code).toBe(2)
		expect((await cli('journal', 'timeline', dir, '--feed', 'wbc/pgm', '--from', 'x')).code).toBe(2)
		expect((await cli('journal', 'timeline', join(root, 'none'), '--feed', 'wbc/pgm')).code).toBe(2)
	})
})
