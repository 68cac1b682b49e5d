// A small UDP relay that loses packets on purpose, placed between an SRT caller and listener (docs/operations.md: these
// machines have no netem). The simulator uses it for "lossy"; the tests put it in front of real peers.
// It relays per client: each caller address gets its own socket toward the target, so several streams can share it.
import dgram from 'node:dgram'

export interface UdpImpairmentOptions {
	/** where callers send (loopback only in tests and the lab) */
	listenHost?: string
	listenPort?: number
	targetHost: string
	targetPort: number
	/** fraction of caller -> target datagrams dropped (the media direction) */
	lossRate?: number
	/** also drop that fraction of target -> caller datagrams (ACKs, NAKs, handshake answers) */
	lossBothWays?: boolean
	/** seed of the drop pattern, so a test's loss is reproducible */
	seed?: number
}

export interface UdpImpairmentCounts {
	forwarded: number
	dropped: number
	returned: number
	/** socket errors (an ICMP unreachable while a peer is down): each is a lost datagram */
	errors: number
}

/** mulberry32: a tiny seeded PRNG, good enough to spread drops evenly. */
function prng(seed: number): () => number {
	let a = seed >>> 0
	return () => {
		a = (a + 0x6d2b79f5) >>> 0
		let t = a
		t = Math.imul(t ^ (t >>> 15), t | 1)
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296
	}
}

export class UdpImpairment {
	#front: dgram.Socket | undefined
	readonly #backs = new Map<string, dgram.Socket>()
	#lossRate: number
	#blackhole = false
	readonly #random: () => number
	readonly counts: UdpImpairmentCounts = { forwarded: 0, dropped: 0, returned: 0, errors: 0 }

	constructor(private readonly options: UdpImpairmentOptions) {
		this.#lossRate = options.lossRate ?? 0
		this.#random = prng(options.seed ?? 1)
	}

	get lossRate(): number {
		return this.#lossRate
	}

	setLossRate(rate: number): void {
		if (!(rate >= 0 && rate <= 1)) throw new RangeError(`loss rate must be 0 to 1, got ${rate}`)
		this.#lossRate = rate
	}

	/** Drops everything in both directions (a cut cable): the ends see silence, not a shutdown. */
	setBlackhole(on: boolean): void {
		this.#blackhole = on
	}

	async start(): Promise<{ port: number }> {
		const family = this.options.targetHost.includes(':') ? 'udp6' : 'udp4'
		const front = dgram.createSocket(family)
		this.#front = front
		front.on('message', (msg, rinfo) => this.#fromClient(msg, rinfo))
		await new Promise<void>((resolve, reject) => {
			front.once('error', reject)
			front.bind(this.options.listenPort ?? 0, this.options.listenHost ?? '127.0.0.1', () => {
				front.off('error', reject)
				resolve()
			})
		})
		front.on('error', () => {
			this.counts.errors++
		})
		return { port: front.address().port }
	}

	#drop(): boolean {
		return this.#blackhole || (this.#lossRate > 0 && this.#random() < this.#lossRate)
	}

	#fromClient(msg: Buffer, rinfo: dgram.RemoteInfo): void {
		const key = `${rinfo.address}|${rinfo.port}`
		let back = this.#backs.get(key)
		if (!back) {
			const front = this.#front
			if (!front) return
			const b = dgram.createSocket(this.options.targetHost.includes(':') ? 'udp6' : 'udp4')
			b.on('message', (reply) => {
				if (this.#blackhole || (this.options.lossBothWays === true && this.#drop())) {
					this.counts.dropped++
					return
				}
				this.counts.returned++
				front.send(reply, rinfo.port, rinfo.address)
			})
			// ICMP "port unreachable" while the target is not up yet surfaces as an error on the socket: the datagram
			// is lost, as on a network; SRT retries its handshake.
			b.on('error', () => {
				this.counts.errors++
			})
			b.connect(this.options.targetPort, this.options.targetHost)
			this.#backs.set(key, b)
			back = b
			// connect() is asynchronous: the first datagram waits for it
			b.once('connect', () => b.send(msg))
			this.counts.forwarded++
			return
		}
		if (this.#drop()) {
			this.counts.dropped++
			return
		}
		this.counts.forwarded++
		back.send(msg)
	}

	async stop(): Promise<void> {
		const closing: Promise<void>[] = []
		for (const b of this.#backs.values()) closing.push(new Promise((r) => b.close(() => r())))
		this.#backs.clear()
		const f = this.#front
		this.#front = undefined
		if (f) closing.push(new Promise((r) => f.close(() => r())))
		await Promise.all(closing)
	}
}
