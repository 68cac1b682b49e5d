// What a UPS polled over its own ask-and-answer connection shares (NUT's upsd over TCP, Megatec over serial): the
// freshness and reading bookkeeping, the poll loop, the thresholds, and start/stop. The protocol (what a hello and
// a poll say) is the subclass's. snmp-ups is not one of these: its loop is the SNMP poller's.
//
// Stale and comm-lost as NUT's upsmon judges them (upsmon.conf: POLLFREQ, DEADTIME 15 s): no good reading for
// staleAfterMs is stale (default 3 polls, at least 5 s), for commLostAfterMs comm-lost (default 5 polls, at least
// 15 s); the power model then applies upsmon's on-battery rule to the last state.
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { FreshnessTracker } from '../common/freshness.ts'
import { PollLoop } from '../common/poll.ts'
import { UpsTracker } from './tracker.ts'
import type { UpsDevice, UpsEvents, UpsStatus } from './types.ts'

export interface PolledUpsOptions {
	id: string
	log: Logger
	pollMs: number
	staleAfterMs?: number
	commLostAfterMs?: number
}

export abstract class PolledUps extends EventEmitter<UpsEvents> implements UpsDevice {
	readonly id: string
	protected readonly log: Logger
	protected readonly tracker: UpsTracker
	protected readonly loop: PollLoop
	#stopped = false

	constructor(o: PolledUpsOptions) {
		super()
		this.id = o.id
		this.log = o.log.child({ device: o.id })
		const freshness = new FreshnessTracker({
			device: o.id,
			staleMs: o.staleAfterMs ?? Math.max(3 * o.pollMs, 5000),
			lostMs: o.commLostAfterMs ?? Math.max(15_000, 5 * o.pollMs),
			staleDisconnects: true,
		})
		this.tracker = new UpsTracker(this, this.log, freshness)
		this.loop = new PollLoop({ intervalMs: o.pollMs, poll: () => this.poll() })
	}

	get status(): UpsStatus {
		return this.tracker.status
	}

	get synced(): boolean {
		return this.tracker.synced
	}

	protected get stopped(): boolean {
		return this.#stopped
	}

	start(): void {
		if (this.#stopped) return
		this.tracker.freshness.arm()
		this.openConnection()
		this.loop.start()
	}

	async stop(): Promise<void> {
		this.#stopped = true
		this.loop.stop()
		this.tracker.freshness.stop()
		await this.closeConnection()
	}

	/** opens the connection (it reconnects by itself until closed) */
	protected abstract openConnection(): void
	/** closes it for good; resolves once no handle is left */
	protected abstract closeConnection(): Promise<void>
	/** one poll: tracker.onReading() on a good answer, noData() otherwise */
	protected abstract poll(): Promise<void>

	/** a poll or a connection that brought no good data: not connected (stale and comm-lost follow in time) */
	protected noData(): void {
		this.tracker.freshness.disconnected()
	}

	/** a request that failed: a fault unless we stopped it, and no data */
	protected requestFailed(err: Error & { kind: string }): void {
		if (err.kind !== 'stopped') this.emit('fault', err)
		this.noData()
	}
}
