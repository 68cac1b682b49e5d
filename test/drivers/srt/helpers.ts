// Test support for the SRT driver: free loopback ports, real peers started and stopped by pid, a UDP collector
// for the relayed output, and counters of this process's threads and file descriptors.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import dgram from 'node:dgram'
import { readdirSync } from 'node:fs'
import { pino } from 'pino'
import type { ResolvedSrtDriver } from '../../../src/domain/drivers.ts'
import type { DriverContext } from '../../../drivers/types.ts'

export const ctx: DriverContext = { log: pino({ level: 'silent' }) }

/** A free UDP port on 127.0.0.1 (SRT is UDP; srt-live-transmit refuses ports < 1024, the kernel never gives those). */
export async function freeUdpPort(): Promise<number> {
	const s = dgram.createSocket('udp4')
	await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
	const { port } = s.address()
	await new Promise<void>((r) => s.close(() => r()))
	return port
}

export function sleep(ms: number): Promise<void> {
	return new Promise((r) => setTimeout(r, ms))
}

export async function waitFor(
	what: string,
	cond: () => boolean,
	timeoutMs = 10_000,
	stepMs = 10,
	context?: () => string,
): Promise<void> {
	const end = Date.now() + timeoutMs
	while (!cond()) {
		if (Date.now() > end)
			throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${context ? ` (${context()})` : ''}`)
		await sleep(stepMs)
	}
}

/** Fails (never skips) when a peer binary is missing, naming the package that provides it. */
export function requireBinary(bin: string, pkg: string): string {
	const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' })
	const path = r.stdout.trim()
	if (r.status !== 0 || path === '')
		throw new Error(`${bin} is not installed: sudo apt-get install -y ${pkg} (or: node scripts/setup.mjs --test)`)
	return path
}

export interface Peer {
	child: ChildProcess
	output: () => string
	/** kills by pid (SIGKILL by default: a crashed sender) and waits for the exit */
	kill: (signal?: NodeJS.Signals) => Promise<void>
}

const peers = new Set<Peer>()

export function startPeer(bin: string, args: string[]): Peer {
	const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
	let out = ''
	child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
	child.stderr?.on('data', (d: Buffer) => (out += d.toString()))
	const exited = new Promise<void>((r) => child.once('exit', () => r()))
	const peer: Peer = {
		child,
		output: () => out,
		kill: async (signal = 'SIGKILL') => {
			if (child.exitCode === null && child.signalCode === null && child.pid !== undefined)
				process.kill(child.pid, signal)
			await exited
			peers.delete(peer)
		},
	}
	peers.add(peer)
	return peer
}

/** Kills every peer a test left running (afterEach). */
export async function killPeers(): Promise<void> {
	await Promise.all([...peers].map((p) => p.kill()))
}

export function livePeers(): number {
	return peers.size
}

/** Collects the datagrams relayed to a loopback UDP port. */
export class UdpCollector {
	readonly datagrams: Buffer[] = []
	bytes = 0
	keep = true
	readonly #socket

	constructor(private readonly host = '127.0.0.1') {
		this.#socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4')
	}

	async start(): Promise<number> {
		this.#socket.on('message', (m) => {
			this.bytes += m.length
			if (this.keep) this.datagrams.push(m)
		})
		await new Promise<void>((r) => this.#socket.bind(0, this.host, r))
		return this.#socket.address().port
	}

	async stop(): Promise<void> {
		await new Promise<void>((r) => this.#socket.close(() => r()))
	}
}

/** Sends datagrams to a UDP port at a steady pace (feeds srt-live-transmit's udp:// input). */
export class UdpFeeder {
	readonly #socket = dgram.createSocket('udp4')
	#timer: NodeJS.Timeout | undefined
	sent = 0

	constructor(
		private readonly port: number,
		private readonly make: (n: number) => Uint8Array,
		private readonly perTick: number,
		private readonly tickMs = 5,
	) {}

	start(): void {
		this.#timer = setInterval(() => {
			for (let i = 0; i < this.perTick; i++) this.#socket.send(this.make(this.sent++), this.port, '127.0.0.1')
		}, this.tickMs)
	}

	async stop(): Promise<void> {
		if (this.#timer) clearInterval(this.#timer)
		this.#timer = undefined
		await new Promise<void>((r) => this.#socket.close(() => r()))
	}
}

export function processCounts(): { threads: number; fds: number } {
	return { threads: readdirSync('/proc/self/task').length, fds: readdirSync('/proc/self/fd').length }
}

/** An SRT driver config with the schema's defaults, as the zod parse would give it, secrets resolved. */
export function srtConfig(
	over: Partial<ResolvedSrtDriver> & Pick<ResolvedSrtDriver, 'mode' | 'port'>,
): ResolvedSrtDriver {
	return {
		type: 'srt',
		bind: '127.0.0.1',
		latencyMs: 120,
		pbkeylen: 16,
		payloadSize: 1316,
		connectTimeoutMs: 3000,
		lossRate: 0.02,
		silenceMs: 50,
		statsIntervalMs: 1000,
		...over,
	}
}
