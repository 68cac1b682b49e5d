// What goes into the failover engine and what comes out (docs/contract.md §4). Plain data: the daemon journals these, replay
// reads and prints them, MQTT/HTTP publish the snapshot.
import type { FeedKey } from '../domain/model.ts'
import type { UpsPower } from '../domain/power.ts'

/** A report about a path or a device: `unknown` withdraws that source's last report. */
export type Report = 'up' | 'degraded' | 'down' | 'unknown'
/** A path's signal: the worst report that counts, or null when none counts. */
export type Signal = 'up' | 'degraded' | 'down'
export type Mode = 'auto' | 'manual'
export type Action = 'take' | 'auto' | 'manual' | 'lock' | 'unlock'

/**
 * `at` (our extension of §4): the instant the condition actually began (integer ms, <= t), e.g. an SRT receiver
 * that notices at 1045 that the last packet arrived at 1000 reports down at t=1045 with at=1000. The engine counts
 * lossMs and clearMs from `at`. It is clamped to no earlier than the same source's previous report, the path's last
 * signal change and the feed's start.
 */
export type Observation =
	| { type: 'start'; t: number; feed: FeedKey; active: string | null; mode?: Mode; locked?: boolean }
	| { type: 'signal'; t: number; feed: FeedKey; path: string; signal: Report; at?: number }
	| { type: 'device'; t: number; device: string; state: Report; at?: number }
	| { type: 'command'; t: number; feed: FeedKey; command: Action; path?: string; force?: boolean; operator?: string }
	| ExternalObservation
	| FollowObservation
	| InputObservation
	| UpsObservation

/**
 * The router's own report about one of its inputs (§4a "router input"), where the protocol has one (a Videohub's
 * VIDEO INPUT STATUS): it counts for every path landing on that input, beside the path's own and its devices' reports.
 */
export interface InputObservation {
	type: 'input'
	t: number
	router: string
	input: number
	state: Report
	at?: number
}

/**
 * A crosspoint change on the feed's output that sigpath did not command (docs/contract.md §4a): another controller, a
 * hardware panel. `path` is the path on that input, or null when the input is none of the feed's paths (off-path).
 */
export interface ExternalObservation {
	type: 'external'
	t: number
	feed: FeedKey
	path: string | null
	/** the router input now on the output */
	input?: number
}

/**
 * A pair's standby follows the active node (docs/contract.md §9): the path on air (what the router shows, put there by
 * the active), and the feed's mode and lock as the active keeps them (absent: unchanged). A new active applies one at
 * its takeover. Unlike `start`, the paths' signal history stands, so a failover already due is made at once; unlike
 * `external`, it is no news to the operator (no alarm, no change of mode). As at a start, a path ranked above the
 * active one is no revert target until it has been up for clearMs after it: following moves no crosspoint.
 */
export interface FollowObservation {
	type: 'follow'
	t: number
	feed: FeedKey
	active: string | null
	mode?: Mode
	locked?: boolean
}

/**
 * A UPS's reading (our extension of §4): the failover engine passes it by (power does not switch paths); replay gives
 * it to the power monitor (src/rule/power.ts), which raises the power alarms, so a journaled run reproduces them.
 */
export interface UpsObservation {
	type: 'ups'
	t: number
	ups: string
	power: UpsPower | null
	commLost?: boolean
	minutesRemaining?: number | null
}

/** Why something happened: the inputs of this step that touched the feed, then the facts the rule read. */
export interface Explain {
	rule: string
	/** the observations and timers of this step that touched the feed, in the order they applied */
	triggers: string[]
	/** the facts the decision read, one sentence each */
	because: string[]
}

export type Cause = 'failover' | 'revert' | 'take'
export type AlarmCode = 'no-path' | 'no-signal' | 'at-risk' | 'external-take' | 'off-path' | 'on-air-failed'
export const ALARM_CODES: readonly AlarmCode[] = [
	'no-path',
	'no-signal',
	'at-risk',
	'external-take',
	'off-path',
	'on-air-failed',
]
export type RefusalCode = 'locked' | 'ineligible' | 'unknown-path' | 'not-started'

export interface Decision {
	kind: 'decision'
	t: number
	feed: FeedKey
	/** null: the feed was off-path (a take that brings it back) */
	from: string | null
	to: string
	cause: Cause
	operator?: string
	explain: Explain
}

export interface Alarm {
	kind: 'alarm'
	t: number
	feed: FeedKey
	alarm: AlarmCode
	/** true when raised, false when cleared */
	active: boolean
	/** the active path the alarm is about (null: the feed is off-path) */
	path: string | null
	message: string
	explain: Explain
}

export interface Refusal {
	kind: 'refusal'
	t: number
	feed: FeedKey
	command: Action
	path?: string
	operator?: string
	refused: RefusalCode
	message: string
}

/** A command that was accepted (a take that switches also gives a Decision). */
export interface Accepted {
	kind: 'accepted'
	t: number
	feed: FeedKey
	command: Action
	path?: string
	operator?: string
	mode: Mode
	locked: boolean
}

/** Rule 4: what the engine would have done on a manual or locked feed (reported once per distinct target). */
export interface Suppressed {
	kind: 'suppressed'
	t: number
	feed: FeedKey
	from: string
	to: string
	cause: Cause
	because: 'manual' | 'locked'
	explain: Explain
}

export type Output = Decision | Alarm | Refusal | Accepted | Suppressed

/** The published class of a path (docs/contract.md §5): §4's classes, or `failed` while it is in a failed outage. */
export type PathState = 'healthy' | 'recovering' | 'degraded' | 'ineligible' | 'failed'

export interface PathSnapshot {
	signal: Signal | null
	state: PathState
	rank: number
	lastFailure: number | null
}

export interface FeedSnapshot {
	feed: FeedKey
	started: boolean
	active: string | null
	mode: Mode
	locked: boolean
	paths: Record<string, PathSnapshot>
	alarms: AlarmCode[]
	/** rule 4: the switch the engine would make if the feed were in auto and unlocked */
	wouldSwitch: { to: string; cause: Cause } | null
	compliance: { healthyDiscretePaths: number; required: number } | null
}

export class EngineError extends Error {
	override name = 'EngineError'
}
