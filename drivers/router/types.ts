// The router interface the runtime (#7), `sigpath take` and `sigpath probe` use, whatever the protocol.
// Every port number on this interface is 1-based, as labelled on the router (docs/contract.md §2); the wire is 0-based and
// the one place that converts is ports.ts. Confirmed state (what the router's own tally said) and commanded state
// (what we asked for) are kept apart: nothing here is ever written from a request, only from the router's reports.
import type { EventEmitter } from 'node:events'
import type { Freshness, Health } from '../types.ts'

/** Lock of an output as the router reports it: ours (this session), theirs (another controller), or unlocked. */
export type LockState = 'unlocked' | 'ours' | 'theirs'

/** The link's explicit state (docs/architecture.md, habit 2). `stopped` means stopped by us. */
export type LinkState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'stopped'

export interface RouterSize {
	inputs: number
	outputs: number
}

export interface Crosspoint {
	/** 1-based output (destination) */
	output: number
	/** 1-based input (source) */
	input: number
}

/** What the router reported about an input's signal, where the protocol reports it (Videohub VIDEO INPUT STATUS). */
export type InputStatus = string

export interface TakeOptions {
	/** how long to wait for the router's own tally, ms (default: the driver's takeTimeoutMs) */
	timeoutMs?: number
}

export interface TakeResult extends Crosspoint {
	/** monotonicMs() when the request went out (or when the confirmed tally was found already in place) */
	sentAt: number
	/** monotonicMs() when the router's tally confirmed it */
	confirmedAt: number
	/** true when the router already showed this crosspoint: nothing was sent */
	already: boolean
}

export type SalvoOutcome = { ok: true; result: TakeResult } | { ok: false; take: Crosspoint; error: RouterError }

export type RouterErrorCode =
	| 'not-synced' // no confirmed tally yet since the last (re)connect: nothing is sent
	| 'out-of-range' // port outside the router's size: nothing is sent
	| 'locked' // the output is locked by another controller
	| 'nak' // the router refused the request (Videohub NAK; SW-P-08 NAK after every resend)
	| 'refused' // the router answered with another crosspoint than the one asked for
	| 'timeout' // no confirming tally in time
	| 'disconnected' // the link dropped before the tally confirmed
	| 'superseded' // a newer take for the same output replaced this one
	| 'stopped' // the router object was stopped
	| 'unsupported' // the protocol cannot do it (e.g. locks over SW-P-08)

/** Every rejection of a router request is one of these: the code is stable, the message says what happened. */
export class RouterError extends Error {
	override name = 'RouterError'
	constructor(
		readonly code: RouterErrorCode,
		message: string,
		options?: { cause?: unknown },
	) {
		super(message, options)
	}
}

export interface RouterEvents {
	/**
	 * A crosspoint change reported by the router (any controller's, ours included). `previous` is the confirmed
	 * input before, or null when unknown; `ours` is true when it confirms a take of ours.
	 */
	crosspoint: [{ output: number; input: number; previous: number | null; ours: boolean; at: number }]
	lock: [{ output: number; lock: LockState; previous: LockState | null; at: number }]
	'input-status': [{ input: number; status: InputStatus; at: number }]
	label: [{ kind: 'input' | 'output'; port: number; label: string; at: number }]
	/** the link's state changed */
	connection: [{ state: LinkState; connected: boolean; at: number; reason?: string }]
	/** the full tally (and locks, where the protocol has them) has been read since the last (re)connect */
	synced: [{ at: number; outputs: number }]
	/** freshness changed (stale set or cleared) */
	freshness: [Freshness & { at: number }]
}

/** What `sigpath probe` and the daemon's device state show. Ports are 1-based, keys are strings (JSON). */
export interface RouterStatus {
	driver: string
	connected: boolean
	synced: boolean
	health: Health
	freshness: Freshness
	size: RouterSize | null
	routing: Record<string, number>
	commanded: Record<string, number>
	locks: Record<string, LockState>
	locksReported: boolean
	inputStatus: Record<string, InputStatus>
	inputLabels: Record<string, string>
	outputLabels: Record<string, string>
	model?: string
	protocolVersion?: string
	/** what is wrong with the router itself, as its server reported it */
	problem?: string
}

export interface Router extends EventEmitter<RouterEvents> {
	readonly deviceId: string
	readonly driver: 'videohub' | 'swp08'
	/** Opens the link (reconnecting until stop()). Sends only reads and keep-alives of its own accord. */
	start(): void
	/** Closes the link; rejects pending requests with `stopped`; leaves no socket or timer behind. */
	stop(): Promise<void>
	/** Resolves at the next `synced` (at once if synced now); rejects after timeoutMs or on stop. */
	whenSynced(timeoutMs: number): Promise<void>
	/** Routes input to output; resolves only once the router's own tally confirms it. */
	take(output: number, input: number, options?: TakeOptions): Promise<TakeResult>
	/** Many takes at once (one block or a burst of frames); each settles on its own tally. */
	salvo(takes: readonly Crosspoint[], options?: TakeOptions): Promise<SalvoOutcome[]>
	/** Locks an output for this session (Videohub); resolves when the router reports it ours. */
	lock(output: number, options?: TakeOptions): Promise<void>
	/** Unlocks an output of ours (never another controller's: no force). Only ever called explicitly. */
	unlock(output: number, options?: TakeOptions): Promise<void>
	/** confirmed routing, 1-based output -> 1-based input */
	routing(): ReadonlyMap<number, number>
	/** the last input we asked for, per output, whether or not it was confirmed */
	commanded(): ReadonlyMap<number, number>
	locks(): ReadonlyMap<number, LockState>
	inputStatus(): ReadonlyMap<number, InputStatus>
	size(): RouterSize | null
	freshness(): Freshness
	isSynced(): boolean
	status(): RouterStatus
}
