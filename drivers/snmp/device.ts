// A signal device over SNMP (driver `snmp`): a 2022-7 gateway, an IRD or a fiber receiver, judged by a built-in
// profile (profiles.ts) or by config rules (codec.ts evaluateRules).
//
// docs/contract.md §4: only evidence about the video reports down or degraded. When the agent stops answering, the
// report is `unknown` (it withdraws this device's last report), never `down`: a lost SNMP session never causes a
// failover by itself. Reports are stamped with monotonicMs() at the answer that produced them.
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { ResolvedSnmpDriver } from '../../src/domain/drivers.ts'
import { monotonicMs } from '../../src/clock.ts'
import type { Freshness, Health, ProbeResult, SignalReport } from '../types.ts'
import { judgeRules, normalizeOid, type SnmpValue } from './codec.ts'
import { SnmpPoller } from './connection.ts'
import { judgeGateway, judgeIrd, resolveProfile, type Leg, type ProfileReading } from './profiles.ts'
import type { TrapReceiver } from './traps.ts'

export interface SignalState {
	signal: SignalReport
	health: Health
	/** monotonic ms of the reading that gave this signal */
	at: number
	legs?: Leg[]
	lock?: boolean
	marginDb?: number | null
	reason?: string
}

export interface SignalDeviceEvents {
	/** the signal report changed (repeating a report changes nothing, §4: so it is not re-emitted) */
	signal: [state: SignalState, previous: SignalReport | null]
	/** any reading (legs, counters, margin), also when the signal is unchanged */
	reading: [state: SignalState]
	freshness: [freshness: Freshness]
	synced: []
	fault: [err: Error]
}

export interface SnmpSignalOptions {
	id: string
	/** secrets resolved by the caller */
	config: ResolvedSnmpDriver
	log: Logger
	traps?: TrapReceiver
	staleAfterMs?: number
}

export class SnmpSignalDevice extends EventEmitter<SignalDeviceEvents> {
	readonly id: string
	readonly #config: ResolvedSnmpDriver
	readonly #poller: SnmpPoller
	readonly #log: Logger
	readonly #profileOids: Map<string, string> | null
	#state: SignalState | null = null
	#outputLost: number | null = null
	#synced = false
	#unsubscribe: (() => void) | null = null
	readonly #traps: TrapReceiver | undefined

	constructor(o: SnmpSignalOptions) {
		super()
		this.id = o.id
		this.#config = o.config
		this.#log = o.log.child({ device: o.id })
		this.#traps = o.config.traps ? o.traps : undefined
		if (o.config.traps && !o.traps) this.#log.warn('traps: true but no trap receiver is configured (top-level traps)')
		this.#profileOids = o.config.profile ? resolveProfile(o.config.profile, o.config.profileOids ?? {}) : null
		const oids = this.#profileOids
			? [...this.#profileOids.values()]
			: [...new Set((o.config.rules ?? []).map((r) => normalizeOid(r.oid)))]
		this.#poller = new SnmpPoller({
			device: o.id,
			target: o.config,
			oids,
			pollMs: o.config.pollMs,
			log: this.#log,
			...(o.staleAfterMs !== undefined ? { staleAfterMs: o.staleAfterMs } : {}),
		})
		this.#poller.on('values', (v, at) => this.#onValues(v, at))
		this.#poller.on('failed', (err) => {
			this.emit('fault', err)
			// §4: the session is lost, the video is not known to be lost: withdraw the report
			this.#set({ signal: 'unknown', health: 'unknown', at: monotonicMs(), reason: 'agent not answering' })
		})
		this.#poller.on('freshness', (f) => this.emit('freshness', f))
	}

	get state(): SignalState | null {
		return this.#state
	}

	get freshness(): Freshness {
		return this.#poller.freshness
	}

	get synced(): boolean {
		return this.#synced
	}

	start(): void {
		if (this.#traps && !this.#unsubscribe)
			this.#unsubscribe = this.#traps.subscribe(this.#config.host, () => this.#poller.pollNow())
		this.#poller.start()
	}

	async stop(): Promise<void> {
		this.#unsubscribe?.()
		this.#unsubscribe = null
		this.#poller.stop()
	}

	refresh(): void {
		this.#poller.pollNow()
	}

	probeResult(): ProbeResult {
		const s = this.#state
		const connected = this.freshness.connected
		const detail: Record<string, unknown> = { signal: connected && s ? s.signal : 'unknown' }
		if (s?.legs) detail['legs'] = s.legs
		if (s?.lock !== undefined) detail['lock'] = s.lock
		if (s?.marginDb !== undefined) detail['marginDb'] = s.marginDb
		if (s?.reason !== undefined) detail['reason'] = s.reason
		if (this.#config.profile) detail['profile'] = this.#config.profile
		return { device: this.id, connected, health: connected && s ? s.health : 'unknown', detail }
	}

	#onValues(values: Map<string, SnmpValue>, at: number): void {
		let r: ProfileReading
		if (this.#config.profile === 'gateway-2022-7' && this.#profileOids) {
			const g = judgeGateway(this.#profileOids, values, this.#outputLost)
			// a counter that went backwards (wrap, agent restart) becomes the new baseline
			this.#outputLost = g.outputLost
			const { outputLost: _o, ...rest } = g
			r = rest
		} else if (this.#config.profile === 'ird' && this.#profileOids) {
			r = judgeIrd(this.#profileOids, values)
		} else {
			// the reason names the rule that could not be evaluated and what the agent answered (device detail, log)
			const { signal, reason } = judgeRules(this.#config.rules ?? [], values)
			r = { signal, health: signal === 'up' ? 'ok' : signal }
			if (reason !== undefined) r.reason = reason
		}
		// an agent that answers what the rules or the profile cannot judge is a config or agent fault an operator must
		// hear of: once per new reason, not every poll (docs/contract.md §4: the report is unknown, not down)
		if (r.signal === 'unknown' && r.reason !== undefined && this.#state?.reason !== r.reason)
			this.#log.warn({ reason: r.reason }, 'signal unknown: the reading cannot be judged')
		this.#set({ ...r, at })
		if (!this.#synced) {
			this.#synced = true
			this.emit('synced')
		}
	}

	#set(next: SignalState): void {
		const prev = this.#state
		this.#state = next
		if (prev?.signal !== next.signal) this.emit('signal', next, prev?.signal ?? null)
		this.emit('reading', next)
	}
}
