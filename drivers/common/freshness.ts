// The one freshness tracker of every polled or session device (routers, SNMP signal devices and UPSes, NUT,
// Megatec): connected, stale (no good answer for longer than staleMs), lastOkAt (monotonic ms), and optionally
// lost contact ("comm-lost": no good answer for lostMs; NUT's upsmon DEADTIME, upsmon.conf). One place, so the
// drivers cannot drift apart on what "stale" means.
//
// Events: `change` when connected or stale flips (lastOkAt advances on every good answer and is read from `value`:
// evented, it would fire on every poll); `stale` on each stale transition, with the device id and how long since
// the last good answer (what a `device-stale` alarm needs); `lost` when comm-lost flips.
//
// Two kinds of device use it:
// - polled devices (SNMP over UDP, UPS polls): the last answer is the only sign of a connection, so going stale
//   also makes them disconnected (`staleDisconnects`), and the clock runs from arm() at start, before any answer.
// - session devices (a router link): connected is the link's state (linkUp(), disconnected()), and stale is the
//   router's silence: no good frame for staleMs, whether the link is up and quiet or down. The clock keeps running
//   while the link is down, so a router that drops its link is stale staleMs after its last answer (a device-stale
//   alarm, docs/contract.md §7), and a link that comes back is not an answer: the router's first frame is.
import { EventEmitter } from 'node:events'
import { systemClock, type Clock } from '../../src/clock.ts'
import type { Freshness } from '../types.ts'
import { Timers } from './timers.ts'

export interface StaleTransition {
	device: string
	stale: boolean
	/** ms the device had been silent at this transition: from its last good answer before it (or from arm()) */
	sinceOkMs: number
	lastOkAt: number | null
	/** monotonic ms of the transition */
	at: number
}

export interface FreshnessEvents {
	change: [freshness: Freshness]
	stale: [transition: StaleTransition]
	lost: [lost: boolean]
}

export interface FreshnessOptions {
	device: string
	staleMs: number
	/** no good answer for this long is lost contact; absent, never */
	lostMs?: number
	/** going stale also makes the device disconnected (polled devices) */
	staleDisconnects: boolean
	/** the driver's timer set, so its stop() and timer counts cover this tracker's timers; default its own */
	timers?: Timers
	clock?: Pick<Clock, 'monotonicMs'>
}

const STALE = 'freshness:stale'
const LOST = 'freshness:lost'

export class FreshnessTracker extends EventEmitter<FreshnessEvents> {
	#fresh: Freshness = { connected: false, stale: false, lastOkAt: null }
	#lost = false
	/** when counting started (arm), for sinceOkMs before any good answer */
	#armedAt: number
	readonly #timers: Timers
	readonly #clock: Pick<Clock, 'monotonicMs'>

	constructor(private readonly o: FreshnessOptions) {
		super()
		this.#timers = o.timers ?? new Timers()
		this.#clock = o.clock ?? systemClock
		this.#armedAt = this.#clock.monotonicMs()
	}

	get value(): Freshness {
		return { ...this.#fresh }
	}

	get lost(): boolean {
		return this.#lost
	}

	/** (Re)starts counting from now: at start, before the first answer. */
	arm(): void {
		this.#armedAt = this.#clock.monotonicMs()
		this.#armTimers()
	}

	/** A good answer: connected, not stale, not lost; counting starts again. */
	ok(): void {
		const was = this.#fresh
		const at = this.#clock.monotonicMs()
		const silentSince = was.lastOkAt ?? this.#armedAt
		this.#fresh = { connected: true, stale: false, lastOkAt: at }
		this.#armTimers()
		if (!was.connected || was.stale) this.emit('change', this.value)
		if (was.stale) this.#emitStale(at, silentSince)
		this.#setLost(false)
	}

	/**
	 * A session's link is up, nothing heard yet: connected, stale unchanged (only an answer ends it). The clock keeps
	 * running from the last answer; on the first link, or after pause(), it starts now.
	 */
	linkUp(): void {
		if (!this.#timers.has(STALE) && !this.#fresh.stale) this.arm()
		if (this.#fresh.connected) return
		this.#fresh = { ...this.#fresh, connected: true }
		this.emit('change', this.value)
	}

	/** The connection is gone, or a poll brought no good data (stale and lost follow from the timers). */
	disconnected(): void {
		if (!this.#fresh.connected) return
		this.#fresh = { ...this.#fresh, connected: false }
		this.emit('change', this.value)
	}

	/** Stops counting, keeping the state (a router whose link is down); ok() or arm() counts again. */
	pause(): void {
		this.#timers.clear(STALE)
		this.#timers.clear(LOST)
	}

	/** Clears every timer of this tracker. */
	stop(): void {
		this.pause()
	}

	#armTimers(): void {
		this.#timers.set(STALE, this.o.staleMs, () => {
			this.#fresh = { ...this.#fresh, stale: true, ...(this.o.staleDisconnects ? { connected: false } : {}) }
			this.emit('change', this.value)
			this.#emitStale(this.#clock.monotonicMs(), this.#fresh.lastOkAt ?? this.#armedAt)
		})
		const lostMs = this.o.lostMs
		if (lostMs !== undefined) this.#timers.set(LOST, lostMs, () => this.#setLost(true))
	}

	/** `silentSince`: the last good answer before this transition, or arm() when there was none */
	#emitStale(at: number, silentSince: number): void {
		this.emit('stale', {
			device: this.o.device,
			stale: this.#fresh.stale,
			sinceOkMs: at - silentSince,
			lastOkAt: this.#fresh.lastOkAt,
			at,
		})
	}

	#setLost(lost: boolean): void {
		if (this.#lost === lost) return
		this.#lost = lost
		this.emit('lost', lost)
	}
}
