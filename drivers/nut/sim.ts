// A upsd simulator (NUT network protocol, docs/net-protocol.txt) for tests and `sigpath lab`: it serves named
// UPSes whose variables change at runtime, answers LIST UPS, LIST VAR, GET VAR, GET UPSDESC, VER, NETVER,
// USERNAME, PASSWORD, LOGOUT, and the ERR codes a real upsd gives (UNKNOWN-UPS, VAR-NOT-SUPPORTED,
// UNKNOWN-COMMAND, DATA-STALE for a UPS marked stale). Faults for tests: `mode` mute (reads, never answers),
// garbage (answers noise), hangup (closes on the next request).
import { createServer, type Server, type Socket } from 'node:net'
import { NutParseError, nutLines, tokenize } from './codec.ts'

/** upsd always quotes values (net-protocol.txt), escaping \\ and \". */
const q = (v: string) => `"${v.replace(/[\\"]/g, (m) => `\\${m}`)}"`

export type NutSimMode = 'normal' | 'mute' | 'garbage' | 'hangup'

export interface NutSimUps {
	description?: string
	vars: Record<string, string>
	/** the driver behind this UPS has gone quiet: every read answers ERR DATA-STALE */
	stale?: boolean
}

export interface NutSimOptions {
	host?: string
	port?: number
	ups: Record<string, NutSimUps>
}

export class NutSim {
	#server: Server | null = null
	#port: number
	readonly #host: string
	readonly #ups = new Map<string, NutSimUps>()
	readonly #sockets = new Set<Socket>()
	mode: NutSimMode = 'normal'
	/** connections accepted since start */
	connections = 0

	constructor(o: NutSimOptions) {
		this.#host = o.host ?? '127.0.0.1'
		this.#port = o.port ?? 0
		for (const [name, u] of Object.entries(o.ups)) this.#ups.set(name, { ...u, vars: { ...u.vars } })
	}

	get port(): number {
		return this.#port
	}

	get openConnections(): number {
		return this.#sockets.size
	}

	async start(): Promise<void> {
		if (this.#server) return
		const server = createServer((sock) => this.#serve(sock))
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject)
			server.listen(this.#port, this.#host, () => resolve())
		})
		const a = server.address()
		if (a !== null && typeof a !== 'string') this.#port = a.port
		this.#server = server
	}

	async stop(): Promise<void> {
		const s = this.#server
		this.#server = null
		for (const sock of this.#sockets) sock.destroy()
		this.#sockets.clear()
		if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
	}

	/** Set variables of a UPS (e.g. { 'ups.status': 'OB LB' }). */
	set(ups: string, vars: Record<string, string>, stale?: boolean): void {
		const u = this.#ups.get(ups)
		if (!u) throw new Error(`nut sim: no UPS ${ups}`)
		Object.assign(u.vars, vars)
		if (stale !== undefined) u.stale = stale
	}

	#serve(sock: Socket): void {
		this.connections++
		this.#sockets.add(sock)
		sock.setEncoding('latin1')
		const lines = nutLines()
		sock.on('close', () => this.#sockets.delete(sock))
		sock.on('error', () => this.#sockets.delete(sock))
		sock.on('data', (chunk: string) => {
			for (const line of lines.push(chunk)) {
				if (this.mode === 'mute') continue
				if (this.mode === 'hangup') {
					sock.destroy()
					return
				}
				if (this.mode === 'garbage') {
					sock.write('\u0000\u00ff%%%% not nut\n')
					continue
				}
				const out = this.#answer(line)
				if (out === null) {
					sock.end('OK Goodbye\n')
					return
				}
				sock.write(out)
			}
		})
	}

	/** One request line to its reply text; null for LOGOUT. */
	#answer(line: string): string | null {
		let w: string[]
		try {
			w = tokenize(line)
		} catch (err) {
			if (!(err instanceof NutParseError)) throw err
			return 'ERR INVALID-ARGUMENT\n'
		}
		const [cmd, a, b, c] = w
		const ups = (name: string | undefined) => (name === undefined ? undefined : this.#ups.get(name))
		switch (cmd) {
			case 'LOGOUT':
				return null
			case 'VER':
				return 'Network UPS Tools upsd 2.8.0 (sigpath sim)\n'
			case 'NETVER':
				return '1.3\n'
			case 'USERNAME':
			case 'PASSWORD':
				return a === undefined ? 'ERR INVALID-ARGUMENT\n' : 'OK\n'
			case 'LIST':
				if (a === 'UPS') {
					const rows = [...this.#ups].map(([n, u]) => `UPS ${n} ${q(u.description ?? 'Description unavailable')}\n`)
					return `BEGIN LIST UPS\n${rows.join('')}END LIST UPS\n`
				}
				if (a === 'VAR') {
					const u = ups(b)
					if (!u || b === undefined) return 'ERR UNKNOWN-UPS\n'
					if (u.stale) return 'ERR DATA-STALE\n'
					const rows = Object.entries(u.vars)
						.sort(([x], [y]) => x.localeCompare(y))
						.map(([k, v]) => `VAR ${b} ${k} ${q(v)}\n`)
					return `BEGIN LIST VAR ${b}\n${rows.join('')}END LIST VAR ${b}\n`
				}
				return 'ERR INVALID-ARGUMENT\n'
			case 'GET':
				if (a === 'VAR') {
					const u = ups(b)
					if (!u || b === undefined) return 'ERR UNKNOWN-UPS\n'
					if (u.stale) return 'ERR DATA-STALE\n'
					if (c === undefined) return 'ERR INVALID-ARGUMENT\n'
					const v = u.vars[c]
					if (v === undefined) return 'ERR VAR-NOT-SUPPORTED\n'
					return `VAR ${b} ${c} ${q(v)}\n`
				}
				if (a === 'UPSDESC') {
					const u = ups(b)
					if (!u) return 'ERR UNKNOWN-UPS\n'
					return `UPSDESC ${b} ${q(u.description ?? 'Description unavailable')}\n`
				}
				return 'ERR INVALID-ARGUMENT\n'
			default:
				return 'ERR UNKNOWN-COMMAND\n'
		}
	}
}
