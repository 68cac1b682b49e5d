// A byte link to a router (TCP socket or serial port) that keeps itself open: explicit states, capped exponential
// backoff with jitter, one timer slot for connect timeout and backoff, and stop() that leaves no handle behind.
// Protocol work (framing, keep-alives, sync) belongs to the driver on top; the link only moves bytes.
import { EventEmitter } from 'node:events'
import { createConnection, type Socket } from 'node:net'
import { SerialPort } from 'serialport'
import type { Logger } from 'pino'
import { monotonicMs } from '../../src/clock.ts'
import { Backoff } from '../common/backoff.ts'
import type { LinkState } from './types.ts'
import { Timers } from '../common/timers.ts'

/** An open byte stream, whatever carries it. */
export interface Wire {
	write(bytes: Buffer): void
	/** closes; resolves once the underlying handle is released */
	close(): Promise<void>
	readonly description: string
}

export interface WireHandlers {
	data: (bytes: Buffer) => void
	closed: (reason: string) => void
}

/** Opens a wire; an abort (stop() during the attempt, or its timeout) releases whatever the attempt holds. */
export type WireOpener = (handlers: WireHandlers, signal: AbortSignal) => Promise<Wire>

export interface TcpTarget {
	host: string
	port: number
}

export interface SerialTarget {
	path: string
	baudRate: number
	parity: 'none' | 'even' | 'odd' | 'mark' | 'space'
	dataBits: 7 | 8
	stopBits: 1 | 2
}

export function tcpOpener(target: TcpTarget): WireOpener {
	return (handlers, signal) =>
		new Promise<Wire>((resolve, reject) => {
			const socket: Socket = createConnection({ host: target.host, port: target.port })
			let open = false
			const description = `tcp ${target.host}:${target.port}`
			signal.addEventListener(
				'abort',
				() => {
					if (open) return
					socket.destroy()
					reject(new Error(`${description}: connect abandoned`))
				},
				{ once: true },
			)
			socket.once('connect', () => {
				open = true
				// Takes are a few bytes each: Nagle would add up to 40 ms of latency to a confirmation.
				socket.setNoDelay(true)
				resolve({
					description,
					write: (bytes) => void socket.write(bytes),
					close: () =>
						new Promise<void>((done) => {
							if (socket.destroyed) return done()
							socket.once('close', () => done())
							socket.destroy()
						}),
				})
			})
			socket.on('data', (bytes: Buffer) => handlers.data(bytes))
			socket.on('error', (err) => {
				if (!open) reject(new Error(`${description}: ${err.message}`, { cause: err }))
				// once open, the 'close' that follows every error reports it
			})
			socket.on('close', (hadError) => {
				if (open) handlers.closed(hadError ? 'socket error' : 'closed by peer')
			})
		})
}

export function serialOpener(target: SerialTarget): WireOpener {
	return (handlers, signal) =>
		new Promise<Wire>((resolve, reject) => {
			const description = `serial ${target.path} ${target.baudRate} ${target.dataBits}${target.parity[0]!.toUpperCase()}${target.stopBits}`
			const port = new SerialPort({
				path: target.path,
				baudRate: target.baudRate,
				parity: target.parity,
				dataBits: target.dataBits,
				stopBits: target.stopBits,
				autoOpen: false,
			})
			let open = false
			port.on('data', (bytes: Buffer) => handlers.data(bytes))
			port.on('error', (err: Error) => {
				if (open) handlers.closed(`serial error: ${err.message}`)
			})
			port.on('close', () => {
				if (open) handlers.closed('serial port closed')
				open = false
			})
			port.open((err) => {
				if (err) return reject(new Error(`${description}: ${err.message}`, { cause: err }))
				if (signal.aborted) {
					port.close(() => reject(new Error(`${description}: open abandoned`)))
					return
				}
				open = true
				resolve({
					description,
					write: (bytes) => void port.write(bytes),
					close: () =>
						new Promise<void>((done) => {
							if (!port.isOpen) return done()
							open = false
							port.close(() => done())
						}),
				})
			})
		})
}

/** a connection that lasted this long resets the backoff */
const STABLE_MS = 10_000

export interface LinkOptions {
	open: WireOpener
	log: Logger
	connectTimeoutMs?: number
	backoffInitialMs?: number
	backoffMaxMs?: number
	/** jitter source in [0, 1); default Math.random */
	random?: () => number
}

export interface LinkEvents {
	state: [state: LinkState, reason: string | undefined]
	data: [bytes: Buffer]
}

export class Link extends EventEmitter<LinkEvents> {
	#state: LinkState = 'idle'
	#wire: Wire | null = null
	readonly #backoffDelay: Backoff
	/** bumps on every open attempt, so a late answer of an abandoned attempt is recognised and closed */
	#generation = 0
	readonly #timers = new Timers()
	readonly #opts: Required<Omit<LinkOptions, 'log' | 'open' | 'random'>> & Pick<LinkOptions, 'log' | 'open'>
	#stopping: Promise<void> | null = null
	#attemptAbort: AbortController | null = null
	/** monotonic ms when the current connection opened */
	#connectedAt: number | null = null

	constructor(options: LinkOptions) {
		super()
		this.#opts = { connectTimeoutMs: 3000, backoffInitialMs: 250, backoffMaxMs: 10_000, ...options }
		this.#backoffDelay = new Backoff({
			initialMs: this.#opts.backoffInitialMs,
			maxMs: this.#opts.backoffMaxMs,
			...(options.random ? { random: options.random } : {}),
		})
	}

	get state(): LinkState {
		return this.#state
	}

	get description(): string | null {
		return this.#wire?.description ?? null
	}

	start(): void {
		if (this.#state !== 'idle') return
		this.#connect()
	}

	write(bytes: Buffer): boolean {
		if (this.#state !== 'connected' || !this.#wire) return false
		this.#wire.write(bytes)
		return true
	}

	/** Closes the current connection (a dead peer: missed keep-alives) and reconnects after backoff. */
	drop(reason: string): void {
		if (this.#state !== 'connected') return
		const wire = this.#wire
		this.#wire = null
		if (wire) void wire.close()
		this.#backoff(reason)
	}

	async stop(): Promise<void> {
		if (this.#stopping) return this.#stopping
		this.#generation++
		this.#timers.clearAll()
		this.#attemptAbort?.abort()
		this.#attemptAbort = null
		const wire = this.#wire
		this.#wire = null
		this.#setState('stopped', 'stopped by us')
		this.#stopping = wire ? wire.close() : Promise.resolve()
		return this.#stopping
	}

	/** timers held right now (0 after stop: tests assert it) */
	get timerCount(): number {
		return this.#timers.size
	}

	#setState(state: LinkState, reason?: string): void {
		if (this.#state === state) return
		this.#state = state
		this.emit('state', state, reason)
	}

	#connect(): void {
		const generation = ++this.#generation
		const abort = new AbortController()
		this.#attemptAbort = abort
		this.#setState('connecting')
		this.#timers.set('attempt', this.#opts.connectTimeoutMs, () => {
			if (generation !== this.#generation) return
			this.#generation++ // abandon the attempt; a late success is closed on arrival
			abort.abort()
			this.#backoff(`connect timed out after ${this.#opts.connectTimeoutMs} ms`)
		})
		this.#opts
			.open(
				{
					data: (bytes) => {
						if (generation === this.#generation && this.#state === 'connected') this.emit('data', bytes)
					},
					closed: (reason) => {
						if (generation !== this.#generation || this.#state !== 'connected') return
						this.#wire = null
						this.#backoff(reason)
					},
				},
				abort.signal,
			)
			.then(
				(wire) => {
					if (this.#attemptAbort === abort) this.#attemptAbort = null
					if (generation !== this.#generation) {
						void wire.close()
						return
					}
					this.#timers.clear('attempt')
					this.#wire = wire
					this.#connectedAt = monotonicMs()
					this.#setState('connected', wire.description)
				},
				(err: unknown) => {
					if (this.#attemptAbort === abort) this.#attemptAbort = null
					if (generation !== this.#generation) return
					this.#timers.clear('attempt')
					this.#backoff(err instanceof Error ? err.message : String(err))
				},
			)
	}

	#backoff(reason: string): void {
		if (this.#state === 'stopped') return
		// The backoff starts over only after a connection that stayed up: a router that accepts and drops at once
		// (a full session table, a crashing server) must not be hammered every 250 ms.
		if (this.#connectedAt !== null && monotonicMs() - this.#connectedAt >= STABLE_MS) this.#backoffDelay.reset()
		this.#connectedAt = null
		// controllers restarting together must not hit a router that just rebooted in lockstep (common/backoff.ts)
		const delay = this.#backoffDelay.next()
		this.#opts.log.debug({ reason, delay }, 'router link down, retrying')
		this.#setState('backoff', reason)
		this.#timers.set('attempt', delay, () => this.#connect())
	}
}
