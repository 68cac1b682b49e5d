// A Videohub server simulator that follows the Ethernet Protocol v2.3 as the manual describes it, for the tests and
// `sigpath lab`: a full status dump on connect, ACK/NAK for every block, deltas pushed to every client, locks owned
// per client (O to the owner, L to the others), status dump requests, PING, a configurable size, and faults to
// inject. Real servers key lock ownership by the client's IP address; on loopback every client shares one address,
// so this simulator keys it by connection (which is what a multi-controller test needs).
import { createServer, type Server, type Socket } from 'node:net'
import { encodeBlock, VideohubDecoder, type Block, type LockChar } from './codec.ts'

export interface VideohubSimOptions {
	inputs?: number
	outputs?: number
	model?: string
	version?: string
	/** initial routing, wire numbers (output -> input); default output n on input n mod inputs */
	routing?: number[]
	/** send VIDEO INPUT STATUS (a Universal Videohub's hardware status) */
	inputStatus?: boolean
	/** send END PRELUDE after the dump (later 2.x servers do) */
	endPrelude?: boolean
}

export interface VideohubSimFaults {
	/** answer nothing at all (a hung server): no ACK, no updates, no dump */
	silent: boolean
	/** NAK every routing request */
	refuseTakes: boolean
	/** ACK routing requests but never apply them (a router whose crosspoint card failed) */
	ignoreTakes: boolean
}

interface Client {
	id: number
	socket: Socket
	decoder: VideohubDecoder
}

/** lock owner: a client id, or 'panel' (a hardware panel or another controller not on this server) */
type Owner = number | 'panel'

export class VideohubSim {
	readonly inputs: number
	readonly outputs: number
	readonly faults: VideohubSimFaults = { silent: false, refuseTakes: false, ignoreTakes: false }
	readonly #opts: Required<Omit<VideohubSimOptions, 'routing'>>
	readonly #routing: number[]
	readonly #locks: (Owner | null)[]
	readonly #inputLabels: string[]
	readonly #outputLabels: string[]
	readonly #inputStatus: string[]
	#server: Server | null = null
	readonly #clients = new Set<Client>()
	#nextId = 1
	#port = 0
	/** routing requests received (tests count them: the daemon must send none of its own accord) */
	routingRequests = 0
	/**
	 * Every routing request with the client's TCP port and the instant it arrived (performance.now()): a test with
	 * two controllers tells which one sent it (a controller's local port), and when. Bounded.
	 */
	readonly routingLog: { port: number; at: number }[] = []
	/** the last blocks received from clients (for tests: what did a controller ask for?), bounded */
	readonly received: Block[] = []

	constructor(options: VideohubSimOptions = {}) {
		this.inputs = options.inputs ?? 16
		this.outputs = options.outputs ?? 16
		this.#opts = {
			inputs: this.inputs,
			outputs: this.outputs,
			model: options.model ?? 'Blackmagic Smart Videohub (sigpath simulator)',
			version: options.version ?? '2.3',
			inputStatus: options.inputStatus ?? true,
			endPrelude: options.endPrelude ?? true,
		}
		this.#routing = Array.from({ length: this.outputs }, (_, o) => options.routing?.[o] ?? o % this.inputs)
		this.#locks = Array.from({ length: this.outputs }, () => null)
		this.#inputLabels = Array.from({ length: this.inputs }, (_, i) => `Input ${i + 1}`)
		this.#outputLabels = Array.from({ length: this.outputs }, (_, o) => `Output ${o + 1}`)
		this.#inputStatus = Array.from({ length: this.inputs }, () => 'BNC')
	}

	get port(): number {
		return this.#port
	}

	get clientCount(): number {
		return this.#clients.size
	}

	/** wire-numbered routing, output -> input */
	routingTable(): readonly number[] {
		return this.#routing
	}

	async start(listen: { host?: string; port?: number } = {}): Promise<{ host: string; port: number }> {
		if (this.#server) throw new Error('Videohub simulator already started')
		const host = listen.host ?? '127.0.0.1'
		const server = createServer((socket) => this.#accept(socket))
		this.#server = server
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject)
			server.listen(listen.port ?? 0, host, () => {
				server.off('error', reject)
				resolve()
			})
		})
		const addr = server.address()
		this.#port = typeof addr === 'object' && addr ? addr.port : 0
		return { host, port: this.#port }
	}

	/** Stops listening and drops every client. start() may be called again (a router restart). */
	async stop(): Promise<void> {
		const server = this.#server
		this.#server = null
		this.dropClients()
		if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
		// A rebooted router has no memory of who held locks: they belonged to sessions that no longer exist.
		for (let o = 0; o < this.outputs; o++) if (this.#locks[o] !== 'panel') this.#locks[o] = null
	}

	/** Closes every client connection (a network cut as the clients see it). */
	dropClients(): void {
		for (const c of this.#clients) c.socket.destroy()
		this.#clients.clear()
		for (let o = 0; o < this.outputs; o++) if (typeof this.#locks[o] === 'number') this.#locks[o] = null
	}

	/** A change made on the router itself (front panel, another system): pushed to every client. */
	route(output: number, input: number): void {
		this.#routing[output] = input
		this.#broadcast({ kind: 'routing', target: 'video', entries: [{ output, input }] })
	}

	/** A lock taken by a panel or a controller that is not one of our clients (wire output). */
	lockByPanel(output: number, locked = true): void {
		this.#locks[output] = locked ? 'panel' : null
		this.#broadcastLocks([output])
	}

	setInputStatus(input: number, status: string): void {
		this.#inputStatus[input] = status
		this.#broadcast({ kind: 'status', target: 'video-input', entries: [{ port: input, status }] })
	}

	#accept(socket: Socket): void {
		socket.setNoDelay(true)
		const client: Client = { id: this.#nextId++, socket, decoder: new VideohubDecoder() }
		this.#clients.add(client)
		socket.on('data', (bytes: Buffer) => {
			if (this.faults.silent) return
			for (const block of client.decoder.push(bytes)) this.#request(client, block)
		})
		socket.on('error', () => socket.destroy()) // a client reset is routine; 'close' below cleans up
		socket.on('close', () => {
			this.#clients.delete(client)
			const released: number[] = []
			for (let o = 0; o < this.outputs; o++)
				if (this.#locks[o] === client.id) {
					this.#locks[o] = null
					released.push(o)
				}
			if (released.length) this.#broadcastLocks(released)
		})
		if (this.faults.silent) return
		// Manual, "Protocol Preamble" / "Device Information" / "Initial Status Dump".
		const dump: Block[] = [
			{ kind: 'preamble', version: this.#opts.version },
			{
				kind: 'device',
				device: {
					present: 'true',
					model: this.#opts.model,
					videoInputs: this.inputs,
					processingUnits: 0,
					videoOutputs: this.outputs,
					monitoringOutputs: 0,
					serialPorts: 0,
				},
			},
			{ kind: 'labels', target: 'input', entries: this.#inputLabels.map((label, port) => ({ port, label })) },
			{ kind: 'labels', target: 'output', entries: this.#outputLabels.map((label, port) => ({ port, label })) },
			this.#locksBlock(client, this.#all()),
			this.#routingBlock(this.#all()),
		]
		if (this.#opts.inputStatus) dump.push(this.#inputStatusBlock())
		dump.push({ kind: 'configuration', settings: [{ key: 'Take Mode', value: 'false' }] })
		if (this.#opts.endPrelude) dump.push({ kind: 'end-prelude' })
		this.#write(client, dump)
	}

	#all(): number[] {
		return Array.from({ length: this.outputs }, (_, o) => o)
	}

	#routingBlock(outputs: number[]): Block {
		return {
			kind: 'routing',
			target: 'video',
			entries: outputs.map((o) => ({ output: o, input: this.#routing[o]! })),
		}
	}

	#inputStatusBlock(): Block {
		return {
			kind: 'status',
			target: 'video-input',
			entries: this.#inputStatus.map((status, port) => ({ port, status })),
		}
	}

	#locksBlock(client: Client, outputs: number[]): Block {
		const view = (o: number): LockChar => {
			const owner = this.#locks[o]
			return owner === null || owner === undefined ? 'U' : owner === client.id ? 'O' : 'L'
		}
		return { kind: 'locks', target: 'video', entries: outputs.map((o) => ({ port: o, lock: view(o) })) }
	}

	#write(client: Client, blocks: Block[]): void {
		if (client.socket.destroyed) return
		client.socket.write(blocks.map(encodeBlock).join(''))
	}

	#broadcast(block: Block): void {
		if (this.faults.silent) return
		for (const c of this.#clients) this.#write(c, [block])
	}

	#broadcastLocks(outputs: number[]): void {
		if (this.faults.silent) return
		for (const c of this.#clients) this.#write(c, [this.#locksBlock(c, outputs)])
	}

	#request(client: Client, block: Block): void {
		this.received.push(block)
		if (this.received.length > 10_000) this.received.shift()
		const ack: Block = { kind: 'ack' }
		const nak: Block = { kind: 'nak' }
		switch (block.kind) {
			case 'ping':
				return this.#write(client, [ack])
			case 'routing': {
				if (block.target !== 'video') return this.#write(client, [nak])
				if (block.entries.length === 0) return this.#write(client, [ack, this.#routingBlock(this.#all())])
				this.routingRequests++
				this.routingLog.push({ port: client.socket.remotePort ?? 0, at: performance.now() })
				if (this.routingLog.length > 10_000) this.routingLog.shift()
				const valid = block.entries.every(
					(e) =>
						e.output < this.outputs &&
						e.input < this.inputs &&
						(this.#locks[e.output] === null || this.#locks[e.output] === client.id),
				)
				if (!valid || this.faults.refuseTakes) return this.#write(client, [nak])
				this.#write(client, [ack])
				if (this.faults.ignoreTakes) return
				for (const e of block.entries) this.#routing[e.output] = e.input
				return this.#broadcast(this.#routingBlock(block.entries.map((e) => e.output)))
			}
			case 'locks': {
				if (block.target !== 'video') return this.#write(client, [nak])
				if (block.entries.length === 0) return this.#write(client, [ack, this.#locksBlock(client, this.#all())])
				const ok = block.entries.every((e) => {
					if (e.port >= this.outputs) return false
					const owner = this.#locks[e.port]
					if (e.lock === 'O' || e.lock === 'U') return owner === null || owner === client.id
					return e.lock === 'F'
				})
				if (!ok) return this.#write(client, [nak])
				for (const e of block.entries) this.#locks[e.port] = e.lock === 'O' ? client.id : null
				this.#write(client, [ack])
				return this.#broadcastLocks(block.entries.map((e) => e.port))
			}
			case 'labels': {
				const table =
					block.target === 'input' ? this.#inputLabels : block.target === 'output' ? this.#outputLabels : null
				if (!table) return this.#write(client, [nak])
				if (block.entries.length === 0)
					return this.#write(client, [ack, { ...block, entries: table.map((label, port) => ({ port, label })) }])
				if (!block.entries.every((e) => e.port < table.length)) return this.#write(client, [nak])
				for (const e of block.entries) table[e.port] = e.label
				this.#write(client, [ack])
				return this.#broadcast(block)
			}
			case 'status':
				// Manual: hardware status blocks from a client are ignored; a bare header is a dump request.
				if (block.target === 'video-input' && block.entries.length === 0)
					return this.#write(client, [ack, this.#inputStatusBlock()])
				return
			case 'preamble':
			case 'device':
			case 'configuration':
				return this.#write(client, [ack])
			default:
				// not understood (unknown header, a line that is no header, ACK/NAK from a client)
				return this.#write(client, [nak])
		}
	}
}
