// Recovery and extraction: pure functions over journal records (in chain order).
//
// recoverFeeds rebuilds each feed's state (active path, mode, lock) as the journal last knew it; the daemon compares
// it with the router's tally at start (the router wins for the crosspoint; mode and lock come from here).
//
// extractTimeline turns one daemon run into a replay timeline for a feed: its start record, the path and device
// reports and its commands, with their engine t and `at` unchanged, so that `sigpath replay` against the same config
// reproduces the decisions the daemon journaled.
import type { TimelineRecord } from '../engine/timeline.ts'
import type { Mode } from '../engine/types.ts'
import { checkPayload, type Payload } from './kinds.ts'
import type { JournalRecord } from './record.ts'

export interface FeedState {
	active: string | null
	mode: Mode
	locked: boolean
	/** seq of the last record that changed it */
	seq: number
}

function payloadOf<K extends 'start' | 'decision' | 'command' | 'tally' | 'observation'>(
	r: Pick<JournalRecord, 'kind' | 'payload'>,
	kind: K,
): Payload<K> | undefined {
	if (r.kind !== kind || checkPayload(kind, r.payload) !== undefined) return undefined
	return r.payload as Payload<K>
}

/** The kinds that move a feed's state: every other record is passed over without reading its payload. */
const FOLDED: ReadonlySet<string> = new Set(['start', 'decision', 'command', 'observation', 'tally'])

/**
 * Folds one record into per-feed state (`feeds` is changed in place). Unknown kinds and malformed payloads are
 * skipped. The checkpoint (checkpoint.ts) keeps the result, so a start folds only the records after it.
 */
export function foldFeed(feeds: Map<string, FeedState>, r: Pick<JournalRecord, 'seq' | 'kind' | 'payload'>): void {
	if (!FOLDED.has(r.kind)) return
	// most records are path and device reports: only an `external` or a `follow` observation moves a feed
	if (
		r.kind === 'observation' &&
		!(typeof r.payload === 'object' && r.payload !== null && ('external' in r.payload || 'follow' in r.payload))
	)
		return
	const get = (feed: string, seq: number): FeedState => {
		let s = feeds.get(feed)
		if (!s) feeds.set(feed, (s = { active: null, mode: 'auto', locked: false, seq }))
		s.seq = seq
		return s
	}
	const start = payloadOf(r, 'start')
	if (start) {
		Object.assign(get(start.feed, r.seq), { active: start.active, mode: start.mode, locked: start.locked })
		return
	}
	const d = payloadOf(r, 'decision')
	if (d) {
		const s = get(d.feed, r.seq)
		s.active = d.to
		if (d.cause === 'take') s.mode = 'manual'
		return
	}
	const c = payloadOf(r, 'command')
	if (c) {
		if (c.result !== 'accepted') return
		const s = get(c.feed, r.seq)
		if (c.command === 'take' || c.command === 'manual') s.mode = 'manual'
		else if (c.command === 'auto') s.mode = 'auto'
		else s.locked = c.command === 'lock'
		return
	}
	const o = payloadOf(r, 'observation')
	if (o && 'external' in o) {
		// §4a: the router shows what sigpath did not command: that is on air, and the feed is manual
		Object.assign(get(o.feed, r.seq), { active: o.external, mode: 'manual' })
		return
	}
	if (o && 'follow' in o) {
		// §9: the active node's state, as a standby followed it or a new active took it over
		const s = get(o.feed, r.seq)
		s.active = o.follow
		if (o.mode !== undefined) s.mode = o.mode
		if (o.locked !== undefined) s.locked = o.locked
		return
	}
	const tally = payloadOf(r, 'tally')
	// the router's own tally is the truth about the crosspoint
	if (tally?.feed !== undefined && tally.path !== undefined) get(tally.feed, r.seq).active = tally.path
}

/** Folds records into per-feed state. Unknown kinds and malformed payloads are skipped. */
export function recoverFeeds(records: Iterable<JournalRecord>): Map<string, FeedState> {
	const feeds = new Map<string, FeedState>()
	for (const r of records) foldFeed(feeds, r)
	return feeds
}

/** Splits records into daemon runs (each begins at a `boot` record; records before the first boot form a run). */
export function runs(records: readonly JournalRecord[]): JournalRecord[][] {
	const out: JournalRecord[][] = []
	let cur: JournalRecord[] = []
	for (const r of records) {
		if (r.kind === 'boot' && cur.length > 0) {
			out.push(cur)
			cur = []
		}
		cur.push(r)
	}
	if (cur.length > 0) out.push(cur)
	return out
}

export interface ExtractOptions {
	feed: string
	from?: number
	to?: number
	/** which run, 1-based (default: the last) */
	run?: number
	/** devices the feed depends on; absent: every device report is kept */
	devices?: ReadonlySet<string>
}

export interface Extracted {
	timeline: TimelineRecord[]
	/** the last engine t of the timeline and of the run's records about the feed (decisions included): replay --until this */
	lastT: number
	runs: number
	notes: string[]
}

const feedOfPath = (path: string): string => path.slice(0, path.lastIndexOf('/'))

export function extractTimeline(records: readonly JournalRecord[], options: ExtractOptions): Extracted {
	const all = runs(records)
	const n = options.run ?? all.length
	const run = all[n - 1]
	if (!run) throw new RangeError(`run ${n} does not exist (the journal holds ${all.length})`)
	const from = options.from ?? 0
	const to = options.to ?? Infinity
	const timeline: TimelineRecord[] = []
	const notes: string[] = []
	let lastT = 0
	// before `from`: the state to start from and the last report of every source
	const before: JournalRecord[] = []
	const lastReport = new Map<string, TimelineRecord>()
	const keepDevice = (d: string) => options.devices === undefined || options.devices.has(d)
	let started = false
	let recoveredStart = false
	const pick = (r: JournalRecord): TimelineRecord | undefined => {
		const start = payloadOf(r, 'start')
		if (start?.feed === options.feed)
			return { t: start.t, feed: start.feed, active: start.active, mode: start.mode, locked: start.locked }
		const o = payloadOf(r, 'observation')
		if (o && ('external' in o || 'follow' in o)) return o.feed === options.feed ? o : undefined
		if (o && 'router' in o) return keepDevice(o.router) ? o : undefined
		if (o && ('path' in o ? feedOfPath(o.path) === options.feed : keepDevice('ups' in o ? o.ups : o.device))) return o
		const c = payloadOf(r, 'command')
		if (c?.feed === options.feed) {
			const { via: _via, panel: _panel, result: _result, reason: _reason, ...rec } = c
			return rec
		}
		return undefined
	}
	for (const r of run) {
		const p = r.payload as { t?: unknown; feed?: unknown }
		const t = typeof p.t === 'number' ? p.t : undefined
		if (t !== undefined && p.feed === options.feed && t <= to) lastT = Math.max(lastT, t)
		// every record before `from` (decisions and tallies too) makes the state to start from
		if (t !== undefined && t < from) before.push(r)
		const rec = pick(r)
		if (!rec) continue
		if (rec.t < from) {
			if ('signal' in rec) lastReport.set(`p:${rec.path}`, rec)
			else if ('router' in rec && 'input' in rec) lastReport.set(`i:${rec.router}:${rec.input}`, rec)
			else if ('state' in rec) lastReport.set(`d:${rec.device}`, rec)
			continue
		}
		if (rec.t > to) break
		if (!started) {
			started = true
			const s = from > 0 ? recoverFeeds(before).get(options.feed) : undefined
			if (s?.active != null) {
				timeline.push({
					t: from,
					feed: options.feed,
					active: s.active,
					mode: s.mode,
					locked: s.locked,
				})
				for (const rep of lastReport.values()) timeline.push({ ...rep, t: from })
				recoveredStart = true
				notes.push(
					`starts at t=${from} from the state the journal held then; loss and clear counts restart at ${from}, so decisions near it may differ from the run's`,
				)
			}
		}
		// the run's own start record is before `from` when the state was recovered
		if ('active' in rec && recoveredStart) continue
		timeline.push(rec)
		lastT = Math.max(lastT, rec.t)
	}
	return { timeline, lastT, runs: all.length, notes }
}
