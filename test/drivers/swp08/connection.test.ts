import { createConnection, type Socket } from 'node:net'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../../src/log.ts'
import { encodeFrame, Swp08Decoder, type Swp08Message } from '../../../drivers/swp08/codec.ts'
import { Swp08Router, type Swp08Options } from '../../../drivers/swp08/connection.ts'
import { Swp08Sim } from '../../../drivers/swp08/sim.ts'
import { RouterError, type RouterEvents } from '../../../drivers/router/types.ts'
import { startPtyPair, type PtyPair } from './socat.ts'
import { monotonicMs } from '../../../src/clock.ts'
import { nextEvent } from '../../support/events.ts'

const sims: Swp08Sim[] = []
const routers: Swp08Router[] = []
const sockets: Socket[] = []
const ptys: PtyPair[] = []

afterEach(async () => {
	for (const s of sockets.splice(0)) s.destroy()
	for (const r of routers.splice(0)) {
		await r.stop()
		expect(r.outstanding).toEqual({ takes: 0, locks: 0, timers: 0 })
		expect(r.timerCount).toBe(0)
	}
	// and no socket: the simulator sees every TCP connection of ours closed
	for (const s of sims) await waitFor(() => s.tcpClientCount === 0)
	for (const s of sims.splice(0)) await s.stop()
	for (const p of ptys.splice(0)) await p.stop()
})

async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
	const until = Date.now() + timeoutMs
	while (!cond()) {
		if (Date.now() > until) throw new Error('condition not met in time')
		await new Promise((r) => setTimeout(r, 5))
	}
}

const fast: Partial<Swp08Options> = {
	keepAliveMs: 200,
	backoffInitialMs: 20,
	backoffMaxMs: 100,
	takeTimeoutMs: 1500,
	ackTimeoutMs: 300,
}

async function setup(simOpts: ConstructorParameters<typeof Swp08Sim>[0] = {}, opts: Partial<Swp08Options> = {}) {
	const sim = new Swp08Sim({ ackTimeoutMs: 100, ...simOpts })
	sims.push(sim)
	const { port } = await sim.start({})
	const router = new Swp08Router({
		deviceId: 'rtr-p',
		transport: { tcp: { host: '127.0.0.1', port } },
		matrix: 0,
		level: 0,
		log: silentLogger,
		size: { inputs: sim.inputs, outputs: sim.outputs },
		...fast,
		...opts,
	})
	routers.push(router)
	router.start()
	await router.whenSynced(3000)
	return { sim, router, port }
}

/** the next matching event of the router (test/support/events.ts) */
function until<K extends keyof RouterEvents>(
	router: Swp08Router,
	name: K,
	filter?: (...args: RouterEvents[K]) => boolean,
	timeoutMs = 4000,
): Promise<RouterEvents[K]> {
	return nextEvent(router, name, { timeoutMs, ...(filter ? { filter } : {}) })
}

const rejection = async (p: Promise<unknown>): Promise<RouterError> => {
	try {
		await p
	} catch (err) {
		expect(err).toBeInstanceOf(RouterError)
		return err as RouterError
	}
	throw new Error('expected a rejection')
}

/** a second controller speaking raw SW-P-08 (it ACKs what it gets, as a controller must) */
async function rawController(port: number) {
	const socket = createConnection({ host: '127.0.0.1', port })
	sockets.push(socket)
	const decoder = new Swp08Decoder()
	const got: Swp08Message[] = []
	socket.on('data', (b: Buffer) => {
		for (const e of decoder.push(b))
			if (e.type === 'frame') {
				got.push(e.message)
				socket.write(Buffer.from([0x10, 0x06]))
			}
	})
	await new Promise<void>((r) => socket.once('connect', () => r()))
	return { send: (m: Swp08Message) => void socket.write(encodeFrame(m)), got }
}

describe('SW-P-08 router over TCP against the simulator', () => {
	it('syncs the whole tally on connect (1-based) and sends no connect of its own', async () => {
		const { router, sim } = await setup({ inputs: 300, outputs: 300 })
		expect(router.routing().size).toBe(300)
		expect(router.routing().get(1)).toBe(1)
		expect(router.routing().get(300)).toBe(300)
		expect(sim.received.get('tally-dump-request')).toBe(1)
		expect(sim.connectRequests).toBe(0)
		expect(router.status()).toMatchObject({ connected: true, synced: true, health: 'ok', locksReported: false })
	})

	it('syncs without a configured size once the dump goes quiet', async () => {
		const { router } = await setup({ inputs: 8, outputs: 8 }, { size: undefined, dumpQuietMs: 50 })
		expect(router.routing().size).toBe(8)
	})

	it('reads a router without tally dump one interrogate at a time (size from the config)', async () => {
		const sim = new Swp08Sim({ inputs: 40, outputs: 40, ackTimeoutMs: 100 })
		sims.push(sim)
		sim.faults.noDump = true
		sim.table()[39] = 7
		const { port } = await sim.start({})
		const router = new Swp08Router({
			deviceId: 'old',
			transport: { tcp: { host: '127.0.0.1', port } },
			matrix: 0,
			level: 0,
			log: silentLogger,
			size: { inputs: 40, outputs: 40 },
			...fast,
			dumpQuietMs: 50,
		})
		routers.push(router)
		router.start()
		await router.whenSynced(3000)
		expect(router.routing().size).toBe(40)
		expect(router.routing().get(40)).toBe(8)
		expect(sim.received.get('interrogate')).toBeGreaterThanOrEqual(40)
		expect(sim.connectRequests).toBe(0)
	})

	it('confirms a take on the CONNECTED tally, keeps commanded apart, and sends nothing for what is on air', async () => {
		const { router, sim } = await setup()
		const r = await router.take(6, 4)
		expect(r).toMatchObject({ output: 6, input: 4, already: false })
		expect(sim.table()[5]).toBe(3)
		expect(router.commanded().get(6)).toBe(4)
		expect(await router.take(6, 4)).toMatchObject({ already: true })
		expect(sim.connectRequests).toBe(1)
	})

	it('confirms a salvo of 100 takes', async () => {
		const { router, sim } = await setup({ inputs: 128, outputs: 128 })
		const takes = Array.from({ length: 100 }, (_, o) => ({ output: o + 1, input: ((o + 13) % 128) + 1 }))
		const out = await router.salvo(takes)
		expect(out.filter((o) => !o.ok)).toEqual([])
		for (const t of takes) expect(sim.table()[t.output - 1]).toBe(t.input - 1)
	})

	it('counts a take timeout from its transmission: a long salvo on a slow line still confirms', async () => {
		const { router, sim } = await setup({}, { takeTimeoutMs: 150 })
		sim.faults.delayMs = 25 // 20 takes one at a time: ~500 ms in all, each well inside 150 ms
		const out = await router.salvo(Array.from({ length: 20 }, (_, o) => ({ output: o + 1, input: 32 - o })))
		expect(out.filter((o) => !o.ok)).toEqual([])
	})

	it('uses the extended commands on a router past 1024 ports', async () => {
		const { router, sim } = await setup({ inputs: 1200, outputs: 1100 })
		expect(router.routing().size).toBe(1100)
		await router.take(1100, 1200)
		expect(sim.table()[1099]).toBe(1199)
		expect(sim.received.get('connect')).toBe(1)
	})

	it('sees a crosspoint changed by another controller within one round trip', async () => {
		const { router, port } = await setup()
		const other = await rawController(port)
		const seen = until(router, 'crosspoint', (e) => e.output === 17)
		const t0 = monotonicMs()
		other.send({ cmd: 'connect', matrix: 0, level: 0, extended: false, dest: 16, src: 9 })
		const [e] = await seen
		// pushed as CONNECTED to every port, not found by the keep-alive interrogate (200 ms here); loose bound
		expect(e.at - t0).toBeLessThan(1000)
		expect(e).toMatchObject({ output: 17, input: 10, previous: 17, ours: false })
		// the other controller got its CONNECTED too (§3.4: to every port)
		await waitFor(() => other.got.some((m) => m.cmd === 'connected'))
		expect(other.got).toContainEqual(expect.objectContaining({ cmd: 'connected', dest: 16, src: 9 }))
	})

	it('serves many controllers at once: CONNECTED reaches every one', async () => {
		const { router, port } = await setup()
		const others = Array.from(
			{ length: 4 },
			(_, i) =>
				new Swp08Router({
					deviceId: `o${i}`,
					transport: { tcp: { host: '127.0.0.1', port } },
					matrix: 0,
					level: 0,
					log: silentLogger,
					size: { inputs: 32, outputs: 32 },
					...fast,
				}),
		)
		routers.push(...others)
		for (const o of others) o.start()
		await Promise.all(others.map((o) => o.whenSynced(3000)))
		const seen = others.map((o) => until(o, 'crosspoint', (e) => e.output === 32 && e.input === 2))
		await router.take(32, 2)
		for (const [e] of await Promise.all(seen)) expect(e).toMatchObject({ ours: false, previous: 32 })
	})

	it('resends after a NAK and after a missing ACK, then confirms', async () => {
		const { router, sim } = await setup()
		sim.faults.nakNext = 2
		await router.take(2, 5)
		expect(router.naks).toBe(2)
		// a resend per NAK (a loaded machine may add one on the ACK timer: never fewer)
		expect(router.resends).toBeGreaterThanOrEqual(2)
		const before = router.resends
		sim.faults.dropNext = 1
		await router.take(3, 5)
		expect(router.naks).toBe(2)
		expect(router.resends).toBeGreaterThanOrEqual(before + 1)
	})

	it('NAKs a corrupted frame from the router, which resends it', async () => {
		const { router, sim } = await setup()
		sim.faults.corruptNext = 2
		expect((await router.take(9, 2)).input).toBe(2)
		expect(router.badFrames).toBe(2)
	})

	it('the simulator NAKs a corrupted frame from a controller and ACKs a good one', async () => {
		const { port } = await setup()
		const socket = createConnection({ host: '127.0.0.1', port })
		sockets.push(socket)
		const got: Buffer[] = []
		socket.on('data', (b: Buffer) => got.push(b))
		await new Promise<void>((r) => socket.once('connect', () => r()))
		const frame = encodeFrame({ cmd: 'interrogate', matrix: 0, level: 0, extended: false, dest: 1 })
		const bad = Buffer.from(frame)
		bad[bad.length - 3] = bad[bad.length - 3]! ^ 0x01
		socket.write(bad)
		await waitFor(() => Buffer.concat(got).length >= 2)
		expect(Buffer.concat(got).subarray(0, 2)).toEqual(Buffer.from([0x10, 0x15]))
		socket.write(frame)
		await waitFor(() => new Swp08Decoder().push(Buffer.concat(got)).some((e) => e.type === 'frame'))
		// (this raw socket never ACKs: the simulator will resend the tally after its ACK timeout)
		const events = new Swp08Decoder().push(Buffer.concat(got))
		expect(events.map((e) => e.type).slice(0, 3)).toEqual(['nak', 'ack', 'frame'])
		expect(events[2]).toMatchObject({ message: { cmd: 'tally', dest: 1, src: 1 } })
	})

	it('rides through line noise: whatever the noise, the next takes confirm', async () => {
		const { router, sim } = await setup({}, { ackTimeoutMs: 100 })
		const noises = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 300 }), { numRuns: 15, seed: 17 })
		for (const [i, noise] of noises.entries()) {
			sim.injectNoise(noise)
			const out = i + 1
			expect((await router.take(out, 32 - i)).input).toBe(32 - i)
		}
		// the noise never became a crosspoint: the table still matches the router's
		await new Promise((r) => setTimeout(r, 50))
		sim.table().forEach((src, dest) => expect(router.routing().get(dest + 1)).toBe(src + 1))
	})

	it('gives up after five resends: nak when NAKed throughout', async () => {
		const { router, sim } = await setup({}, { ackTimeoutMs: 1000 })
		sim.faults.nakNext = 6
		const err = await rejection(router.take(2, 5))
		expect(err.code).toBe('nak')
		expect(err.message).toMatch(/NAKed the connect after 6 sends/)
	})

	it("waits through another controller's CONNECTED queued ahead of ours, then confirms", async () => {
		const { router, sim } = await setup()
		// the router ACKs our connect at once; the other controller's change to the same destination is still
		// queued ahead of our CONNECTED
		sim.faults.ignoreTakes = true
		const p = router.take(12, 30)
		await new Promise((r) => setTimeout(r, 20))
		sim.route(11, 7)
		await new Promise((r) => setTimeout(r, 50))
		sim.route(11, 29)
		expect((await p).input).toBe(30)
	})

	it('refuses a take on a protected destination with a clear error', async () => {
		const { router, sim } = await setup()
		sim.faults.protectedDests.add(3)
		const err = await rejection(router.take(4, 9))
		expect(err.code).toBe('refused')
		expect(err.message).toMatch(/kept output 4 on input 4 after the take of input 9/)
		expect(router.routing().get(4)).toBe(4)
	})

	it('rejects a take in flight when the link drops, and resyncs on reconnect', async () => {
		const { router, sim } = await setup()
		sim.faults.ignoreTakes = true
		const p = router.take(8, 1)
		await new Promise((r) => setTimeout(r, 20))
		sim.dropClients()
		expect((await rejection(p)).code).toBe('disconnected')
		sim.faults.ignoreTakes = false
		await until(router, 'synced')
		expect((await router.take(8, 1)).input).toBe(1)
	})

	it('survives a router restart with the rebooted state', async () => {
		const { router, sim, port } = await setup()
		await sim.stop()
		sim.table()[0] = 20
		await sim.start({ port })
		await until(router, 'crosspoint', (e) => e.output === 1 && e.input === 21)
		expect(router.isSynced()).toBe(true)
	})

	it('drops a router that stops answering, goes stale, and comes back', async () => {
		const { router, sim } = await setup({}, { keepAliveMs: 50, ackTimeoutMs: 30, staleAfterMs: 100 })
		sim.faults.silent = true
		await until(router, 'freshness', (f) => f.stale)
		await until(router, 'connection', (e) => e.state !== 'connected')
		sim.faults.silent = false
		await until(router, 'synced')
		expect(router.freshness()).toMatchObject({ connected: true, stale: false })
	})

	it('keeps the link alive with interrogates only: no connect of its own accord', async () => {
		const { router, sim } = await setup({}, { keepAliveMs: 20 })
		await waitFor(() => (sim.received.get('interrogate') ?? 0) >= 3)
		expect(sim.connectRequests).toBe(0)
		expect(router.freshness().stale).toBe(false)
	})

	it('has no locks to set', async () => {
		const { router } = await setup()
		expect((await rejection(router.lock(1))).code).toBe('unsupported')
	})
})

describe('SW-P-08 router over RS-422 (socat pty pair, 38400 8E1)', () => {
	it('syncs, takes, sees the router panel change a crosspoint, and recovers from NAK', async () => {
		const pty = await startPtyPair()
		ptys.push(pty)
		const sim = new Swp08Sim({ inputs: 16, outputs: 16, ackTimeoutMs: 100 })
		sims.push(sim)
		await sim.start({ serialPath: pty.b })
		const router = new Swp08Router({
			deviceId: 'rtr-serial',
			transport: { serial: { path: pty.a, baudRate: 38400, parity: 'even', dataBits: 8, stopBits: 1 } },
			matrix: 0,
			level: 0,
			log: silentLogger,
			size: { inputs: 16, outputs: 16 },
			...fast,
			keepAliveMs: 50,
		})
		routers.push(router)
		router.start()
		await router.whenSynced(3000)
		expect(router.routing().size).toBe(16)
		expect((await router.take(16, 5)).input).toBe(5)
		const seen = until(router, 'crosspoint', (e) => e.output === 2)
		sim.route(1, 15)
		expect((await seen)[0]).toMatchObject({ output: 2, input: 16, ours: false })
		sim.faults.nakNext = 1
		const before = router.resends
		expect((await router.take(1, 16)).input).toBe(16)
		expect(router.naks).toBe(1)
		expect(router.resends).toBeGreaterThanOrEqual(before + 1)
		const out = await router.salvo(Array.from({ length: 16 }, (_, o) => ({ output: o + 1, input: 16 - o })))
		expect(out.every((o) => o.ok)).toBe(true)
		// the router goes quiet (a cut pair, a reboot): the port is closed and reopened, the tally read again
		sim.faults.silent = true
		await until(router, 'connection', (e) => e.state !== 'connected')
		sim.route(0, 3)
		sim.faults.silent = false
		await until(router, 'synced')
		expect(router.routing().get(1)).toBe(4)
	})
})
