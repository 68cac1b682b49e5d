// A Megatec/Q1 serial UPS (driver `megatec`): Q1 every pollMs; F and I read once per open for the detail.
// Stale and comm-lost as for the other UPS drivers (ups/polled.ts): no valid Q1 reply for staleAfterMs is stale,
// for commLostAfterMs comm-lost. Megatec reports no runtime and no charge: minutesRemaining and chargePercent stay
// null rather than being guessed.
import type { Logger } from 'pino'
import type { MegatecDriver } from '../../src/domain/drivers.ts'
import { PolledUps } from '../ups/polled.ts'
import type { UpsReading } from '../ups/types.ts'
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
		// Q1 has no depleted bit; shutdown active reads low-battery without it, as FSD does in the NUT driver
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
			// why a UPS with its utility and battery fine reads low-battery (codec.ts powerOf, docs/contract.md §1)
			...(q.status.shutdownActive ? { shutdownActive: true } : {}),
		},
	}
}

export class MegatecUpsDevice extends PolledUps {
	readonly #cfg: MegatecDriver
	readonly #conn: MegatecConnection
	#info: Record<string, unknown> = {}
	/** replies that were not valid Q1 lines since start (garbage, echoes) */
	badReplies = 0

	constructor(o: MegatecUpsOptions) {
		super({ ...o, pollMs: o.config.pollMs })
		this.#cfg = o.config
		this.#conn = new MegatecConnection({
			path: o.config.serial.path,
			baudRate: o.config.serial.baudRate,
			log: this.log,
			...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
		})
		this.#conn.on('open', () => void this.#hello())
		this.#conn.on('closed', (err) => {
			this.log.warn({ err }, 'serial port closed')
			this.noData()
		})
	}

	protected openConnection(): void {
		this.#conn.start()
	}

	protected closeConnection(): Promise<void> {
		return this.#conn.stop()
	}

	/** On every open: identity and ratings (optional: many clones answer neither), then a Q1 at once. */
	async #hello(): Promise<void> {
		await this.loop.exclusive(async () => {
			try {
				const i = parseI(await this.#conn.request('I'))
				if (i) this.#info = { ...this.#info, company: i.company, model: i.model, firmware: i.version }
				const f = parseF(await this.#conn.request('F'))
				if (f) this.#info = { ...this.#info, rating: f }
			} catch (err) {
				if (!(err instanceof MegatecRequestError)) throw err
				this.log.debug({ err }, 'no identity or rating reply')
			}
		})
		await this.loop.now()
	}

	protected async poll(): Promise<void> {
		if (this.stopped || this.#conn.state !== 'open') return
		try {
			const line = await this.#conn.request('Q1')
			const q = parseQ1(line)
			if (!q) {
				this.badReplies++
				this.log.debug({ line: line.slice(0, 80) }, 'not a Q1 reply')
				this.emit(
					'fault',
					new Error(`megatec ${this.#cfg.serial.path}: not a Q1 reply: ${JSON.stringify(line.slice(0, 60))}`),
				)
				this.noData()
				return
			}
			this.tracker.onReading(readingFromQ1(q, this.#info))
		} catch (err) {
			if (!(err instanceof MegatecRequestError)) throw err
			this.requestFailed(err)
		}
	}
}
