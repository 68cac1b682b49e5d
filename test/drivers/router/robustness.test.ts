// Both drivers against hand-written peers that misbehave: line noise before a good dump, a dump dribbled out one
// byte per write, a Videohub server with no router behind it. Nothing throws; each resyncs on the next good data.
import { createServer, type Server, type Socket } from 'node:net'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../../src/log.ts'
import { VideohubRouter } from '../../../drivers/videohub/connection.ts'
import { encodeBlock, type Block } from '../../../drivers/videohub/codec.ts'
import { Swp08Router } from '../../../drivers/swp08/connection.ts'
import { encodeFrame } from '../../../drivers/swp08/codec.ts'

const servers: Server[] = []
const routers: (VideohubRouter | Swp08Router)[] = []

afterEach(async () => {
	for (const r of routers.splice(0)) {
		await r.stop()
		expect(r.timerCount).toBe(0)
	}
	for (const s of servers.splice(0)) {
		s.closeAllConnections?.()
		await new Promise<void>((r) => s.close(() => r()))
	}
})

/** a one-shot peer: `onClient` writes what it likes */
async function peer(onClient: (s: Socket) => void): Promise<number> {
	const sockets = new Set<Socket>()
	const server = createServer((s) => {
		sockets.add(s)
		s.on('error', () => s.destroy())
		s.on('close', () => sockets.delete(s))
		onClient(s)
	})
	;(server as Server & { closeAllConnections?: () => void }).closeAllConnections = () => {
		for (const s of sockets) s.destroy()
	}
	servers.push(server)
	await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
	const a = server.address()
	return typeof a === 'object' && a ? a.port : 0
}

declare module 'node:net' {
	interface Server {
		closeAllConnections?: () => void
	}
}

const prelude = (outputs: number): Block[] => [
	{ kind: 'preamble', version: '2.3' },
	{ kind: 'device', device: { present: 'true', model: 'fake', videoInputs: outputs, videoOutputs: outputs } },
	{
		kind: 'locks',
		target: 'video',
		entries: Array.from({ length: outputs }, (_, o) => ({ port: o, lock: 'U' as const })),
	},
	{ kind: 'routing', target: 'video', entries: Array.from({ length: outputs }, (_, o) => ({ output: o, input: 0 })) },
]

const writeSlowly = async (s: Socket, bytes: Buffer): Promise<void> => {
	for (const b of bytes) {
		if (s.destroyed) return
		s.write(Buffer.from([b]))
		await new Promise((r) => setImmediate(r))
	}
}

describe('Videohub driver against misbehaving peers', () => {
	it('syncs after random line noise, and from a dump dribbled out one byte per write', async () => {
		const noise = fc.sample(fc.uint8Array({ minLength: 100, maxLength: 3000 }), { numRuns: 1, seed: 4 })[0]!
		const port = await peer((s) => {
			// the noise may end mid-line or mid-block: a newline and a blank line close whatever it opened
			void writeSlowly(
				s,
				Buffer.concat([Buffer.from(noise), Buffer.from('\n\n'), Buffer.from(prelude(4).map(encodeBlock).join(''))]),
			)
			s.on('data', () => undefined) // the dump requests are answered by the prelude already sent
		})
		const r = new VideohubRouter({ deviceId: 'v', host: '127.0.0.1', port, log: silentLogger })
		routers.push(r)
		r.start()
		await r.whenSynced(5000)
		expect([...r.routing().values()]).toEqual([1, 1, 1, 1])
	})

	it('starts the session over when the server reports another router behind it', async () => {
		let first = true
		const port = await peer((s) => {
			s.on('data', () => undefined)
			if (first) {
				first = false
				s.write(prelude(4).map(encodeBlock).join(''))
				// the server finds a bigger router: every block but the preamble again (manual, Device Information)
				setTimeout(() => s.write(prelude(8).slice(1).map(encodeBlock).join('')), 100)
			} else s.write(prelude(8).map(encodeBlock).join(''))
		})
		const r = new VideohubRouter({ deviceId: 'v', host: '127.0.0.1', port, log: silentLogger, backoffInitialMs: 20 })
		routers.push(r)
		const states: string[] = []
		r.on('connection', (e) => states.push(e.state))
		r.start()
		await r.whenSynced(3000)
		expect(r.size()).toEqual({ inputs: 4, outputs: 4 })
		await new Promise<void>((resolve) => r.on('synced', () => r.size()?.outputs === 8 && resolve()))
		expect(r.routing().size).toBe(8)
		expect(states).toContain('backoff')
	})

	it('reports a server with no router as down, never synced, and refuses takes', async () => {
		const port = await peer((s) => {
			s.write(encodeBlock({ kind: 'preamble', version: '2.3' }))
			s.write(encodeBlock({ kind: 'device', device: { present: 'false' } }))
		})
		const r = new VideohubRouter({ deviceId: 'v', host: '127.0.0.1', port, log: silentLogger })
		routers.push(r)
		r.start()
		await expect(r.whenSynced(300)).rejects.toThrow(/connected but its tally was not read within 300 ms/)
		expect(r.status()).toMatchObject({
			connected: true,
			synced: false,
			health: 'down',
			problem: expect.stringMatching(/no router connected/) as unknown,
		})
		await expect(r.take(1, 1)).rejects.toMatchObject({ code: 'not-synced' })
	})
})

describe('SW-P-08 driver against misbehaving peers', () => {
	it('NAKs noise, then syncs from good dump frames dribbled out one byte per write', async () => {
		const noise = fc.sample(fc.uint8Array({ minLength: 100, maxLength: 2000 }), { numRuns: 1, seed: 8 })[0]!
		const received: Buffer[] = []
		const port = await peer((s) => {
			s.on('data', (b: Buffer) => {
				received.push(b)
				if (received.length === 1) {
					// answer the dump request: ACK it, then noise, then DLE ETX to close any frame the noise opened
					const dump = encodeFrame({
						cmd: 'tally-dump-byte',
						matrix: 0,
						level: 0,
						extended: false,
						firstDest: 0,
						sources: [3, 2, 1, 0],
					})
					void writeSlowly(
						s,
						Buffer.concat([Buffer.from([0x10, 0x06]), Buffer.from(noise), Buffer.from([0x10, 0x03]), dump]),
					)
				}
			})
		})
		const r = new Swp08Router({
			deviceId: 'p',
			transport: { tcp: { host: '127.0.0.1', port } },
			matrix: 0,
			level: 0,
			log: silentLogger,
			size: { inputs: 4, outputs: 4 },
		})
		routers.push(r)
		r.start()
		await r.whenSynced(5000)
		expect([...r.routing().entries()]).toEqual([
			[1, 4],
			[2, 3],
			[3, 2],
			[4, 1],
		])
		// the good dump frame was ACKed (the bytes may still be on their way)
		for (let i = 0; i < 100 && !Buffer.concat(received).includes(Buffer.from([0x10, 0x06])); i++)
			await new Promise((res) => setTimeout(res, 10))
		expect(Buffer.concat(received).includes(Buffer.from([0x10, 0x06]))).toBe(true)
	})

	it('ignores tallies of other matrices and levels', async () => {
		const port = await peer((s) => {
			s.on('data', () => {
				s.write(Buffer.from([0x10, 0x06]))
				s.write(
					encodeFrame({ cmd: 'tally-dump-byte', matrix: 1, level: 0, extended: false, firstDest: 0, sources: [9, 9] }),
				)
				s.write(
					encodeFrame({ cmd: 'tally-dump-byte', matrix: 0, level: 2, extended: false, firstDest: 0, sources: [1, 0] }),
				)
			})
		})
		const r = new Swp08Router({
			deviceId: 'p',
			transport: { tcp: { host: '127.0.0.1', port } },
			matrix: 0,
			level: 2,
			log: silentLogger,
			size: { inputs: 16, outputs: 2 },
		})
		routers.push(r)
		r.start()
		await r.whenSynced(3000)
		expect([...r.routing().entries()]).toEqual([
			[1, 2],
			[2, 1],
		])
	})
})
