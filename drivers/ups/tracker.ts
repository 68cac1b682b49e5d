// The reading bookkeeping every UPS driver keeps (snmp-ups, NUT, Megatec): the last reading, comm-lost and the first
// sync, with their events (types.ts UpsEvents). Freshness itself is the shared tracker (common/freshness.ts): this
// forwards its changes as `freshness` and its lost contact as comm-lost, on which the power model applies upsmon's
// rule to the last state. One place, so the UPS drivers cannot drift.
import type { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { FreshnessTracker } from '../common/freshness.ts'
import type { UpsEvents, UpsReading, UpsStatus } from './types.ts'

export class UpsTracker {
	#reading: UpsReading | null = null
	#commLost = false
	#synced = false

	constructor(
		private readonly emitter: EventEmitter<UpsEvents>,
		private readonly log: Logger,
		readonly freshness: FreshnessTracker,
	) {
		freshness.on('change', (f) => emitter.emit('freshness', f))
		freshness.on('lost', (lost) => this.#setCommLost(lost))
	}

	get status(): UpsStatus {
		return { reading: this.#reading, commLost: this.#commLost, freshness: this.freshness.value }
	}

	get reading(): UpsReading | null {
		return this.#reading
	}

	get synced(): boolean {
		return this.#synced
	}

	/** A good reading from a poll: fresh again, then the reading. */
	onReading(reading: UpsReading): void {
		this.freshness.ok()
		this.setReading(reading)
	}

	/** A new reading (its freshness already counted): power if it changed, reading, and the first sync. */
	setReading(reading: UpsReading): void {
		const prev = this.#reading?.power ?? null
		this.#reading = reading
		if (prev !== reading.power) this.emitter.emit('power', this.status, prev)
		this.emitter.emit('reading', this.status)
		if (!this.#synced) {
			this.#synced = true
			this.emitter.emit('synced')
		}
	}

	/** What the device said outside a poll (an SNMP trap): replaces the reading, and says so if the power changed. */
	overrideReading(reading: UpsReading): void {
		const prev = this.#reading?.power ?? null
		this.#reading = reading
		if (prev !== reading.power) this.emitter.emit('power', this.status, prev)
	}

	#setCommLost(lost: boolean): void {
		if (this.#commLost === lost) return
		this.#commLost = lost
		this.log.warn({ commLost: lost, last: this.#reading?.power ?? null }, lost ? 'ups comm lost' : 'ups comm regained')
		this.emitter.emit('power', this.status, this.#reading?.power ?? null)
	}
}
