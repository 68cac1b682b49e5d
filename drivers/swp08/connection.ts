// A Probel SW-P-08 router over TCP or RS-422 serial: stop-and-wait transmission with ACK/NAK and resend, the tally
// dump on every (re)connect, an interrogate keep-alive, and takes confirmed by the router's tally, on top of the
// shared router core. SW-P-08 has no lock vocabulary in the commands this driver speaks (01-04, 21-23 and their
// extended forms): locks are not reported, and a protected destination shows as a refused take.
import type { Logger } from 'pino'
import { RouterCore } from '../router/core.ts'
import { Link, serialOpener, tcpOpener, type SerialTarget, type TcpTarget, type WireOpener } from '../router/link.ts'
import { fromWire, toWire } from '../router/ports.ts'
import type { Crosspoint, LinkState, RouterSize } from '../router/types.ts'
import {
	ACK_BYTES,
	encodeFrame,
	MAX_EXTENDED_NUMBER,
	MAX_GENERAL_NUMBER,
	NAK_BYTES,
	Swp08Decoder,
	type Swp08Message,
} from './codec.ts'

export interface Swp08Options {
	deviceId: string
	transport: { tcp: TcpTarget } | { serial: SerialTarget } | { opener: WireOpener }
	/** wire matrix and level (0-based, docs/contract.md §2) */
	matrix: number
	level: number
	log: Logger
	size?: RouterSize | undefined
	takeTimeoutMs?: number
	/** interrogate every this many ms while idle (keep-alive) */
	keepAliveMs?: number
	/** SW-P-08 §2: resend when no ACK within this time (1 s) */
	ackTimeoutMs?: number
	/** SW-P-08 §2: resend at most this many times (5) */
	maxResends?: number
	staleAfterMs?: number
	/** without a configured size, the tally dump is complete after this long with no more dump messages */
	dumpQuietMs?: number
	connectTimeoutMs?: number
	backoffInitialMs?: number
	backoffMaxMs?: number
}

interface Outgoing {
	message: Swp08Message
	bytes: Buffer
	sends: number
	/** the take this message carries (1-based output), if any */
	output?: number
	onAck: () => void
	onFail: (code: 'nak' | 'timeout', message: string) => void
}

export class Swp08Router extends RouterCore {
	readonly driver = 'swp08' as const
	protected readonly locksReported = false
	protected override readonly timeoutFromTransmit = true
	/** the extended form's 16-bit numbers are the most SW-P-08 can carry: a port past them is refused before sending */
	static readonly PORT_LIMIT = { protocol: 'SW-P-08', ports: fromWire(MAX_EXTENDED_NUMBER) } as const
	protected override readonly protocolLimit = Swp08Router.PORT_LIMIT
	readonly #link: Link
	readonly #matrix: number
	readonly #level: number
	readonly #ackTimeoutMs: number
	readonly #maxResends: number
	readonly #keepAliveMs: number
	readonly #dumpQuietMs: number
	#decoder = new Swp08Decoder()
	/** bytes collected while a read is handled (see #write) */
	#corked: Buffer[] | null = null
	#queue: Outgoing[] = []
	#inFlight: Outgoing | null = null
	#seen = new Set<number>()
	#dumpFrames = 0
	/** reading the tally one interrogate at a time (a router without tally dump) */
	#interrogating = false
	/** frames resent after a NAK or an ACK timeout (for tests and metrics) */
	resends = 0
	/** NAKs received from the router */
	naks = 0
	/** bad frames received and answered with NAK */
	badFrames = 0

	constructor(options: Swp08Options) {
		const keepAlive = options.keepAliveMs ?? 2000
		super({
			deviceId: options.deviceId,
			log: options.log,
			size: options.size,
			takeTimeoutMs: options.takeTimeoutMs ?? 2000,
			staleAfterMs: options.staleAfterMs ?? keepAlive * 2.5,
		})
		this.#matrix = options.matrix
		this.#level = options.level
		this.#ackTimeoutMs = options.ackTimeoutMs ?? 1000
		this.#maxResends = options.maxResends ?? 5
		this.#keepAliveMs = keepAlive
		this.#dumpQuietMs = options.dumpQuietMs ?? 300
		const t = options.transport
		const open = 'tcp' in t ? tcpOpener(t.tcp) : 'serial' in t ? serialOpener(t.serial) : t.opener
		this.#link = new Link({
			open,
			log: options.log,
			...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
			...(options.backoffInitialMs !== undefined ? { backoffInitialMs: options.backoffInitialMs } : {}),
			...(options.backoffMaxMs !== undefined ? { backoffMaxMs: options.backoffMaxMs } : {}),
		})
		this.#link.on('state', (state, reason) => this.#onState(state, reason))
		this.#link.on('data', (bytes) => this.#onData(bytes))
	}

	get timerCount(): number {
		return this.timers.size + this.#link.timerCount
	}

	protected override refusesOnContraryTally(): boolean {
		// §3.2/§3.4: the router answers a connect with the crosspoint it now holds; after our connect was
		// acknowledged, a tally showing another source means the router did not (or could not) make it.
		return true
	}

	protected open(): void {
		this.#link.start()
	}

	protected close(): Promise<void> {
		return this.#link.stop()
	}

	/** the extended form is needed past 1024 ports, or for matrix/level numbers past 15 */
	#extended(...numbers: number[]): boolean {
		const size = this.size()
		const general = fromWire(MAX_GENERAL_NUMBER)
		return (
			this.#matrix > 15 ||
			this.#level > 15 ||
			(size !== null && (size.inputs > general || size.outputs > general)) ||
			numbers.some((n) => n > MAX_GENERAL_NUMBER)
		)
	}

	protected sendTakes(takes: readonly Crosspoint[]): void {
		for (const t of takes) {
			const dest = toWire(t.output)
			const src = toWire(t.input)
			this.#enqueue(
				{ cmd: 'connect', matrix: this.#matrix, level: this.#level, extended: this.#extended(dest, src), dest, src },
				() => this.onTakesAccepted([t.output]),
				(code, message) => this.onTakesRefused([t.output], code, message),
				t.output,
			)
		}
	}

	protected sendLock(): void {
		// unreachable: the core refuses lock requests when locksReported is false
	}

	#enqueue(message: Swp08Message, onAck: () => void, onFail: Outgoing['onFail'], output?: number): void {
		this.#queue.push({
			message,
			bytes: encodeFrame(message),
			sends: 0,
			onAck,
			onFail,
			...(output !== undefined ? { output } : {}),
		})
		this.#pump()
	}

	/** SW-P-08 §2: one message at a time; the next goes once the last is ACKed (an ACK names no message). */
	#pump(): void {
		if (this.#inFlight || this.linkState !== 'connected') return
		const next = this.#queue.shift()
		if (!next) return
		this.#inFlight = next
		this.#transmit(next)
	}

	#transmit(o: Outgoing): void {
		o.sends++
		if (!this.#write(o.bytes)) return
		if (o.sends === 1 && o.output !== undefined) this.onTakeTransmitted(o.output)
		this.timers.set('ack', this.#ackTimeoutMs, () => this.#resend(false))
	}

	#resend(afterNak: boolean): void {
		const o = this.#inFlight
		if (!o) return
		if (o.sends > this.#maxResends) {
			this.#inFlight = null
			this.timers.clear('ack')
			const why = afterNak ? 'NAKed' : 'not acknowledged'
			o.onFail(
				afterNak ? 'nak' : 'timeout',
				`router ${this.deviceId} ${why} the ${o.message.cmd} after ${o.sends} sends`,
			)
			if (!afterNak) {
				// silence through every resend: the peer is gone even if the socket or port is still open
				this.#link.drop(`no ACK to ${o.sends} sends`)
				return
			}
			this.#pump()
			return
		}
		this.resends++
		this.#transmit(o)
	}

	#onState(state: LinkState, reason: string | undefined): void {
		this.#decoder = new Swp08Decoder()
		this.#queue = []
		this.#inFlight = null
		this.#seen = new Set()
		this.#dumpFrames = 0
		this.#interrogating = false
		this.timers.clear('ack')
		this.timers.clear('keepalive')
		this.timers.clear('dump-quiet')
		this.onLinkState(state, reason)
		if (state !== 'connected') return
		// Read the router's real state before anything else (habit 4): the whole tally of our matrix and level.
		const extended = this.#extended()
		this.#enqueue(
			{ cmd: 'tally-dump-request', matrix: this.#matrix, level: this.#level, extended },
			// A router that ACKs the request but has no tally dump (not every SW-P-08 implementation has 21-23)
			// is read one destination at a time instead, when the config gives its size.
			() => this.timers.set('dump-quiet', this.#dumpQuietMs, () => this.#interrogateAll()),
			(_code, message) => this.log.warn({ device: this.deviceId, message }, 'tally dump request failed'),
		)
		this.timers.every('keepalive', this.#keepAliveMs, () => this.#keepAlive())
	}

	#keepAlive(): void {
		if (this.#inFlight || this.#queue.length > 0) return // traffic is its own keep-alive
		this.#enqueue(
			{ cmd: 'interrogate', matrix: this.#matrix, level: this.#level, extended: this.#extended(), dest: 0 },
			() => undefined,
			() => undefined, // a failed keep-alive drops the link in #resend; nothing else waits on it
		)
	}

	/**
	 * Writes, or while one read is being handled collects, bytes for the link: the ACK of a CONNECTED and the next
	 * connect of a salvo then leave in one write (one syscall, one segment) instead of two.
	 */
	#write(bytes: Buffer): boolean {
		if (this.#corked) {
			this.#corked.push(bytes)
			return this.linkState === 'connected'
		}
		return this.#link.write(bytes)
	}

	#onData(bytes: Buffer): void {
		const out: Buffer[] = []
		this.#corked = out
		try {
			this.#onEvents(bytes)
		} finally {
			this.#corked = null
			if (out.length > 0) this.#link.write(out.length === 1 ? out[0]! : Buffer.concat(out))
		}
	}

	#onEvents(bytes: Buffer): void {
		for (const e of this.#decoder.push(bytes)) {
			switch (e.type) {
				case 'ack': {
					this.markOk()
					const o = this.#inFlight
					if (!o) break
					this.#inFlight = null
					this.timers.clear('ack')
					o.onAck()
					this.#pump()
					break
				}
				case 'nak':
					this.naks++
					this.markOk()
					this.#resend(true)
					break
				case 'bad':
					this.badFrames++
					this.#write(NAK_BYTES)
					break
				case 'frame':
					this.#write(ACK_BYTES)
					this.markOk()
					this.#onMessage(e.message)
					break
			}
		}
	}

	#onMessage(m: Swp08Message): void {
		if (m.cmd === 'unknown' || m.matrix !== this.#matrix || m.level !== this.#level) return
		switch (m.cmd) {
			case 'tally':
			case 'connected':
				if (!this.synced) this.#seen.add(fromWire(m.dest))
				this.onTally(fromWire(m.dest), fromWire(m.src))
				if (!this.synced && this.#interrogating) this.#checkSynced()
				return
			case 'tally-dump-byte':
			case 'tally-dump-word':
				m.sources.forEach((src, i) => {
					const output = fromWire(m.firstDest + i)
					this.#seen.add(output)
					this.onTally(output, fromWire(src))
				})
				this.#dumpFrames++
				this.#checkSynced()
				return
			default:
				return // a controller's messages (interrogate, connect, dump request) are not for us
		}
	}

	#interrogateAll(): void {
		if (this.synced || this.#dumpFrames > 0) return
		const outputs = this.size()?.outputs
		if (outputs === undefined) {
			this.log.warn(
				{ device: this.deviceId },
				'router sent no tally dump and the config gives no size: cannot read its tally (add size to the device)',
			)
			return
		}
		this.log.info({ device: this.deviceId, outputs }, 'router sent no tally dump: interrogating each destination')
		this.#interrogating = true
		for (let output = 1; output <= outputs; output++) {
			if (this.#seen.has(output)) continue
			const dest = toWire(output)
			this.#enqueue(
				{ cmd: 'interrogate', matrix: this.#matrix, level: this.#level, extended: this.#extended(dest), dest },
				() => undefined,
				() => undefined, // a failed interrogate drops the link (#resend); the next connect starts over
			)
		}
	}

	#checkSynced(): void {
		if (this.synced) return
		const outputs = this.size()?.outputs
		if (outputs !== undefined && this.#seen.size >= outputs) {
			this.timers.clear('dump-quiet')
			this.onSynced()
			return
		}
		if (this.#interrogating) return // synced when every destination has answered
		// No size to count against (or the router is smaller than configured): the dump ends when it goes quiet.
		this.timers.set('dump-quiet', this.#dumpQuietMs, () => {
			if (this.#dumpFrames > 0) this.onSynced()
		})
	}
}
