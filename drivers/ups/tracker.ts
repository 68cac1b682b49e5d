// The freshness and comm-lost bookkeeping every polled UPS driver keeps (NUT, Megatec): a good reading makes the
// device fresh and re-arms two timers; no good reading for staleAfterMs makes it stale, for commLostAfterMs
// comm-lost (the power model then applies upsmon's rule to the last state). One place, so the drivers cannot drift.
import type { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { monotonicMs } from '../../src/clock.ts'
import type { Freshness } from '../types.ts'
import type { UpsEvents, UpsReading, UpsStatus } from './types.ts'

export class UpsTracker {
	#reading: UpsReading | null = null
	#commLost = false
	#synced = false
	#fresh: Freshness = { connected: false, stale: false, lastOkAt: null }
	#staleTimer: NodeJS.Timeout | null = null
	#deadTimer: NodeJS.Timeout | null = null

	constructor(
		private readonly emitter: EventEmitter<UpsEvents>,
		private readonly log: Logger,
		private readonly staleAfterMs: number,
		private readonly commLostAfterMs: number,
	) {}

	get status(): UpsStatus {
		return { reading: this.#reading, commLost: this.#commLost, freshness: { ...this.#fresh } }
	}

	get synced(): boolean {
		return this.#synced
	}

	/** (Re)starts the stale and comm-lost timers: at start, and after every good reading. */
	arm(): void {
		this.clear()
		this.#staleTimer = setTimeout(() => {
			this.#staleTimer = null
			this.#fresh = { ...this.#fresh, connected: false, stale: true }
			this.emitter.emit('freshness', { ...this.#fresh })
		}, this.staleAfterMs)
		this.#deadTimer = setTimeout(() => {
			this.#deadTimer = null
			this.setCommLost(true)
		}, this.commLostAfterMs)
	}

	clear(): void {
		if (this.#staleTimer) clearTimeout(this.#staleTimer)
		if (this.#deadTimer) clearTimeout(this.#deadTimer)
		this.#staleTimer = this.#deadTimer = null
	}

	/** A poll that brought no good data: not connected (stale and comm-lost follow from the timers). */
	noData(): void {
		if (!this.#fresh.connected) return
		this.#fresh = { ...this.#fresh, connected: false }
		this.emitter.emit('freshness', { ...this.#fresh })
	}

	setCommLost(lost: boolean): void {
		if (this.#commLost === lost) return
		this.#commLost = lost
		this.log.warn({ commLost: lost, last: this.#reading?.power ?? null }, lost ? 'ups comm lost' : 'ups comm regained')
		this.emitter.emit('power', this.status, this.#reading?.power ?? null)
	}

	onReading(reading: UpsReading): void {
		const wasFresh = this.#fresh.connected && !this.#fresh.stale
		this.#fresh = { connected: true, stale: false, lastOkAt: monotonicMs() }
		this.arm()
		if (!wasFresh) this.emitter.emit('freshness', { ...this.#fresh })
		this.setCommLost(false)
		const prev = this.#reading?.power ?? null
		this.#reading = reading
		if (prev !== reading.power) this.emitter.emit('power', this.status, prev)
		this.emitter.emit('reading', this.status)
		if (!this.#synced) {
			this.#synced = true
			this.emitter.emit('synced')
		}
	}
}
