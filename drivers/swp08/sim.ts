// A SW-P-08 router simulator that follows the protocol, for the tests and `sigpath lab`: TCP (many controllers at
// once) and/or one serial port, stop-and-wait transmission with ACK/NAK and resend, tally on interrogate,
// CONNECTED on every port after any crosspoint change (§3.4), tally dumps in byte, word and extended form, any
// matrix and level, a configurable size, and faults to inject.
import { createServer, type Server, type Socket } from 'node:net'
import { SerialPort } from 'serialport'
import { ACK_BYTES, encodeFrame, MAX_DUMP_WORD, NAK_BYTES, Swp08Decoder, type Swp08Message } from './codec.ts'

export interface Swp08SimOptions {
	/** sources */
	inputs?: number
	/** destinations */
	outputs?: number
	ackTimeoutMs?: number
	maxResends?: number
}

export interface Swp08SimFaults {
	/** answer nothing (no ACK, no tally): a hung router or a cut RS-422 pair */
	silent: boolean
	/** destinations protected by another panel: connects are ACKed but the crosspoint stays (wire numbers) */
	protectedDests: Set<number>
	/** ACK connects and never make them */
	ignoreTakes: boolean
	/** NAK this many good frames before acting on the next (line noise as the router saw it) */
	nakNext: number
	/** drop this many good frames without any answer (the controller's ACK timer has to resend) */
	dropNext: number
	/** send this many frames with a broken checksum (line noise as the controller sees it: it must NAK) */
	corruptNext: number
	/** answer each good frame this long after it arrived (a slow line or a busy router controller) */
	delayMs: number
	/** ACK tally dump requests and send nothing (a router without commands 21-23) */
	noDump: boolean
}

interface Outgoing {
	bytes: Buffer
	sends: number
}

class Port {
	readonly decoder = new Swp08Decoder()
	queue: Outgoing[] = []
	inFlight: Outgoing | null = null
	timer: NodeJS.Timeout | null = null
	#corked: Buffer[] | null = null
	constructor(
		readonly name: string,
		readonly send: (b: Buffer) => void,
		readonly close: () => void,
	) {}

	write(b: Buffer): void {
		if (this.#corked) this.#corked.push(b)
		else this.send(b)
	}

	cork(): void {
		this.#corked = []
	}

	uncork(): void {
		const out = this.#corked
		this.#corked = null
		if (out && out.length > 0) this.send(out.length === 1 ? out[0]! : Buffer.concat(out))
	}
}

export class Swp08Sim {
	readonly inputs: number
	readonly outputs: number
	readonly faults: Swp08SimFaults = {
		silent: false,
		protectedDests: new Set(),
		ignoreTakes: false,
		nakNext: 0,
		dropNext: 0,
		corruptNext: 0,
		delayMs: 0,
		noDump: false,
	}
	readonly #delays = new Set<NodeJS.Timeout>()
	readonly #ackTimeoutMs: number
	readonly #maxResends: number
	/** routing per "matrix:level", wire numbers dest -> src */
	readonly #tables = new Map<string, number[]>()
	#server: Server | null = null
	#serial: SerialPort | null = null
	readonly #ports = new Set<Port>()
	#tcpPort = 0
	/** connect messages received (tests check a daemon sends none of its own accord) */
	connectRequests = 0
	/** the last error of the serial port (a pty whose other end closed) */
	lastError: Error | null = null
	/** good frames received, per command */
	received = new Map<string, number>()

	constructor(options: Swp08SimOptions = {}) {
		this.inputs = options.inputs ?? 32
		this.outputs = options.outputs ?? 32
		this.#ackTimeoutMs = options.ackTimeoutMs ?? 1000
		this.#maxResends = options.maxResends ?? 5
	}

	get port(): number {
		return this.#tcpPort
	}

	get portCount(): number {
		return this.#ports.size
	}

	/** TCP controllers connected now */
	get tcpClientCount(): number {
		return [...this.#ports].filter((p) => !p.name.startsWith('serial')).length
	}

	/** wire routing of a matrix/level, dest -> src (default: dest n on source n mod inputs) */
	table(matrix = 0, level = 0): number[] {
		const key = `${matrix}:${level}`
		let t = this.#tables.get(key)
		if (!t) {
			t = Array.from({ length: this.outputs }, (_, d) => d % this.inputs)
			this.#tables.set(key, t)
		}
		return t
	}

	/** Starts on TCP (`{host, port}`, port 0 for any free one) or a serial device (`{serialPath}`). */
	async start(where: { host?: string; port?: number }): Promise<{ host: string; port: number }>
	async start(where: {
		serialPath: string
		baudRate?: number
		parity?: 'none' | 'even' | 'odd'
	}): Promise<{ serialPath: string }>
	async start(
		where:
			{ host?: string; port?: number } | { serialPath: string; baudRate?: number; parity?: 'none' | 'even' | 'odd' },
	): Promise<{ host: string; port: number } | { serialPath: string }> {
		if ('serialPath' in where) {
			if (this.#serial) throw new Error('SW-P-08 simulator serial port already open')
			const sp = new SerialPort({
				path: where.serialPath,
				baudRate: where.baudRate ?? 38400,
				parity: where.parity ?? 'even',
				dataBits: 8,
				stopBits: 1,
				autoOpen: false,
			})
			await new Promise<void>((resolve, reject) => sp.open((err) => (err ? reject(err) : resolve())))
			this.#serial = sp
			const port = new Port(
				`serial ${where.serialPath}`,
				(b) => void sp.write(b),
				() => undefined,
			)
			this.#ports.add(port)
			sp.on('data', (b: Buffer) => this.#onBytes(port, b))
			sp.on('error', (err: Error) => {
				// a pty whose other end closed: the port is unusable until restarted
				this.#ports.delete(port)
				this.#clearPort(port)
				this.lastError = err
			})
			return { serialPath: where.serialPath }
		}
		if (this.#server) throw new Error('SW-P-08 simulator already listening')
		const host = where.host ?? '127.0.0.1'
		const server = createServer((socket) => this.#accept(socket))
		this.#server = server
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject)
			server.listen(where.port ?? 0, host, () => {
				server.off('error', reject)
				resolve()
			})
		})
		const addr = server.address()
		this.#tcpPort = typeof addr === 'object' && addr ? addr.port : 0
		return { host, port: this.#tcpPort }
	}

	/** Stops listening, closes the serial port, drops every controller; start() may be called again. */
	async stop(): Promise<void> {
		for (const t of this.#delays) clearTimeout(t)
		this.#delays.clear()
		this.dropClients()
		const server = this.#server
		this.#server = null
		if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
		const sp = this.#serial
		this.#serial = null
		if (sp?.isOpen) await new Promise<void>((resolve) => sp.close(() => resolve()))
		for (const p of this.#ports) this.#clearPort(p)
		this.#ports.clear()
	}

	/** Closes every TCP controller connection (the serial port stays: a cable has no connection to drop). */
	dropClients(): void {
		for (const p of [...this.#ports]) {
			if (p.name.startsWith('serial')) continue
			p.close()
			this.#clearPort(p)
			this.#ports.delete(p)
		}
	}

	/** Raw bytes on every port, outside the framing (line noise on an RS-422 pair). */
	injectNoise(bytes: Uint8Array): void {
		for (const p of this.#ports) p.write(Buffer.from(bytes))
	}

	/** A change made by another controller or the router's own panel: CONNECTED goes to every port (§3.4). */
	route(dest: number, src: number, matrix = 0, level = 0): void {
		this.table(matrix, level)[dest] = src
		this.#toAll({ cmd: 'connected', matrix, level, extended: dest > 1023 || src > 1023, dest, src, badSource: false })
	}

	#accept(socket: Socket): void {
		socket.setNoDelay(true)
		const port = new Port(
			`tcp ${socket.remotePort ?? '?'}`,
			(b) => void socket.write(b),
			() => socket.destroy(),
		)
		this.#ports.add(port)
		socket.on('data', (b: Buffer) => this.#onBytes(port, b))
		socket.on('error', () => socket.destroy()) // a controller reset is routine; 'close' cleans up
		socket.on('close', () => {
			this.#clearPort(port)
			this.#ports.delete(port)
		})
	}

	#clearPort(p: Port): void {
		if (p.timer) clearTimeout(p.timer)
		p.timer = null
		p.queue = []
		p.inFlight = null
	}

	#onBytes(port: Port, bytes: Buffer): void {
		if (this.faults.silent) return
		// everything this read causes on this port (ACKs, the next frame) leaves in one write
		port.cork()
		try {
			this.#onEvents(port, bytes)
		} finally {
			port.uncork()
		}
	}

	#onEvents(port: Port, bytes: Buffer): void {
		for (const e of port.decoder.push(bytes)) {
			switch (e.type) {
				case 'ack':
					if (port.timer) clearTimeout(port.timer)
					port.timer = null
					port.inFlight = null
					this.#pump(port)
					break
				case 'nak':
					if (port.inFlight) this.#transmit(port, port.inFlight)
					break
				case 'bad':
					port.write(NAK_BYTES)
					break
				case 'frame':
					if (this.faults.dropNext > 0) {
						this.faults.dropNext--
						break
					}
					if (this.faults.nakNext > 0) {
						this.faults.nakNext--
						port.write(NAK_BYTES)
						break
					}
					if (this.faults.delayMs > 0) {
						const t = setTimeout(() => {
							this.#delays.delete(t)
							port.write(ACK_BYTES)
							this.#onMessage(port, e.message)
						}, this.faults.delayMs)
						this.#delays.add(t)
						break
					}
					port.write(ACK_BYTES)
					this.#onMessage(port, e.message)
					break
			}
		}
	}

	#onMessage(port: Port, m: Swp08Message): void {
		const key = m.cmd === 'unknown' ? `unknown-${m.command}` : m.cmd
		this.received.set(key, (this.received.get(key) ?? 0) + 1)
		if (m.cmd === 'unknown') return
		const table = this.table(m.matrix, m.level)
		switch (m.cmd) {
			case 'interrogate':
				if (m.dest >= this.outputs) return
				this.#send(port, { ...m, cmd: 'tally', src: table[m.dest]!, badSource: false })
				return
			case 'connect': {
				this.connectRequests++
				if (m.dest >= this.outputs || m.src >= this.inputs) return
				if (this.faults.ignoreTakes) return
				if (this.faults.protectedDests.has(m.dest)) {
					// a protected destination stays; the controller is told what it still holds
					this.#send(port, { ...m, cmd: 'tally', src: table[m.dest]!, badSource: false })
					return
				}
				table[m.dest] = m.src
				this.#toAll({ ...m, cmd: 'connected', badSource: false })
				return
			}
			case 'tally-dump-request':
				if (this.faults.noDump) return
				return this.#dump(port, m.matrix, m.level, m.extended)
			default:
				return // tallies from a controller mean nothing to a router
		}
	}

	#dump(port: Port, matrix: number, level: number, extended: boolean): void {
		const table = this.table(matrix, level)
		const small = !extended && this.outputs <= 256 && this.inputs <= 256
		// §3.22/§3.23: byte form when every number fits a byte, else word form (64 tallies a message)
		const chunk = small ? 128 : MAX_DUMP_WORD
		for (let first = 0; first < table.length; first += chunk) {
			const sources = table.slice(first, first + chunk)
			this.#send(
				port,
				small
					? { cmd: 'tally-dump-byte', matrix, level, extended: false, firstDest: first, sources }
					: { cmd: 'tally-dump-word', matrix, level, extended, firstDest: first, sources },
			)
		}
	}

	#toAll(m: Swp08Message): void {
		if (this.faults.silent) return
		for (const p of this.#ports) this.#send(p, m)
	}

	#send(port: Port, m: Swp08Message): void {
		port.queue.push({ bytes: encodeFrame(m), sends: 0 })
		this.#pump(port)
	}

	#pump(port: Port): void {
		if (port.inFlight) return
		const next = port.queue.shift()
		if (!next) return
		port.inFlight = next
		this.#transmit(port, next)
	}

	#transmit(port: Port, o: Outgoing): void {
		if (o.sends > this.#maxResends) {
			// given up on this controller's acknowledgement: go on with the next message
			port.inFlight = null
			this.#pump(port)
			return
		}
		o.sends++
		if (this.faults.corruptNext > 0) {
			this.faults.corruptNext--
			// flip a bit of the command byte (never a DLE either way): the checksum no longer matches
			const bad = Buffer.from(o.bytes)
			bad[2] = bad[2]! ^ 0x40
			port.write(bad)
		} else port.write(o.bytes)
		if (port.timer) clearTimeout(port.timer)
		port.timer = setTimeout(() => {
			port.timer = null
			if (port.inFlight === o) this.#transmit(port, o)
		}, this.#ackTimeoutMs)
	}
}
