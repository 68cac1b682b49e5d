// The per-feed and per-path state of the engine, and the pure judgements made on it (classes of §4, the worst
// signal). The Engine (engine.ts) owns the transitions; this file holds what they act on.
import type { FeedRef, FeedKey } from '../domain/model.ts'
import type { AlarmCode, Cause, Mode, Observation, PathState, Report, Signal } from './types.ts'

export type TimerKind = 'loss' | 'clear' | 'revert' | 'null' | 'grace'

/** What started a step for a feed: an observation, or a timer that fired. Formatted only when explained. */
export type Trigger = { obs: Observation } | { timer: TimerKind; path?: string; due: number }

export interface PathRt {
	readonly feed: FeedRt
	readonly id: string
	/** 0 = the primary */
	readonly rank: number
	/** slot 0: reports about the path itself; then one slot per device it depends on (its via, its input router) */
	readonly slots: (Signal | null)[]
	/** t of the previous report about the path itself (the clamp of `at`) */
	lastPathReport: number
	signal: Signal | null
	/** the instant of the last change of `signal` (changes never go back in time) */
	lastChange: number
	/** start of the current down-or-degraded stretch */
	badSince: number | null
	/** start of the current up stretch */
	upSince: number | null
	/** start of the current stretch with no signal */
	nullSince: number | null
	failedEver: boolean
	/** up for clearMs since the last failure; stays true until the next failure */
	cleared: boolean
	/** failed, and its signal has not been up since */
	failedOutage: boolean
	lastFailure: number | null
	/** no signal for lossMs (the active path raises no-signal) */
	nullLong: boolean
	/** ranked above the start path: no revert target until up for clearMs after the start */
	revertBlocked: boolean
	/** the observation that last changed `signal` (explanations cite it) */
	cause: Observation | null
	gen: Record<Exclude<TimerKind, 'grace'>, number>
}

export interface FeedRt {
	readonly key: FeedKey
	readonly index: number
	readonly ref: FeedRef
	readonly paths: PathRt[]
	readonly byId: Map<string, PathRt>
	readonly lossMs: number
	readonly clearMs: number
	readonly preference: 'primary' | 'equal'
	readonly configMode: Mode
	/** critical feeds: the pairs that are not discrete, and the number of discrete paths the tier requires */
	readonly risk: { conflicts: ReadonlySet<string>; required: number; memo: Map<number, number> } | null
	started: boolean
	/** an observation of this feed has applied since its start: a start record is no longer allowed */
	touched: boolean
	startT: number
	/** the path on air; null when the router shows an input that is none of the feed's paths (off-path) */
	active: PathRt | null
	mode: Mode
	locked: boolean
	/** raised alarms: the active path when each was raised (a clear names the same path), or null */
	alarms: Record<AlarmCode, string | null>
	/** the at-risk judgement starts lossMs after the start, so that a start with no report yet is not an alarm */
	graceOver: boolean
	graceGen: number
	dirty: boolean
	triggers: Trigger[]
	would: { to: PathRt; cause: Cause } | null
}

export type Class = 'healthy' | 'recovering' | 'degraded' | 'ineligible'

export function classOf(p: PathRt): Class {
	switch (p.signal) {
		case null:
		case 'down':
			return 'ineligible'
		case 'degraded':
			return 'degraded'
		case 'up':
			return !p.failedEver || p.cleared ? 'healthy' : 'recovering'
	}
}

export function publishedState(p: PathRt): PathState {
	return p.failedOutage ? 'failed' : classOf(p)
}

const order: Record<Signal, number> = { down: 0, degraded: 1, up: 2 }

/** The worst of the reports that count (down < degraded < up), or null when none counts. */
export function worst(slots: readonly (Signal | null)[]): Signal | null {
	let w: Signal | null = null
	for (const s of slots) if (s !== null && (w === null || order[s] < order[w])) w = s
	return w
}

export function toSlot(r: Report): Signal | null {
	return r === 'unknown' ? null : r
}

export const isBad = (s: Signal | null): boolean => s === 'down' || s === 'degraded'

/** For at-risk and the published compliance: a path counts while it has not failed (or has cleared) and reports. */
export function countsAsHealthy(p: PathRt): boolean {
	return p.signal !== null && (!p.failedEver || p.cleared)
}
