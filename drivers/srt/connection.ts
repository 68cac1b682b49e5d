// The SRT receiver driver: one listener (many callers) or one caller, received and relayed in native threads
// (native.ts). JS sees only events: connections, rejections, stats each interval, and signal observations whose
// `at` is the instant the condition began on the monotonic clock (for `down`: the last packet's own timestamp).
import { lookup } from 'node:dns/promises'
import { EventEmitter } from 'node:events'
import { isIP } from 'node:net'
import type { ResolvedSrtDriver } from '../../src/domain/drivers.ts'
import type { DriverContext, Freshness, Health, SignalReport } from '../types.ts'
import { monotonicMs } from '../../src/clock.ts'
import { Backoff } from '../common/backoff.ts'
import {
	intervalLossRate,
	parseUdpUrl,
	rejectReasonName,
	sumTsCounts,
	tsErrorCause,
	type TsIntervalCounts,
} from './codec.ts'
import {
	loadSrtBinding,
	routeSrtLogs,
	takeLoggedRejection,
	watchLoggedRejections,
	type LoggedRejection,
	type NativeConnStats,
	type NativeEvent,
	type NativeReceiver,
	type NativeReceiverOptions,
} from './native.ts'

/** idle: made, not started; listening: a bound listener (reachable); stopped: by us, for good. */
export type SrtReceiverState = 'idle' | 'connecting' | 'listening' | 'connected' | 'backoff' | 'stopped'

export interface SignalObservation {
	signal: SignalReport
	/** monotonic ms the condition began: first packet (up), last packet (down), interval start (degraded) */
	at: number
	/** monotonic ms the native thread (down/up) or the stats tick (degraded) established it */
	detectedAt: number
	cause: string
}

export interface Rejection {
	peer: string
	streamId: string
	/** symbolic libsrt reason: SRT_REJ_BADSECRET, SRT_REJX_NOTFOUND, ... */
	reason: string
	code: number
	text: string
	at: number
}

export interface ConnectionSummary {
	id: number
	peer: string
	streamId: string
	connectedAt: number
	disconnectedAt: number | null
	rttMs: number
	packetsReceived: number
	packetsLost: number
	packetsDropped: number
	bytesReceived: number
	relayed: number
}

export interface StatsReport {
	at: number
	intervalMs: number
	lossRate: number
	/** the transport stream check of the interval, all connections summed (ETSI TR 101 290 priority 1) */
	ts: TsIntervalCounts
	/** why the interval's TS is degraded (`ts-errors: ...`), when content.tsErrors is configured and it is */
	tsCause: string | null
	connections: NativeConnStats[]
}

export interface SrtReceiverEvents {
	state: [SrtReceiverState]
	signal: [SignalObservation]
	connected: [{ id: number; peer: string; streamId: string; at: number }]
	disconnected: [{ id: number; peer: string; streamId: string; at: number; lastPacketAt: number | null }]
	rejected: [Rejection]
	stats: [StatsReport]
	/** a failed bind or connection; the receiver retries after delayMs */
	retrying: [{ error: Error; delayMs: number }]
}

export interface SrtReceiverOptions {
	/** reconnect/rebind backoff: first delay and cap, in ms (capped exponential, with jitter) */
	backoffMs?: { base: number; max: number }
	random?: () => number
	/** keep this many rejections and finished connections for probe and status */
	historyLimit?: number
}

const PENDING_HANDSHAKE_MS = 30_000

export class SrtReceiver extends EventEmitter<SrtReceiverEvents> {
	#state: SrtReceiverState = 'idle'
	#native: NativeReceiver | undefined
	#timer: NodeJS.Timeout | undefined
	#boundPort: number | null = null
	#unwatch: (() => void) | undefined
	readonly #log
	readonly #backoff: Backoff
	readonly #historyLimit

	// signal: the native thread's up/down, combined with the stats interval's loss rate
	#nativeSignal: 'none' | 'up' | 'down' = 'none'
	#nativeAt = 0
	#degraded = false
	#degradedAt = 0
	/** why the last stats interval was degraded (loss, ts-errors), or null */
	#degradedCause: string | null = null
	#lastTs: { at: number; counts: TsIntervalCounts; cause: string | null } | null = null
	#reported: SignalObservation | null = null
	#lastStatsAt: number | null = null
	#lastOkAt: number | null = null
	#realtime: boolean | null = null

	readonly #connections = new Map<number, ConnectionSummary>()
	readonly #finished: ConnectionSummary[] = []
	readonly #rejections: Rejection[] = []
	readonly #handshakes = new Map<number, { peer: string; streamId: string; at: number }>()

	constructor(
		/** secrets resolved by the caller */
		readonly config: ResolvedSrtDriver,
		private readonly ctx: DriverContext,
		options: SrtReceiverOptions = {},
	) {
		super()
		this.#log = ctx.log.child({ driver: 'srt', mode: config.mode, port: config.port })
		const { base, max } = options.backoffMs ?? { base: 500, max: 10_000 }
		this.#backoff = new Backoff({ initialMs: base, maxMs: max, ...(options.random ? { random: options.random } : {}) })
		this.#historyLimit = options.historyLimit ?? 100
	}

	get state(): SrtReceiverState {
		return this.#state
	}

	/** the bound UDP port (listener), once listening */
	get port(): number | null {
		return this.#boundPort
	}

	/** whether the native silence watchdog runs SCHED_FIFO (null until it started) */
	get realtimeWatchdog(): boolean | null {
		return this.#realtime
	}

	get signal(): SignalObservation | null {
		return this.#reported
	}

	/** the last stats interval's TS check (counts summed over connections) and its cause when degraded */
	get tsCheck(): { at: number; counts: TsIntervalCounts; cause: string | null } | null {
		return this.#lastTs
	}

	/** why the signal is degraded now (the last interval's loss or ts-errors), null when it is not */
	get degradedCause(): string | null {
		return this.#degraded ? this.#degradedCause : null
	}

	get freshness(): Freshness {
		const connected = this.#state === 'listening' || this.#state === 'connected'
		return { connected, stale: !connected && this.#lastOkAt !== null, lastOkAt: this.#lastOkAt }
	}

	get health(): Health {
		if (this.#state !== 'listening' && this.#state !== 'connected') return 'down'
		const s = this.#reported?.signal
		if (s === 'up') return 'ok'
		if (s === 'degraded') return 'degraded'
		if (s === 'down') return 'down'
		return 'unknown'
	}

	/** connections open now and those that ended (most recent last) */
	connections(): ConnectionSummary[] {
		return [...this.#finished, ...this.#connections.values()].map((c) => ({ ...c }))
	}

	rejections(): Rejection[] {
		return this.#rejections.map((r) => ({ ...r }))
	}

	/**
	 * Starts receiving. Resolves once the listener is bound (it is reachable from then on) or the caller's first
	 * attempt is under way; rejects if the listener cannot bind (and keeps retrying with backoff until stop()).
	 */
	async start(): Promise<void> {
		if (this.#state !== 'idle') throw new Error(`SrtReceiver.start(): already ${this.#state}`)
		// libsrt has one log handler per process: its lines carry no receiver context, so they go to the driver's root
		routeSrtLogs(this.ctx.log.child({ driver: 'srt' }))
		this.#unwatch = watchLoggedRejections((r) => this.#onLoggedRejection(r))
		await this.#open()
	}

	/** Stops for good: joins the native thread, closes every socket, clears the timer; withdraws the signal. */
	stop(): void {
		if (this.#state === 'stopped') return
		this.#clearTimer()
		this.#closeNative()
		this.#unwatch?.()
		this.#unwatch = undefined
		const now = monotonicMs()
		for (const id of [...this.#connections.keys()]) this.#finish(id, now)
		this.#setState('stopped')
		if (this.#reported && this.#reported.signal !== 'unknown')
			this.#report({ signal: 'unknown', at: now, detectedAt: now, cause: 'stopped' })
	}

	async #open(): Promise<void> {
		this.#setState('connecting')
		let options: NativeReceiverOptions
		try {
			options = await this.#nativeOptions()
		} catch (err) {
			// an unresolvable host name: named, retried (DNS may heal)
			const e = new Error(`SRT ${this.config.mode} on port ${this.config.port}: ${(err as Error).message}`, {
				cause: err,
			})
			this.#retry(e)
			throw e
		}
		if (this.#state !== 'connecting') return // stopped while resolving
		const native = new (loadSrtBinding().Receiver)(options, (e) => this.#onNative(native, e))
		try {
			const { port } = native.start()
			this.#native = native
			if (this.config.mode === 'listener') {
				this.#boundPort = port
				this.#backoff.reset()
				this.#setState('listening')
				this.#log.info({ port }, 'SRT listener bound')
			}
		} catch (err) {
			native.stop()
			const e = new Error(`SRT ${this.config.mode} ${options.host}:${options.port}: ${(err as Error).message}`, {
				cause: err,
			})
			this.#retry(e)
			throw e
		}
	}

	async #nativeOptions(): Promise<NativeReceiverOptions> {
		const c = this.config
		const host = c.mode === 'listener' ? await numeric(c.bind) : await numeric(c.host ?? '')
		const o: NativeReceiverOptions = {
			mode: c.mode,
			host,
			port: c.port,
			latencyMs: c.latencyMs,
			pbkeylen: c.pbkeylen,
			payloadSize: c.payloadSize,
			connectTimeoutMs: c.connectTimeoutMs,
			silenceMs: c.silenceMs,
			statsIntervalMs: c.statsIntervalMs,
		}
		if (c.streamId !== undefined) o.streamId = c.streamId
		if (c.passphrase !== undefined) o.passphrase = c.passphrase
		if (c.relayTo !== undefined) {
			const t = parseUdpUrl(c.relayTo)
			o.relayHost = await numeric(t.host)
			o.relayPort = t.port
		}
		return o
	}

	#retry(err: Error): void {
		this.#closeNative()
		if (this.#state === 'stopped') return
		const delay = this.#backoff.next()
		this.#log.warn({ err, delayMs: delay }, 'SRT receiver: retrying')
		this.emit('retrying', { error: err, delayMs: delay })
		this.#setState('backoff')
		this.#setTimer(delay, () => {
			this.#open().catch((e: unknown) => this.#log.debug({ err: e }, 'SRT receiver: attempt failed'))
		})
	}

	#onNative(native: NativeReceiver, e: NativeEvent): void {
		if (native !== this.#native) {
			// A late event of a receiver we already stopped: its sockets are closed, its news is stale.
			if (e.type !== 'closed') this.#log.debug({ event: e.type }, 'SRT: event after stop')
			return
		}
		switch (e.type) {
			case 'connected':
				this.#onConnected(e.id ?? 0, e.peer, e.streamId ?? '', e.at)
				break
			case 'disconnected': {
				const id = e.id ?? 0
				const final = e.connections?.[0]
				if (final) this.#applyTotals(final)
				const c = this.#connections.get(id)
				if (c) {
					c.packetsReceived = Math.max(c.packetsReceived, e.packets, e.arrived)
					c.bytesReceived = Math.max(c.bytesReceived, e.bytes)
					c.relayed = Math.max(c.relayed, e.relayed)
				}
				const last = e.lastPacketAt !== undefined && e.lastPacketAt >= 0 ? e.lastPacketAt : null
				this.#finish(id, e.at)
				this.#log.info({ peer: e.peer, streamId: e.streamId, reason: e.reasonText }, 'SRT connection closed')
				this.emit('disconnected', { id, peer: e.peer, streamId: e.streamId ?? '', at: e.at, lastPacketAt: last })
				break
			}
			case 'rejected':
				this.#reject({
					peer: e.peer,
					streamId: e.streamId ?? '',
					reason: rejectReasonName(e.reasonCode),
					code: e.reasonCode,
					text: e.reasonText,
					at: e.at,
				})
				break
			case 'handshake': {
				this.#handshakes.set(e.id, { peer: e.peer, streamId: e.streamId, at: e.at })
				const early = takeLoggedRejection(e.id)
				if (early) this.#onLoggedRejection(early)
				break
			}
			case 'signal':
				this.#nativeSignal = e.signal
				this.#nativeAt = e.at
				if (e.signal === 'up') this.#lastOkAt = e.at
				this.#evaluate(e.detectedAt, e.cause)
				break
			case 'stats':
				// the host stood still (native stall.h: steal, starvation): that time was not counted as silence
				if (e.stalledMs >= this.config.silenceMs) this.#log.warn({ stalledMs: e.stalledMs }, 'SRT: host stalled')
				this.#onStats(e.at, e.intervalMs, e.connections)
				break
			case 'closed': // the caller's connection ended (or was refused): reconnect after backoff
				if (this.config.mode === 'caller' && this.#state !== 'stopped')
					this.#retry(new Error(`SRT caller ${this.config.host}:${this.config.port}: connection closed`))
				break
			case 'watchdog':
				this.#realtime = e.realtime === 1
				if (!this.#realtime) this.#log.info('SRT watchdog runs without real-time priority (grant LimitRTPRIO=1)')
				break
			case 'error':
				this.#log.error({ message: e.message }, 'SRT receiver error')
				break
		}
	}

	#onConnected(id: number, peer: string, streamId: string, at: number): void {
		this.#handshakes.delete(id)
		this.#connections.set(id, {
			id,
			peer,
			streamId,
			connectedAt: at,
			disconnectedAt: null,
			rttMs: 0,
			packetsReceived: 0,
			packetsLost: 0,
			packetsDropped: 0,
			bytesReceived: 0,
			relayed: 0,
		})
		if (this.config.mode === 'caller') {
			this.#backoff.reset()
			this.#setState('connected')
		}
		this.#log.info({ peer, streamId }, 'SRT connection established')
		this.emit('connected', { id, peer, streamId, at })
	}

	#finish(id: number, at: number): void {
		const c = this.#connections.get(id)
		if (!c) return
		this.#connections.delete(id)
		c.disconnectedAt = at
		this.#finished.push(c)
		if (this.#finished.length > this.#historyLimit) this.#finished.shift()
	}

	#applyTotals(s: NativeConnStats): void {
		const c = this.#connections.get(s.id)
		if (!c) return
		// totals never go back: a closing socket's figures may be partial
		if (s.rttMs > 0) c.rttMs = s.rttMs
		c.packetsReceived = Math.max(c.packetsReceived, s.pktRecvTotal)
		c.packetsLost = Math.max(c.packetsLost, s.pktRcvLossTotal)
		c.packetsDropped = Math.max(c.packetsDropped, s.pktRcvDropTotal)
		c.bytesReceived = Math.max(c.bytesReceived, s.byteRecvTotal)
		c.relayed = Math.max(c.relayed, s.relayed)
	}

	#onStats(at: number, intervalMs: number, conns: NativeConnStats[]): void {
		for (const s of conns) this.#applyTotals(s)
		const start = this.#lastStatsAt ?? at - intervalMs
		this.#lastStatsAt = at
		const lossRate = intervalLossRate(conns)
		if (conns.some((c) => c.pktRecv > 0)) this.#lastOkAt = at
		const ts = sumTsCounts(conns)
		const tsRule = this.config.content?.tsErrors
		const tsCause = tsRule ? tsErrorCause(ts, tsRule.rate) : null
		if (conns.length > 0) this.#lastTs = { at, counts: ts, cause: tsCause }
		const causes: string[] = []
		if (lossRate > this.config.lossRate) causes.push(`loss ${(lossRate * 100).toFixed(2)}%`)
		if (tsCause !== null) causes.push(tsCause)
		const degraded = causes.length > 0
		const was = this.#degradedCause
		this.#degradedCause = degraded ? causes.join('; ') : null
		if (degraded !== this.#degraded) {
			this.#degraded = degraded
			// The interval's loss or TS errors could have begun at its start: that is when degradation is dated (and
			// when a clean interval began, for the return to up).
			this.#degradedAt = start
			const cleared = `${was?.startsWith('ts-errors') ? 'ts-errors' : 'loss'} cleared`
			this.#evaluate(at, degraded ? causes.join('; ') : cleared)
		}
		const now = monotonicMs()
		for (const [id, h] of this.#handshakes) if (now - h.at > PENDING_HANDSHAKE_MS) this.#handshakes.delete(id)
		this.emit('stats', { at, intervalMs, lossRate, ts, tsCause, connections: conns })
	}

	#evaluate(detectedAt: number, cause: string): void {
		let obs: SignalObservation
		if (this.#nativeSignal === 'none') return // never received: no signal to report
		if (this.#nativeSignal === 'down') obs = { signal: 'down', at: this.#nativeAt, detectedAt, cause }
		else if (this.#degraded)
			obs = { signal: 'degraded', at: Math.max(this.#degradedAt, this.#nativeAt), detectedAt, cause }
		else obs = { signal: 'up', at: Math.max(this.#nativeAt, this.#degradedAt), detectedAt, cause }
		if (this.#reported?.signal === obs.signal) return // repeating a report changes nothing (docs/contract.md §4)
		this.#report(obs)
	}

	#report(obs: SignalObservation): void {
		this.#reported = obs
		this.#log.info({ signal: obs.signal, at: obs.at, cause: obs.cause }, 'SRT signal')
		this.emit('signal', obs)
	}

	#reject(r: Rejection): void {
		this.#rejections.push(r)
		if (this.#rejections.length > this.#historyLimit) this.#rejections.shift()
		this.#log.warn({ peer: r.peer, streamId: r.streamId, reason: r.reason }, 'SRT connection rejected')
		this.emit('rejected', r)
	}

	#onLoggedRejection(r: LoggedRejection): void {
		const h = this.#handshakes.get(r.socketId)
		if (!h) return // another receiver's socket, or its handshake event is still on its way
		this.#handshakes.delete(r.socketId)
		takeLoggedRejection(r.socketId)
		this.#reject({
			peer: h.peer,
			streamId: h.streamId,
			reason: rejectReasonName(r.reasonCode),
			code: r.reasonCode,
			text: loadSrtBinding().rejectReasonText(r.reasonCode),
			at: r.at,
		})
	}

	#closeNative(): void {
		const n = this.#native
		this.#native = undefined
		for (const s of n?.stop() ?? []) this.#applyTotals(s)
		this.#boundPort = null
	}

	#setState(s: SrtReceiverState): void {
		if (this.#state === s) return
		this.#state = s
		this.emit('state', s)
	}

	#setTimer(ms: number, fn: () => void): void {
		this.#clearTimer()
		this.#timer = setTimeout(() => {
			this.#timer = undefined
			fn()
		}, ms)
	}

	#clearTimer(): void {
		if (this.#timer) clearTimeout(this.#timer)
		this.#timer = undefined
	}
}

/** A numeric address for the native side; names are resolved here, once per (re)connect. */
async function numeric(host: string): Promise<string> {
	if (host === '') throw new Error('no host given')
	if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) return host.replace(/^\[|\]$/g, '')
	const { address } = await lookup(host)
	return address
}
