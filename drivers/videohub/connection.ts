// A Videohub router over TCP (default port 9990): the link, the PING keep-alive, the sync on every (re)connect and
// the take/lock requests, on top of the shared router core. Manual references are to the Videohub Ethernet
// Protocol v2.3 ("Developer Information").
import type { Logger } from 'pino'
import { RouterCore } from '../router/core.ts'
import { Link, tcpOpener, type WireOpener } from '../router/link.ts'
import { fromWire, toWire } from '../router/ports.ts'
import type { Crosspoint, LinkState, LockState, RouterSize } from '../router/types.ts'
import { encodeBlock, encodeDumpRequest, VideohubDecoder, type Block, type LockChar } from './codec.ts'

export interface VideohubOptions {
	deviceId: string
	host: string
	port: number
	log: Logger
	size?: RouterSize | undefined
	takeTimeoutMs?: number
	/** PING every this many ms while connected (manual, "Checking the Connection") */
	pingIntervalMs?: number
	/** the link is dropped after this many PING intervals with nothing heard */
	missedPings?: number
	staleAfterMs?: number
	connectTimeoutMs?: number
	backoffInitialMs?: number
	backoffMaxMs?: number
	/** for tests: another way to open the byte stream */
	opener?: WireOpener
}

/** What an ACK or NAK answers: the manual has the server answer every block, in order, with one ACK or NAK. */
type Sent =
	{ kind: 'takes'; outputs: number[] } | { kind: 'lock'; output: number } | { kind: 'ping' } | { kind: 'dump' }

const LOCK: Record<LockChar, LockState> = { O: 'ours', L: 'theirs', U: 'unlocked', F: 'unlocked' }

export class VideohubRouter extends RouterCore {
	readonly driver = 'videohub' as const
	protected readonly locksReported = true
	readonly #link: Link
	#decoder = new VideohubDecoder()
	/** requests waiting for their ACK/NAK, oldest first */
	#sent: Sent[] = []
	readonly #pingIntervalMs: number
	readonly #missedPings: number
	#silentPings = 0
	/** this session's coverage: outputs whose routing / lock the router has reported since the connect */
	#seenRouting = new Set<number>()
	#seenLocks = new Set<number>()
	#devicePresent = false
	#dumpRequested = false

	constructor(options: VideohubOptions) {
		const ping = options.pingIntervalMs ?? 2000
		super({
			deviceId: options.deviceId,
			log: options.log,
			size: options.size,
			takeTimeoutMs: options.takeTimeoutMs ?? 2000,
			staleAfterMs: options.staleAfterMs ?? ping * 2.5,
		})
		this.#pingIntervalMs = ping
		this.#missedPings = options.missedPings ?? 3
		this.#link = new Link({
			open: options.opener ?? tcpOpener({ host: options.host, port: options.port }),
			log: options.log,
			...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
			...(options.backoffInitialMs !== undefined ? { backoffInitialMs: options.backoffInitialMs } : {}),
			...(options.backoffMaxMs !== undefined ? { backoffMaxMs: options.backoffMaxMs } : {}),
		})
		this.#link.on('state', (state, reason) => this.#onState(state, reason))
		this.#link.on('data', (bytes) => this.#onData(bytes))
	}

	/** timers held by the link and the router (0 after stop) */
	get timerCount(): number {
		return this.timers.size + this.#link.timerCount
	}

	protected open(): void {
		this.#link.start()
	}

	protected close(): Promise<void> {
		return this.#link.stop()
	}

	protected sendTakes(takes: readonly Crosspoint[]): void {
		// Manual, "Requesting Changes": send a block of the form the server sends; a salvo is one block, one ACK.
		this.#send(
			{
				kind: 'routing',
				target: 'video',
				entries: takes.map((t) => ({ output: toWire(t.output), input: toWire(t.input) })),
			},
			{ kind: 'takes', outputs: takes.map((t) => t.output) },
		)
	}

	protected sendLock(output: number, lock: boolean): void {
		// Manual: "O" to lock, "U" to unlock our own. "F" (force) is never sent: sigpath does not break others' locks.
		this.#send(
			{ kind: 'locks', target: 'video', entries: [{ port: toWire(output), lock: lock ? 'O' : 'U' }] },
			{ kind: 'lock', output },
		)
	}

	#send(block: Block, sent: Sent): void {
		if (this.#link.write(Buffer.from(encodeBlock(block), 'utf8'))) {
			this.#sent.push(sent)
			return
		}
		if (sent.kind === 'takes') this.onTakesRefused(sent.outputs, 'disconnected', `router ${this.deviceId} link is down`)
		if (sent.kind === 'lock') this.onLockRefused(sent.output, `router ${this.deviceId} link is down`)
	}

	#sendDumpRequest(header: string): void {
		if (this.#link.write(Buffer.from(encodeDumpRequest(header), 'utf8'))) this.#sent.push({ kind: 'dump' })
	}

	#onState(state: LinkState, reason: string | undefined): void {
		// A new session starts from nothing: the router's dump is the only source of truth (habit 4).
		this.#decoder = new VideohubDecoder()
		this.#sent = []
		this.#seenRouting = new Set()
		this.#seenLocks = new Set()
		this.#devicePresent = false
		this.#dumpRequested = false
		this.#silentPings = 0
		this.timers.clear('ping')
		this.onLinkState(state, reason)
		if (state === 'connected') this.timers.every('ping', this.#pingIntervalMs, () => this.#ping())
	}

	#ping(): void {
		if (this.#silentPings >= this.#missedPings) {
			this.log.warn({ device: this.deviceId }, 'Videohub silent: dropping the link')
			this.#link.drop(`no answer to ${this.#missedPings} PINGs`)
			return
		}
		this.#silentPings++
		if (this.#link.write(Buffer.from(encodeBlock({ kind: 'ping' }), 'utf8'))) this.#sent.push({ kind: 'ping' })
	}

	#onData(bytes: Buffer): void {
		for (const block of this.#decoder.push(bytes)) {
			this.#silentPings = 0
			this.markOk()
			this.#onBlock(block)
		}
	}

	#onBlock(block: Block): void {
		switch (block.kind) {
			case 'ack': {
				const sent = this.#sent.shift()
				if (sent?.kind === 'takes') this.onTakesAccepted(sent.outputs)
				return
			}
			case 'nak': {
				const sent = this.#sent.shift()
				if (sent?.kind === 'takes') this.onTakesRefused(sent.outputs, 'nak', `router ${this.deviceId} answered NAK`)
				else if (sent?.kind === 'lock')
					this.onLockRefused(sent.output, `router ${this.deviceId} answered NAK to the lock request`)
				return
			}
			case 'preamble':
				this.protocolVersion = block.version
				return
			case 'device':
				return this.#onDevice(block.device)
			case 'labels':
				if (block.target === 'input' || block.target === 'output')
					for (const e of block.entries) this.onLabel(block.target, fromWire(e.port), e.label)
				return
			case 'routing':
				if (block.target !== 'video') return
				for (const e of block.entries) {
					const output = fromWire(e.output)
					this.#seenRouting.add(output)
					this.onTally(output, fromWire(e.input))
				}
				return this.#checkSynced()
			case 'locks':
				if (block.target !== 'video') return
				for (const e of block.entries) {
					const output = fromWire(e.port)
					this.#seenLocks.add(output)
					this.onLock(output, LOCK[e.lock])
				}
				return this.#checkSynced()
			case 'status':
				if (block.target === 'video-input')
					for (const e of block.entries) this.onInputStatus(fromWire(e.port), e.status)
				return
			case 'end-prelude':
				return this.#checkSynced()
			default:
				// serial ports, monitoring outputs, processing units, frame buffers, alarms, configuration and unknown
				// blocks: decoded, not needed for video routing.
				return
		}
	}

	#onDevice(d: { present: string; model?: string; videoInputs?: number; videoOutputs?: number }): void {
		// Manual, "Device Information": when the server detects a new router it resends every block but the
		// preamble. A different router (or none) under a synced session: start the session over, so the tally, the
		// locks and any take in flight are judged against the router actually there.
		const size =
			d.videoInputs !== undefined && d.videoOutputs !== undefined ? `${d.videoInputs}x${d.videoOutputs}` : null
		const known = this.reportedSize ? `${this.reportedSize.inputs}x${this.reportedSize.outputs}` : null
		if (this.synced && (d.present !== 'true' || size !== known)) {
			this.log.warn({ device: this.deviceId, present: d.present, size }, 'Videohub server reports another router')
			this.#link.drop(
				`the Videohub server now reports ${d.present === 'true' ? `a ${size} router` : 'no usable router'}`,
			)
			return
		}
		// Manual, "Device Information": with no device (or firmware needing an update) nothing else follows.
		this.#devicePresent = d.present === 'true'
		if (d.model !== undefined) this.model = d.model
		this.deviceProblem = this.#devicePresent
			? null
			: d.present === 'false'
				? 'the Videohub server reports no router connected'
				: `the Videohub server reports the router present as "${d.present}" (firmware update needed)`
		if (!this.#devicePresent) {
			this.log.warn({ device: this.deviceId, present: d.present }, 'Videohub server reports no usable router')
			return
		}
		if (d.videoInputs !== undefined && d.videoOutputs !== undefined)
			this.reportedSize = { inputs: d.videoInputs, outputs: d.videoOutputs }
		if (!this.#dumpRequested) {
			// Ask for the two blocks the sync needs, whatever this model sends in its prelude: reads only.
			this.#dumpRequested = true
			this.#sendDumpRequest('VIDEO OUTPUT LOCKS')
			this.#sendDumpRequest('VIDEO OUTPUT ROUTING')
		}
	}

	#checkSynced(): void {
		if (this.synced || !this.#devicePresent) return
		const outputs = this.size()?.outputs
		if (outputs === undefined) return
		if (this.#seenRouting.size >= outputs && this.#seenLocks.size >= outputs) this.onSynced()
	}
}
