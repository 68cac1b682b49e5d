// A Megatec/Q1 serial UPS (driver `megatec`): Q1 every pollMs; F and I read once per open for the detail.
// Stale and comm-lost as for the other UPS drivers: no valid Q1 reply for staleAfterMs is stale, for
// commLostAfterMs comm-lost (the power model then applies upsmon's on-battery rule). Megatec reports no
// runtime and no charge: minutesRemaining and chargePercent stay null rather than being guessed.
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { MegatecDriver } from '../../src/domain/drivers.ts'
import { FreshnessTracker } from '../common/freshness.ts'
import { UpsTracker } from '../ups/tracker.ts'
import type { UpsDevice, UpsEvents, UpsReading, UpsStatus } from '../ups/types.ts'
import { parseF, parseI, parseQ1, powerOf, type Q1Reading } from './codec.ts'
import { MegatecConnection, MegatecRequestError } from './connection.ts'

export interface MegatecUpsOptions {
	id: string
	config: MegatecDriver
	log: Logger
	staleAfterMs?: number
	commLostAfterMs?: number
	requestTimeoutMs?: number
}

export function readingFromQ1(q: Q1Reading, info: Record<string, unknown> = {}): UpsReading {
	return {
		power: powerOf(q),
		depleted: false,
		minutesRemaining: null,
		chargePercent: null,
		extra: {
			...info,
			inputVoltage: q.inputVoltage,
			outputVoltage: q.outputVoltage,
			loadPercent: q.loadPercent,
			batteryVoltage: q.batteryVoltage,
			temperatureC: q.temperatureC,
			statusBits: q.bits,
			...(q.status.upsFailed ? { upsFailed: true } : {}),
			...(q.status.testInProgress ? { testInProgress: true } : {}),
			...(q.status.shutdownActive ? { shutdownActive: true } : {}),
		},
	}
}

export class MegatecUpsDevice extends EventEmitter<UpsEvents> implements UpsDevice {
	readonly id: string
	readonly #cfg: MegatecDriver
	readonly #log: Logger
	readonly #conn: MegatecConnection
	readonly #staleAfterMs: number
	readonly #commLostAfterMs: number
	readonly #tracker: UpsTracker
	#info: Record<string, unknown> = {}
	#pollTimer: NodeJS.Timeout | null = null
	#busy = false
	#stopped = false
	/** replies that were not valid Q1 lines since start (garbage, echoes) */
	badReplies = 0

	constructor(o: MegatecUpsOptions) {
		super()
		this.id = o.id
		this.#cfg = o.config
		this.#log = o.log.child({ device: o.id })
		this.#staleAfterMs = o.staleAfterMs ?? Math.max(3 * o.config.pollMs, 5000)
		this.#commLostAfterMs = o.commLostAfterMs ?? Math.max(15_000, 5 * o.config.pollMs)
		this.#tracker = new UpsTracker(
			this,
			this.#log,
			new FreshnessTracker({
				device: o.id,
				staleMs: this.#staleAfterMs,
				lostMs: this.#commLostAfterMs,
				staleDisconnects: true,
			}),
		)
		this.#conn = new MegatecConnection({
			path: o.config.serial.path,
			baudRate: o.config.serial.baudRate,
			log: this.#log,
			...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
		})
		this.#conn.on('open', () => void this.#hello())
		this.#conn.on('closed', (err) => {
			this.#log.warn({ err }, 'serial port closed')
			this.#tracker.freshness.disconnected()
		})
	}

	get status(): UpsStatus {
		return this.#tracker.status
	}

	get synced(): boolean {
		return this.#tracker.synced
	}

	start(): void {
		if (this.#stopped) return
		this.#tracker.freshness.arm()
		this.#conn.start()
		this.#schedule()
	}

	async stop(): Promise<void> {
		this.#stopped = true
		if (this.#pollTimer) clearTimeout(this.#pollTimer)
		this.#pollTimer = null
		this.#tracker.freshness.stop()
		await this.#conn.stop()
	}

	/** On every open: identity and ratings (optional: many clones answer neither), then a Q1 at once. */
	async #hello(): Promise<void> {
		this.#busy = true
		try {
			const i = parseI(await this.#conn.request('I'))
			if (i) this.#info = { ...this.#info, company: i.company, model: i.model, firmware: i.version }
			const f = parseF(await this.#conn.request('F'))
			if (f) this.#info = { ...this.#info, rating: f }
		} catch (err) {
			if (!(err instanceof MegatecRequestError)) throw err
			this.#log.debug({ err }, 'no identity or rating reply')
		} finally {
			this.#busy = false
		}
		await this.#poll()
	}

	/** The one place the poll timer is made. */
	#schedule(): void {
		if (this.#pollTimer) clearTimeout(this.#pollTimer)
		this.#pollTimer = setTimeout(() => {
			this.#pollTimer = null
			void this.#poll().finally(() => {
				if (!this.#stopped) this.#schedule()
			})
		}, this.#cfg.pollMs)
	}

	async #poll(): Promise<void> {
		if (this.#stopped || this.#busy || this.#conn.state !== 'open') return
		this.#busy = true
		try {
			const line = await this.#conn.request('Q1')
			const q = parseQ1(line)
			if (!q) {
				this.badReplies++
				this.#log.debug({ line: line.slice(0, 80) }, 'not a Q1 reply')
				this.emit(
					'fault',
					new Error(`megatec ${this.#cfg.serial.path}: not a Q1 reply: ${JSON.stringify(line.slice(0, 60))}`),
				)
				this.#tracker.freshness.disconnected()
				return
			}
			this.#tracker.onReading(readingFromQ1(q, this.#info))
		} catch (err) {
			if (!(err instanceof MegatecRequestError)) throw err
			if (err.kind !== 'stopped') this.emit('fault', err)
			this.#tracker.freshness.disconnected()
		} finally {
			this.#busy = false
		}
	}
}
