// The serial port to a Megatec/Q1 UPS: 2400 8N1, explicit states, one request at a time (the protocol is
// strictly ask-and-answer), each with a timeout; reopen with capped exponential backoff and jitter when the
// port fails or disappears (a USB-serial adapter unplugged).
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { SerialPort } from 'serialport'
import { Backoff } from '../common/backoff.ts'
import type { LineSplitter } from '../common/lines.ts'
import { formatRequest, megatecLines, type MegatecRequest } from './codec.ts'

export type MegatecConnState = 'idle' | 'opening' | 'open' | 'backoff' | 'stopped'

export class MegatecRequestError extends Error {
	override name = 'MegatecRequestError'
	constructor(
		message: string,
		readonly kind: 'timeout' | 'closed' | 'stopped' | 'busy',
		options?: { cause?: unknown },
	) {
		super(message, options)
	}
}

export interface MegatecConnectionOptions {
	path: string
	baudRate: number
	log: Logger
	/** a reply line takes ~200 ms at 2400 baud (about 47 characters, 10 bits each): allow for slow firmware */
	requestTimeoutMs?: number
	minBackoffMs?: number
	maxBackoffMs?: number
	random?: () => number
}

export interface MegatecConnectionEvents {
	open: []
	closed: [err: Error | null]
	state: [state: MegatecConnState]
}

export class MegatecConnection extends EventEmitter<MegatecConnectionEvents> {
	#state: MegatecConnState = 'idle'
	#port: SerialPort | null = null
	#splitter: LineSplitter
	#pending: { resolve: (line: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null
	#timer: NodeJS.Timeout | null = null
	readonly #backoffDelay: Backoff
	readonly #o: Required<MegatecConnectionOptions>

	constructor(o: MegatecConnectionOptions) {
		super()
		this.#o = { requestTimeoutMs: 1500, minBackoffMs: 250, maxBackoffMs: 10_000, random: Math.random, ...o }
		this.#splitter = this.#newSplitter()
		this.#backoffDelay = new Backoff({
			initialMs: this.#o.minBackoffMs,
			maxMs: this.#o.maxBackoffMs,
			random: this.#o.random,
		})
	}

	get state(): MegatecConnState {
		return this.#state
	}

	start(): void {
		if (this.#state === 'idle') this.#open()
	}

	async stop(): Promise<void> {
		if (this.#state === 'stopped') return
		this.#setState('stopped')
		this.#clearTimer()
		this.#failPending(new MegatecRequestError('stopped', 'stopped'))
		const p = this.#port
		this.#port = null
		if (p?.isOpen) await new Promise<void>((resolve) => p.close(() => resolve()))
	}

	/** Send a request; resolves with the reply line (without CR). */
	request(cmd: MegatecRequest): Promise<string> {
		const port = this.#port
		if (this.#state !== 'open' || !port)
			return Promise.reject(new MegatecRequestError(`${this.#o.path}: not open`, 'closed'))
		if (this.#pending) return Promise.reject(new MegatecRequestError(`${this.#o.path}: a request is in flight`, 'busy'))
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#pending = null
				// a late reply must not answer the next request: drop what is buffered
				this.#splitter = this.#newSplitter()
				reject(
					new MegatecRequestError(`${this.#o.path}: no reply to ${cmd} in ${this.#o.requestTimeoutMs} ms`, 'timeout'),
				)
			}, this.#o.requestTimeoutMs)
			this.#pending = { resolve, reject, timer }
			port.write(formatRequest(cmd), (err) => {
				if (err) this.#failPending(new MegatecRequestError(`${this.#o.path}: write failed`, 'closed', { cause: err }))
			})
		})
	}

	#newSplitter(): LineSplitter {
		return megatecLines(() => this.#o.log.warn({ path: this.#o.path }, 'over-long serial line dropped'))
	}

	#setState(s: MegatecConnState): void {
		if (this.#state === s) return
		this.#state = s
		this.emit('state', s)
	}

	#open(): void {
		this.#setState('opening')
		const port = new SerialPort({
			path: this.#o.path,
			baudRate: this.#o.baudRate,
			dataBits: 8,
			parity: 'none',
			stopBits: 1,
			autoOpen: false,
		})
		this.#port = port
		this.#splitter = this.#newSplitter()
		port.on('data', (chunk: Buffer) => {
			for (const line of this.#splitter.push(chunk.toString('latin1'))) this.#onLine(line)
		})
		port.on('error', (err) => this.#o.log.debug({ err }, 'serial error'))
		port.on('close', (err: Error | null) => {
			if (this.#port !== port) return
			this.#port = null
			this.#failPending(new MegatecRequestError(`${this.#o.path}: port closed`, 'closed', { cause: err }))
			if (this.#state === 'stopped') return
			this.emit('closed', err)
			this.#backoff()
		})
		port.open((err) => {
			if (this.#port !== port) {
				// stopped while opening: release what the open gave us
				if (!err && port.isOpen) port.close((e) => e && this.#o.log.debug({ err: e }, 'serial close after stop'))
				return
			}
			if (err) {
				this.#port = null
				this.#o.log.warn({ err, path: this.#o.path }, 'serial port open failed')
				this.#backoff()
				return
			}
			if (this.#state === 'stopped') return
			this.#backoffDelay.reset()
			this.#setState('open')
			this.emit('open')
		})
	}

	#backoff(): void {
		if (this.#state === 'stopped') return
		this.#setState('backoff')
		this.#clearTimer()
		this.#timer = setTimeout(() => {
			this.#timer = null
			this.#open()
		}, this.#backoffDelay.next())
	}

	#clearTimer(): void {
		if (this.#timer) clearTimeout(this.#timer)
		this.#timer = null
	}

	#onLine(line: string): void {
		const p = this.#pending
		if (!p) {
			this.#o.log.debug({ line: line.slice(0, 80) }, 'unsolicited serial line dropped')
			return
		}
		clearTimeout(p.timer)
		this.#pending = null
		p.resolve(line)
	}

	#failPending(err: Error): void {
		const p = this.#pending
		this.#pending = null
		if (p) {
			clearTimeout(p.timer)
			p.reject(err)
		}
	}
}
