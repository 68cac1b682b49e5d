// The SRT sender simulator (for the tests and `sigpath lab`): our binding sends synthetic MPEG-TS (codec.ts
// fillTsPackets: valid 188-byte packets, 7 per datagram) at a set bitrate, as a caller or as a listener that
// callers (srt-live-transmit, ffmpeg, our receiver) connect to. It can be paused (silence, connection kept), cut
// (socket closed) or made lossy (an impairment relay in its path).
//
// Pacing is native (a thread sleeping to absolute CLOCK_MONOTONIC deadlines): at 50 Mbit/s a datagram leaves
// every 210 us, far finer than a JS timer (1 ms granularity, and event-loop jitter) could hold without bursts.
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { UdpImpairment } from './impair.ts'
import { rejectReasonName } from './codec.ts'
import { loadSrtBinding, type NativeEvent, type NativeSender, type NativeSenderCounters } from './native.ts'

export interface SrtSimOptions {
	mode: 'caller' | 'listener'
	/** caller: the receiver's address; listener: where to bind (numeric, loopback in tests and the lab) */
	host: string
	/** caller: the receiver's port; listener: ours (0 = any free port) */
	port: number
	/** TS bit rate in bits per second (default 5 Mbit/s) */
	bitrate?: number
	latencyMs?: number
	streamId?: string
	passphrase?: string
	pbkeylen?: 16 | 24 | 32
	/** bytes per datagram, a multiple of 188 (default 1316 = 7 TS packets) */
	payloadSize?: number
	connectTimeoutMs?: number
	pid?: number
	/** send a PAT and a PMT besides the payload PID (without, a receiver checking TS content finds the PAT missing) */
	psi?: boolean
	/** put an impairment relay in the path with this initial loss rate, so setLossRate() works later */
	lossRate?: number
	log?: Logger
}

export type SrtSimState = 'idle' | 'running' | 'paused' | 'cut' | 'stopped'

export interface SrtSimEvents {
	connected: [{ peer: string; at: number }]
	disconnected: [{ peer: string; cause: string; at: number }]
	rejected: [{ peer: string; reason: string; code: number; text: string; at: number }]
	/** the native sender ended (caller: refused, or its connection closed) */
	closed: [{ at: number }]
}

export class SrtSim extends EventEmitter<SrtSimEvents> {
	#native: NativeSender | undefined
	#relay: UdpImpairment | undefined
	#whenClosed: (() => void) | undefined
	#state: SrtSimState = 'idle'
	#port = 0

	constructor(readonly options: SrtSimOptions) {
		super()
	}

	get state(): SrtSimState {
		return this.#state
	}

	/** the port callers reach us on (listener mode; the relay's port when lossy) */
	get port(): number {
		return this.#port
	}

	/** Starts sending (caller: connects; listener: binds, then sends to whoever connects). */
	async start(): Promise<{ port: number }> {
		if (this.#state !== 'idle') throw new Error(`SrtSim.start(): already ${this.#state}`)
		const o = this.options
		const lossy = o.lossRate !== undefined
		let host = o.host
		let port = o.port
		if (lossy && o.mode === 'caller') {
			this.#relay = new UdpImpairment({ targetHost: o.host, targetPort: o.port, lossRate: o.lossRate ?? 0 })
			port = (await this.#relay.start()).port
			host = '127.0.0.1'
		} else if (lossy) {
			host = '127.0.0.1'
			port = 0
		}
		const b = loadSrtBinding()
		const native = new b.Sender(
			{
				mode: o.mode,
				host,
				port,
				latencyMs: o.latencyMs ?? 120,
				...(o.streamId !== undefined ? { streamId: o.streamId } : {}),
				...(o.passphrase !== undefined ? { passphrase: o.passphrase, pbkeylen: o.pbkeylen ?? 16 } : {}),
				payloadSize: o.payloadSize ?? 1316,
				connectTimeoutMs: o.connectTimeoutMs ?? 3000,
				bitrate: o.bitrate ?? 5_000_000,
				...(o.pid !== undefined ? { pid: o.pid } : {}),
				...(o.psi !== undefined ? { psi: o.psi } : {}),
			},
			(e) => this.#onNative(e),
		)
		const started = native.start()
		this.#native = native
		this.#state = 'running'
		this.#port = started.port
		if (lossy && o.mode === 'listener') {
			this.#relay = new UdpImpairment({
				listenHost: o.host,
				listenPort: o.port,
				targetHost: '127.0.0.1',
				targetPort: started.port,
				lossRate: o.lossRate ?? 0,
			})
			this.#port = (await this.#relay.start()).port
		}
		o.log?.info({ mode: o.mode, port: this.#port, bitrate: o.bitrate }, 'SRT sim started')
		return { port: this.#port }
	}

	#onNative(e: NativeEvent): void {
		switch (e.type) {
			case 'connected':
				this.emit('connected', { peer: e.peer, at: e.at })
				break
			case 'disconnected':
				this.emit('disconnected', { peer: e.peer, cause: e.cause, at: e.at })
				break
			case 'rejected':
				this.emit('rejected', {
					peer: e.peer,
					reason: rejectReasonName(e.reasonCode),
					code: e.reasonCode,
					text: e.reasonText,
					at: e.at,
				})
				break
			case 'closed':
				this.#whenClosed?.()
				this.emit('closed', { at: e.at })
				break
			case 'error':
				this.options.log?.error({ message: e.message }, 'SRT sim error')
				break
			default:
				break
		}
	}

	/** Stops sending; the SRT connection stays up (keepalives only): the receiver sees silence. */
	pause(): void {
		if (this.#state !== 'running') throw new Error(`SrtSim.pause(): ${this.#state}`)
		this.#native?.setPaused(true)
		this.#state = 'paused'
	}

	resume(): void {
		if (this.#state !== 'paused') throw new Error(`SrtSim.resume(): ${this.#state}`)
		this.#native?.setPaused(false)
		this.#state = 'running'
	}

	/** Closes the SRT socket at once (the peer gets SRT's shutdown); the relay, if any, goes too. */
	async cut(): Promise<void> {
		const native = this.#native
		this.#native = undefined
		// the send thread wakes from its pacing sleep and closes the socket in a few ms: waited for here without
		// holding the event loop (a daemon under test shares this process), then joined at once
		if (native && !native.stop()) {
			const closed = new Promise<void>((resolve) => {
				this.#whenClosed = resolve
			})
			let timer: NodeJS.Timeout | undefined
			await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))])
			clearTimeout(timer)
			this.#whenClosed = undefined
		}
		native?.stop(true)
		await this.#relay?.stop()
		this.#relay = undefined
		if (this.#state !== 'stopped') this.#state = 'cut'
	}

	/** Needs the sim to have been started with `lossRate` (the relay in its path). */
	setLossRate(rate: number): void {
		if (!this.#relay) throw new Error('SrtSim.setLossRate(): start the sim with a lossRate to put a relay in its path')
		this.#relay.setLossRate(rate)
	}

	setBitrate(bps: number): void {
		this.#native?.setBitrate(bps)
	}

	/** Skips one continuity_counter value every `n` payload packets from now on (0: a clean stream again). */
	setCcErrors(n: number): void {
		this.#native?.setCcErrors(n)
	}

	/** what was sent (datagrams, TS packets, lastSentAt on the monotonic clock) and libsrt's sender totals */
	counters(): NativeSenderCounters | null {
		return this.#native?.counters() ?? null
	}

	/** Stops for good: joins the native thread, closes the socket and the relay. */
	async stop(): Promise<void> {
		await this.cut()
		this.#state = 'stopped'
	}
}
