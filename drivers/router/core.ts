// What both router drivers share: the confirmed tally, the commanded tally, locks, freshness, and the bookkeeping
// of takes waiting for their tally. Drivers feed it what the router reported (1-based, through ports.ts) and send
// what it asks; it never writes a state the router did not report.
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { monotonicMs } from '../../src/clock.ts'
import type { Freshness, Health } from '../types.ts'
import { FreshnessTracker } from '../common/freshness.ts'
import { Timers } from '../common/timers.ts'
import { portInRange } from './ports.ts'
import { Requests } from './requests.ts'
import {
	RouterError,
	type Crosspoint,
	type InputStatus,
	type LinkState,
	type LockState,
	type Router,
	type RouterEvents,
	type RouterSize,
	type RouterStatus,
	type SalvoOutcome,
	type TakeOptions,
	type TakeResult,
} from './types.ts'

export interface CoreOptions {
	deviceId: string
	log: Logger
	/** the size from the config (`size: {inputs, outputs}`), checked before anything is sent */
	size?: RouterSize | undefined
	/** how long a take waits for the router's tally */
	takeTimeoutMs?: number
	/** no good answer for this long makes the router stale */
	staleAfterMs?: number
}

export abstract class RouterCore extends EventEmitter<RouterEvents> implements Router {
	abstract readonly driver: 'videohub' | 'swp08'
	readonly deviceId: string
	protected readonly log: Logger
	protected readonly timers = new Timers()
	protected readonly takeTimeoutMs: number
	protected readonly staleAfterMs: number

	protected readonly confirmed = new Map<number, number>()
	readonly #commanded = new Map<number, number>()
	protected readonly lockTable = new Map<number, LockState>()
	protected readonly inputStatusTable = new Map<number, InputStatus>()
	protected readonly inputLabels = new Map<number, string>()
	protected readonly outputLabels = new Map<number, string>()
	protected readonly configSize: RouterSize | undefined
	/** the size the router itself reported (Videohub), else the config's */
	protected reportedSize: RouterSize | null = null
	protected model: string | undefined
	/** what the router's server said is wrong with the router itself (Videohub "Device present: false") */
	protected deviceProblem: string | null = null
	protected protocolVersion: string | undefined
	protected abstract readonly locksReported: boolean
	/**
	 * true when the driver sends one message at a time and calls onTakeTransmitted(): a take's timeout then counts
	 * from its transmission, not from its place in the queue (the queue always drains: every message is ACKed, or
	 * fails after its resends and drops the link, which rejects whatever still waits).
	 */
	protected readonly timeoutFromTransmit: boolean = false
	/**
	 * The most ports the protocol can address (1-based), where it has a limit: a take past it is refused before
	 * anything is sent (docs/contract.md §1, `take`), whatever the size. SW-P-08: 65536 (16-bit extended numbers).
	 */
	protected readonly protocolLimit: { protocol: string; ports: number } | undefined = undefined

	protected linkState: LinkState = 'idle'
	#synced = false
	readonly #freshness: FreshnessTracker
	#stopped = false
	readonly #requests: Requests
	#syncWaiters = 0
	/** why the link last went down or failed to open (for messages) */
	#lastLinkProblem: string | null = null

	constructor(options: CoreOptions) {
		super()
		this.deviceId = options.deviceId
		this.log = options.log
		this.configSize = options.size
		this.takeTimeoutMs = options.takeTimeoutMs ?? 2000
		this.staleAfterMs = options.staleAfterMs ?? 5000
		this.#requests = new Requests(this.deviceId, this.timers, (o) => this.confirmed.get(o))
		// connected is the link's state: going stale does not disconnect. Stale is the router's silence, link up or
		// down: the clock runs on when the link drops, so a router gone for staleMs is stale (the runtime's
		// device-stale alarm), and only a frame from it ends that. The runtime's `freshness` event is the stale
		// transitions.
		this.#freshness = new FreshnessTracker({
			device: this.deviceId,
			staleMs: this.staleAfterMs,
			staleDisconnects: false,
			timers: this.timers,
		})
		this.#freshness.on('stale', (t) => this.emit('freshness', { ...this.freshness(), at: t.at }))
	}

	// --- what a driver implements -------------------------------------------------------------------------------

	/** opens the link */
	protected abstract open(): void
	/** closes the link; resolves when no handle is left */
	protected abstract close(): Promise<void>
	/** sends the takes (1-based) as one request where the protocol allows; never called before sync */
	protected abstract sendTakes(takes: readonly Crosspoint[]): void
	/** sends a lock/unlock request (1-based output) */
	protected abstract sendLock(output: number, lock: boolean): void

	// --- what a driver calls -------------------------------------------------------------------------------------

	/** any good frame or line from the router */
	protected markOk(): void {
		this.#freshness.ok()
	}

	protected onLinkState(state: LinkState, reason?: string): void {
		this.linkState = state
		if (state !== 'connected' && reason !== undefined) this.#lastLinkProblem = reason
		const at = monotonicMs()
		if (state !== 'connected') {
			if (this.#synced) this.log.info({ device: this.deviceId, reason }, 'router link lost')
			this.#synced = false
			this.#freshness.disconnected()
			this.#requests.failAll('disconnected', `router ${this.deviceId} disconnected (${reason ?? state})`)
		} else {
			this.#freshness.linkUp()
		}
		this.emit('connection', {
			state,
			connected: state === 'connected',
			at,
			...(reason !== undefined ? { reason } : {}),
		})
	}

	/** a tally the router reported (1-based), from a full dump or a change */
	protected onTally(output: number, input: number): void {
		const at = monotonicMs()
		const previous = this.confirmed.get(output) ?? null
		this.confirmed.set(output, input)
		const ours = this.#requests.tally(output, input, at, this.refusesOnContraryTally())
		if (previous !== input) this.emit('crosspoint', { output, input, previous, ours, at })
	}

	/** SW-P-08 answers a connect with the resulting tally; Videohub may interleave other clients' updates */
	protected refusesOnContraryTally(): boolean {
		return false
	}

	protected onLock(output: number, lock: LockState): void {
		const previous = this.lockTable.get(output) ?? null
		this.lockTable.set(output, lock)
		this.#requests.lockReported(output, lock)
		if (previous !== lock) this.emit('lock', { output, lock, previous, at: monotonicMs() })
	}

	protected onInputStatus(input: number, status: InputStatus): void {
		const previous = this.inputStatusTable.get(input)
		this.inputStatusTable.set(input, status)
		if (previous !== status) this.emit('input-status', { input, status, at: monotonicMs() })
	}

	protected onLabel(kind: 'input' | 'output', port: number, label: string): void {
		const table = kind === 'input' ? this.inputLabels : this.outputLabels
		if (table.get(port) === label) return
		table.set(port, label)
		this.emit('label', { kind, port, label, at: monotonicMs() })
	}

	protected onSynced(): void {
		if (this.#synced) return
		this.#synced = true
		const at = monotonicMs()
		this.log.info({ device: this.deviceId, outputs: this.confirmed.size }, 'router synced')
		this.emit('synced', { at, outputs: this.confirmed.size })
	}

	/** the router accepted (ACK) the request carrying these outputs' takes */
	protected onTakesAccepted(outputs: readonly number[]): void {
		for (const o of outputs) this.#requests.accepted(o)
	}

	/**
	 * The request carrying this output's take has just gone on the wire: its timeout counts from now. A protocol that
	 * sends one message at a time (SW-P-08 over a 38400 baud line, ~7 ms a take) would otherwise time out the end
	 * of a long salvo while it still waits its turn.
	 */
	protected onTakeTransmitted(output: number): void {
		this.#requests.transmitted(output)
	}

	/** the router refused (NAK, or no ACK after every resend) the request carrying these outputs' takes */
	protected onTakesRefused(
		outputs: readonly number[],
		code: 'nak' | 'locked' | 'timeout' | 'disconnected',
		message: string,
	): void {
		for (const o of outputs)
			this.#requests.refuse(o, (input) =>
				this.lockTable.get(o) === 'theirs'
					? new RouterError('locked', `output ${o} of router ${this.deviceId} is locked by another controller`)
					: new RouterError(code, `${message} (output ${o} to input ${input})`),
			)
	}

	protected onLockRefused(output: number, message: string): void {
		this.#requests.lockRefused(output, message)
	}

	protected get synced(): boolean {
		return this.#synced
	}

	// --- the Router interface ------------------------------------------------------------------------------------

	start(): void {
		if (this.#stopped) throw new Error(`router ${this.deviceId} was stopped; make a new one`)
		this.open()
	}

	async stop(): Promise<void> {
		if (this.#stopped) return
		this.#stopped = true
		this.#requests.failAll('stopped', `router ${this.deviceId} stopped`)
		this.timers.clearAll()
		this.#synced = false
		await this.close()
		this.timers.clearAll()
	}

	whenSynced(timeoutMs: number): Promise<void> {
		if (this.#synced) return Promise.resolve()
		return new Promise<void>((resolve, reject) => {
			const key = `synced:${++this.#syncWaiters}`
			const onSynced = (): void => {
				this.timers.clear(key)
				this.off('connection', onConnection)
				resolve()
			}
			const onConnection = (e: RouterEvents['connection'][0]): void => {
				if (e.state !== 'stopped') return
				this.timers.clear(key)
				this.off('synced', onSynced)
				reject(new RouterError('stopped', `router ${this.deviceId} stopped before its first sync`))
			}
			this.once('synced', onSynced)
			this.on('connection', onConnection)
			this.timers.set(key, timeoutMs, () => {
				this.off('synced', onSynced)
				this.off('connection', onConnection)
				reject(
					new RouterError(
						this.linkState === 'connected' ? 'timeout' : 'disconnected',
						this.linkState === 'connected'
							? `router ${this.deviceId} connected but its tally was not read within ${timeoutMs} ms`
							: `router ${this.deviceId} not reachable within ${timeoutMs} ms (${this.#lastLinkProblem ?? `link ${this.linkState}`})`,
					),
				)
			})
		})
	}

	take(output: number, input: number, options?: TakeOptions): Promise<TakeResult> {
		const problem = this.#check({ output, input })
		if (problem) return Promise.reject(problem)
		const already = this.#alreadyThere({ output, input })
		if (already) return Promise.resolve(already)
		const promise = this.#register({ output, input }, options)
		this.#send([{ output, input }])
		return promise
	}

	/**
	 * Hands takes to the driver. A driver that cannot encode one (a codec's RangeError: #check should have refused it)
	 * refuses those takes instead of throwing: a registered take must always settle, or its rejection at stop() would
	 * be unhandled.
	 */
	#send(takes: readonly Crosspoint[]): void {
		try {
			this.sendTakes(takes)
		} catch (err) {
			if (!(err instanceof RangeError)) throw err
			for (const t of takes)
				this.#requests.refuse(
					t.output,
					(input) =>
						new RouterError('out-of-range', `output ${t.output} to input ${input}: ${err.message}`, { cause: err }),
				)
		}
	}

	async salvo(takes: readonly Crosspoint[], options?: TakeOptions): Promise<SalvoOutcome[]> {
		const seen = new Set<number>()
		for (const t of takes) {
			if (seen.has(t.output))
				throw new RouterError('out-of-range', `salvo names output ${t.output} twice: nothing was sent`)
			seen.add(t.output)
		}
		const promises: Promise<TakeResult>[] = []
		const toSend: Crosspoint[] = []
		for (const t of takes) {
			const problem = this.#check(t)
			if (problem) {
				promises.push(Promise.reject(problem))
				continue
			}
			const already = this.#alreadyThere(t)
			if (already) {
				promises.push(Promise.resolve(already))
				continue
			}
			promises.push(this.#register(t, options))
			toSend.push(t)
		}
		if (toSend.length > 0) this.#send(toSend)
		const settled = await Promise.allSettled(promises)
		return settled.map((s, i) =>
			s.status === 'fulfilled'
				? { ok: true, result: s.value }
				: {
						ok: false,
						take: takes[i]!,
						error:
							s.reason instanceof RouterError
								? s.reason
								: new RouterError('nak', String(s.reason), { cause: s.reason }),
					},
		)
	}

	lock(output: number, options?: TakeOptions): Promise<void> {
		return this.#lockRequest(output, true, options)
	}

	unlock(output: number, options?: TakeOptions): Promise<void> {
		return this.#lockRequest(output, false, options)
	}

	routing(): ReadonlyMap<number, number> {
		return this.confirmed
	}

	commanded(): ReadonlyMap<number, number> {
		return this.#commanded
	}

	locks(): ReadonlyMap<number, LockState> {
		return this.lockTable
	}

	inputStatus(): ReadonlyMap<number, InputStatus> {
		return this.inputStatusTable
	}

	size(): RouterSize | null {
		return this.reportedSize ?? this.configSize ?? null
	}

	freshness(): Freshness {
		return this.#freshness.value
	}

	isSynced(): boolean {
		return this.#synced
	}

	/** pending requests and timers (tests assert both are 0 after stop) */
	get outstanding(): { takes: number; locks: number; timers: number } {
		return { takes: this.#requests.takeCount, locks: this.#requests.lockCount, timers: this.timers.size }
	}

	status(): RouterStatus {
		const f = this.freshness()
		const health: Health =
			!f.connected || this.deviceProblem !== null ? 'down' : !this.#synced ? 'unknown' : f.stale ? 'degraded' : 'ok'
		const obj = <V>(m: ReadonlyMap<number, V>): Record<string, V> =>
			Object.fromEntries([...m].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v]))
		return {
			driver: this.driver,
			connected: f.connected,
			synced: this.#synced,
			health,
			freshness: f,
			size: this.size(),
			routing: obj(this.confirmed),
			commanded: obj(this.#commanded),
			locks: obj(this.lockTable),
			locksReported: this.locksReported,
			inputStatus: obj(this.inputStatusTable),
			inputLabels: obj(this.inputLabels),
			outputLabels: obj(this.outputLabels),
			...(this.model !== undefined ? { model: this.model } : {}),
			...(this.protocolVersion !== undefined ? { protocolVersion: this.protocolVersion } : {}),
			...(this.deviceProblem !== null ? { problem: this.deviceProblem } : {}),
		}
	}

	// --- internals -----------------------------------------------------------------------------------------------

	#check(t: Crosspoint): RouterError | null {
		if (this.#stopped) return new RouterError('stopped', `router ${this.deviceId} stopped`)
		const limit = this.protocolLimit
		if (limit)
			for (const [what, port] of [
				['output', t.output],
				['input', t.input],
			] as const)
				if (port > limit.ports)
					return new RouterError(
						'out-of-range',
						`${what} ${port} is beyond what ${limit.protocol} can carry (ports 1-${limit.ports}): nothing was sent`,
					)
		const size = this.size()
		if (!portInRange(t.output, size?.outputs))
			return new RouterError(
				'out-of-range',
				`output ${t.output} is outside router ${this.deviceId}${size ? ` (1-${size.outputs})` : ''}: nothing was sent`,
			)
		if (!portInRange(t.input, size?.inputs))
			return new RouterError(
				'out-of-range',
				`input ${t.input} is outside router ${this.deviceId}${size ? ` (1-${size.inputs})` : ''}: nothing was sent`,
			)
		if (!this.#synced)
			return new RouterError(
				this.linkState === 'connected' ? 'not-synced' : 'disconnected',
				`router ${this.deviceId} has not reported its tally since it (re)connected (link ${this.linkState}): nothing was sent`,
			)
		if (this.lockTable.get(t.output) === 'theirs')
			return new RouterError(
				'locked',
				`output ${t.output} of router ${this.deviceId} is locked by another controller: nothing was sent`,
			)
		return null
	}

	#alreadyThere(t: Crosspoint): TakeResult | null {
		// The router's own tally already shows it and the link is fresh: a take would change nothing on air.
		if (this.confirmed.get(t.output) !== t.input || this.#freshness.value.stale || this.#requests.hasTake(t.output))
			return null
		const at = monotonicMs()
		this.#commanded.set(t.output, t.input)
		return { ...t, sentAt: at, confirmedAt: at, already: true }
	}

	#register(t: Crosspoint, options?: TakeOptions): Promise<TakeResult> {
		this.#commanded.set(t.output, t.input)
		return this.#requests.register(t, options?.timeoutMs ?? this.takeTimeoutMs, !this.timeoutFromTransmit)
	}

	#lockRequest(output: number, lock: boolean, options?: TakeOptions): Promise<void> {
		if (!this.locksReported)
			return Promise.reject(new RouterError('unsupported', `${this.driver} routers have no locks this driver can set`))
		const size = this.size()
		if (!portInRange(output, size?.outputs))
			return Promise.reject(new RouterError('out-of-range', `output ${output} is outside router ${this.deviceId}`))
		if (!this.#synced)
			return Promise.reject(new RouterError('not-synced', `router ${this.deviceId} is not synced: nothing was sent`))
		const current = this.lockTable.get(output)
		if (current === 'theirs')
			return Promise.reject(
				new RouterError(
					'locked',
					`output ${output} of router ${this.deviceId} is locked by another controller (sigpath never forces a lock)`,
				),
			)
		const want: LockState = lock ? 'ours' : 'unlocked'
		if (current === want) return Promise.resolve()
		const promise = this.#requests.registerLock(output, want, options?.timeoutMs ?? this.takeTimeoutMs)
		this.sendLock(output, lock)
		return promise
	}
}
