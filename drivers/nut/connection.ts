// The TCP connection to upsd: explicit states, one request at a time in order (net-protocol.txt has no tags:
// replies come in request order), each request with a timeout, reconnect with capped exponential backoff and
// jitter. A request settles on upsd's reply and rejects on disconnect or timeout; a timeout drops the
// connection (a late reply would otherwise be taken as the answer to the next request).
import { EventEmitter } from 'node:events'
import { Socket } from 'node:net'
import type { Logger } from 'pino'
import { Backoff } from '../common/backoff.ts'
import type { LineSplitter } from '../common/lines.ts'
import { formatRequest, nutLines, parseReply, type NutReply } from './codec.ts'

export type NutConnState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'stopped'

export class NutRequestError extends Error {
	override name = 'NutRequestError'
	constructor(
		message: string,
		readonly kind: 'timeout' | 'disconnected' | 'stopped' | 'protocol',
		options?: { cause?: unknown },
	) {
		super(message, options)
	}
}

export interface NutConnectionOptions {
	host: string
	port: number
	log: Logger
	requestTimeoutMs?: number
	connectTimeoutMs?: number
	minBackoffMs?: number
	maxBackoffMs?: number
	random?: () => number
}

interface Pending {
	line: string
	list: boolean
	replies: NutReply[]
	resolve: (r: NutReply[]) => void
	reject: (e: Error) => void
	timer: NodeJS.Timeout | null
}

export interface NutConnectionEvents {
	connected: []
	disconnected: [err: Error | null]
	state: [state: NutConnState]
}

export class NutConnection extends EventEmitter<NutConnectionEvents> {
	#state: NutConnState = 'idle'
	#socket: Socket | null = null
	#splitter: LineSplitter
	#queue: Pending[] = []
	#inFlight: Pending | null = null
	#timer: NodeJS.Timeout | null = null
	readonly #backoffDelay: Backoff
	readonly #o: Required<NutConnectionOptions>

	constructor(o: NutConnectionOptions) {
		super()
		this.#o = {
			requestTimeoutMs: 3000,
			connectTimeoutMs: 3000,
			minBackoffMs: 250,
			maxBackoffMs: 10_000,
			random: Math.random,
			...o,
		}
		this.#splitter = this.#newSplitter()
		this.#backoffDelay = new Backoff({
			initialMs: this.#o.minBackoffMs,
			maxMs: this.#o.maxBackoffMs,
			random: this.#o.random,
		})
	}

	get state(): NutConnState {
		return this.#state
	}

	start(): void {
		if (this.#state !== 'idle') return
		this.#connect()
	}

	stop(): void {
		if (this.#state === 'stopped') return
		this.#setState('stopped')
		this.#clearTimer()
		this.#failAll(new NutRequestError('connection stopped', 'stopped'))
		const s = this.#socket
		this.#socket = null
		s?.destroy()
	}

	/** Send one request; resolves with its reply lines (a LIST: BEGIN..END inclusive). */
	request(words: readonly string[]): Promise<NutReply[]> {
		if (this.#state !== 'connected')
			return Promise.reject(new NutRequestError(`upsd ${this.#where()}: not connected`, 'disconnected'))
		const line = formatRequest(words)
		return new Promise((resolve, reject) => {
			this.#queue.push({ line, list: words[0] === 'LIST', replies: [], resolve, reject, timer: null })
			this.#pump()
		})
	}

	#where(): string {
		return `${this.#o.host}:${this.#o.port}`
	}

	#newSplitter(): LineSplitter {
		return nutLines(() => this.#o.log.warn({ upsd: this.#where() }, 'over-long upsd line dropped'))
	}

	#setState(s: NutConnState): void {
		if (this.#state === s) return
		this.#state = s
		this.emit('state', s)
	}

	#connect(): void {
		this.#setState('connecting')
		const sock = new Socket()
		this.#socket = sock
		this.#splitter = this.#newSplitter()
		sock.setEncoding('latin1')
		sock.setNoDelay(true)
		// the one timer of this connection: connect timeout now, backoff later
		this.#arm(this.#o.connectTimeoutMs, () => sock.destroy(new Error('connect timeout')))
		sock.on('connect', () => {
			this.#clearTimer()
			this.#backoffDelay.reset()
			this.#setState('connected')
			this.emit('connected')
		})
		sock.on('data', (chunk: string) => {
			for (const line of this.#splitter.push(chunk)) this.#onLine(line)
		})
		sock.on('error', (err) => this.#o.log.debug({ err }, 'upsd socket error'))
		sock.on('close', (hadError) => {
			if (this.#socket !== sock) return
			this.#socket = null
			const err = new NutRequestError(
				`upsd ${this.#where()}: connection closed${hadError ? ' on error' : ''}`,
				'disconnected',
			)
			this.#failAll(err)
			const was = this.#state
			if (was === 'stopped') return
			this.#clearTimer()
			if (was === 'connected') this.emit('disconnected', err)
			this.#backoff()
		})
		sock.connect(this.#o.port, this.#o.host)
	}

	#backoff(): void {
		this.#setState('backoff')
		this.#arm(this.#backoffDelay.next(), () => this.#connect())
	}

	/** The one place the connection timer is made. */
	#arm(ms: number, fn: () => void): void {
		this.#clearTimer()
		this.#timer = setTimeout(() => {
			this.#timer = null
			fn()
		}, ms)
	}

	/** The one place it is cleared. */
	#clearTimer(): void {
		if (this.#timer) clearTimeout(this.#timer)
		this.#timer = null
	}

	#pump(): void {
		if (this.#inFlight || this.#state !== 'connected' || !this.#socket) return
		const next = this.#queue.shift()
		if (!next) return
		this.#inFlight = next
		next.timer = setTimeout(() => {
			next.timer = null
			this.#o.log.warn({ request: next.line.split(' ')[0] }, 'upsd request timed out: reconnecting')
			this.#socket?.destroy(new Error('request timeout'))
			// #failAll (from close) rejects it as disconnected; say what really happened first
			if (this.#inFlight === next) {
				this.#inFlight = null
				next.reject(new NutRequestError(`upsd ${this.#where()}: no reply in ${this.#o.requestTimeoutMs} ms`, 'timeout'))
			}
		}, this.#o.requestTimeoutMs)
		this.#socket.write(next.line)
	}

	#onLine(line: string): void {
		const p = this.#inFlight
		const reply = parseReply(line)
		if (!p) {
			this.#o.log.warn({ line: line.slice(0, 200) }, 'upsd sent a line nobody asked for')
			return
		}
		p.replies.push(reply)
		// a LIST reply ends at END LIST; an ERR ends it early; anything else is a one-line reply
		const done =
			!p.list || reply.kind === 'end' || reply.kind === 'err' || (p.replies.length === 1 && reply.kind !== 'begin')
		if (!done) return
		if (p.timer) clearTimeout(p.timer)
		this.#inFlight = null
		p.resolve(p.replies)
		this.#pump()
	}

	#failAll(err: Error): void {
		const all = [...(this.#inFlight ? [this.#inFlight] : []), ...this.#queue]
		this.#inFlight = null
		this.#queue = []
		for (const p of all) {
			if (p.timer) clearTimeout(p.timer)
			p.reject(err)
		}
	}
}
