// A UPS through upsd (driver `nut`): `LIST VAR <ups>` every pollMs, ups.status to the power state.
//
// Stale and dead handling as NUT's upsmon does (upsmon.conf: POLLFREQ, DEADTIME 15 s; upsmon.c): upsd answering
// `ERR DATA-STALE` or `ERR DRIVER-NOT-CONNECTED`, an empty ups.status (upsmon.c parse_status: "the same as a dead
// ups"), or upsd itself unreachable, is no data. So is a ups.status with no power flag at all (WAIT, ALARM alone),
// where upsmon keeps its last state: we would show that last state as current. No fresh data for staleAfterMs
// makes the device stale; for commLostAfterMs it is comm-lost. The power model then applies upsmon's rule: a UPS
// last seen on battery that falls silent counts as low battery (src/domain/power.ts).
import type { Logger } from 'pino'
import type { ResolvedNutDriver } from '../../src/domain/drivers.ts'
import { PolledUps } from '../ups/polled.ts'
import type { UpsReading } from '../ups/types.ts'
import { powerFromStatus, type NutReply } from './codec.ts'
import { NutConnection, NutRequestError } from './connection.ts'

export interface NutUpsOptions {
	id: string
	/** secrets resolved by the caller */
	config: ResolvedNutDriver
	log: Logger
	staleAfterMs?: number
	commLostAfterMs?: number
	requestTimeoutMs?: number
}

export class NutError extends Error {
	override name = 'NutError'
	constructor(
		message: string,
		readonly code: string,
		options?: { cause?: unknown },
	) {
		super(message, options)
	}
}

/** The variables of `LIST VAR` as a map, or the ERR it got. */
export function varsFromReplies(ups: string, replies: readonly NutReply[]): Map<string, string> | NutError {
	const out = new Map<string, string>()
	for (const r of replies) {
		if (r.kind === 'err') return new NutError(`upsd: ERR ${r.code}${r.extra ? ` ${r.extra}` : ''} for ${ups}`, r.code)
		if (r.kind === 'var' && r.ups === ups) out.set(r.name, r.value)
	}
	const last = replies[replies.length - 1]
	if (last?.kind !== 'end') return new NutError(`upsd: LIST VAR ${ups} did not end with END LIST`, 'PROTOCOL')
	return out
}

/** A reading from upsd variables; null when ups.status says nothing about power yet (e.g. WAIT). */
export function readingFromVars(vars: ReadonlyMap<string, string>): UpsReading | null {
	const status = vars.get('ups.status')
	if (status === undefined) return null
	const { power, flags } = powerFromStatus(status)
	if (power === null) return null
	const num = (k: string) => {
		const v = vars.get(k)
		if (v === undefined || v.trim() === '') return null
		const n = Number(v)
		return Number.isFinite(n) ? n : null
	}
	const runtime = num('battery.runtime')
	const model = vars.get('ups.model') ?? vars.get('device.model')
	return {
		power,
		depleted: false,
		minutesRemaining: runtime === null ? null : Math.round((runtime / 60) * 10) / 10,
		chargePercent: num('battery.charge'),
		extra: { status, flags, ...(model !== undefined ? { model } : {}) },
	}
}

export class NutUpsDevice extends PolledUps {
	/** the last answer's ups.status carried no power flag (warned once per run of them) */
	#noPowerState = false
	readonly #cfg: ResolvedNutDriver
	readonly #conn: NutConnection

	constructor(o: NutUpsOptions) {
		super({ ...o, pollMs: o.config.pollMs })
		this.#cfg = o.config
		this.#conn = new NutConnection({
			host: o.config.host,
			port: o.config.port,
			log: this.log,
			requestTimeoutMs: o.requestTimeoutMs ?? Math.max(1000, Math.min(o.config.pollMs, 5000)),
		})
		this.#conn.on('connected', () => void this.#hello())
		this.#conn.on('disconnected', (err) => {
			this.log.warn({ err }, 'upsd connection lost')
			this.noData()
		})
	}

	protected openConnection(): void {
		this.#conn.start()
	}

	protected async closeConnection(): Promise<void> {
		this.#conn.stop()
	}

	/** On every (re)connect: identify if configured, then read the UPS at once (architecture habit 4). */
	async #hello(): Promise<void> {
		const { username, password } = this.#cfg
		try {
			if (username !== undefined) {
				await this.#expectOk(['USERNAME', username])
				if (password !== undefined) await this.#expectOk(['PASSWORD', password])
			}
		} catch (err) {
			if (!(err instanceof NutError || err instanceof NutRequestError)) throw err
			// reading needs no login: say so and go on
			this.log.warn({ err }, 'upsd login refused; reading anyway')
			this.emit('fault', err)
		}
		await this.#checkUpsName()
		await this.loop.now()
	}

	/** LIST UPS once per connection, so a wrong `ups` name is reported with the names upsd does serve. */
	async #checkUpsName(): Promise<void> {
		try {
			const replies = await this.#conn.request(['LIST', 'UPS'])
			const names = replies.flatMap((r) => (r.kind === 'ups' ? [r.name] : []))
			if (replies[replies.length - 1]?.kind === 'end' && !names.includes(this.#cfg.ups)) {
				const err = new NutError(
					`upsd ${this.#cfg.host}:${this.#cfg.port} has no UPS "${this.#cfg.ups}" (it serves: ${names.join(', ') || 'none'})`,
					'UNKNOWN-UPS',
				)
				this.log.error({ err }, err.message)
				this.emit('fault', err)
			}
		} catch (err) {
			if (!(err instanceof NutRequestError)) throw err
			this.log.debug({ err }, 'LIST UPS failed')
		}
	}

	async #expectOk(words: string[]): Promise<void> {
		const [r] = await this.#conn.request(words)
		if (r?.kind !== 'ok')
			throw new NutError(
				`upsd refused ${words[0]}: ${r?.kind === 'err' ? r.code : 'no OK'}`,
				r?.kind === 'err' ? r.code : 'PROTOCOL',
			)
	}

	protected async poll(): Promise<void> {
		if (this.stopped || this.#conn.state !== 'connected') return
		try {
			const replies = await this.#conn.request(['LIST', 'VAR', this.#cfg.ups])
			const vars = varsFromReplies(this.#cfg.ups, replies)
			if (vars instanceof NutError) {
				// DATA-STALE / DRIVER-NOT-CONNECTED: upsd is there, the UPS data is not; UNKNOWN-UPS: config error
				this.log.warn({ code: vars.code }, vars.message)
				this.emit('fault', vars)
				this.noData()
				return
			}
			const reading = readingFromVars(vars)
			if (!reading) {
				// WAIT (the driver has no data yet), empty, ALARM alone: no power flag, so not a reading of the UPS.
				// No data at once, as DATA-STALE: left unanswered, the last reading (online, ok) would stand as
				// current and connected until staleMs (docs/contract.md §1 UPS mapping, §7 device-stale).
				const status = vars.get('ups.status')
				const err = new NutError(
					`upsd: ups.status ${status === undefined ? 'missing' : JSON.stringify(status)} for ${this.#cfg.ups} carries no power state (OL, OB, BYPASS, OFF, FSD)`,
					'NO-POWER-STATE',
				)
				// warned once per run of such answers (a driver may WAIT for minutes): the log says it, not every poll
				if (!this.#noPowerState) this.log.warn({ status }, err.message)
				this.#noPowerState = true
				this.emit('fault', err)
				this.noData()
				return
			}
			if (this.#noPowerState)
				this.log.info({ status: vars.get('ups.status') }, 'ups.status carries a power state again')
			this.#noPowerState = false
			this.tracker.onReading(reading)
		} catch (err) {
			if (!(err instanceof NutRequestError)) throw err
			this.requestFailed(err)
		}
	}
}
