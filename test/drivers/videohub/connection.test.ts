import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../../src/log.ts'
import { VideohubRouter, type VideohubOptions } from '../../../drivers/videohub/connection.ts'
import { VideohubSim } from '../../../drivers/videohub/sim.ts'
import { RouterError, type RouterEvents } from '../../../drivers/router/types.ts'
import { VideohubDecoder, encodeBlock } from '../../../drivers/videohub/codec.ts'
import { createConnection, type Socket } from 'node:net'
import { monotonicMs } from '../../../src/clock.ts'
import { nextEvent } from '../../support/events.ts'

const sims: VideohubSim[] = []
const routers: VideohubRouter[] = []
const sockets: Socket[] = []

afterEach(async () => {
	for (const s of sockets.splice(0)) s.destroy()
	for (const r of routers.splice(0)) {
		await r.stop()
		// nothing left behind: no pending request, no timer, in the router or its link
		expect(r.outstanding).toEqual({ takes: 0, locks: 0, timers: 0 })
		expect(r.timerCount).toBe(0)
	}
	// and no socket: the simulator sees every connection of ours closed
	for (const s of sims) await waitFor(() => s.clientCount === 0)
	for (const s of sims.splice(0)) await s.stop()
})

async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
	const until = Date.now() + timeoutMs
	while (!cond()) {
		if (Date.now() > until) throw new Error('condition not met in time')
		await new Promise((r) => setTimeout(r, 5))
	}
}

async function setup(simOpts: ConstructorParameters<typeof VideohubSim>[0] = {}, opts: Partial<VideohubOptions> = {}) {
	const sim = new VideohubSim(simOpts)
	sims.push(sim)
	const { port } = await sim.start()
	const router = new VideohubRouter({
		deviceId: 'rtr-1',
		host: '127.0.0.1',
		port,
		log: silentLogger,
		pingIntervalMs: 200,
		backoffInitialMs: 20,
		backoffMaxMs: 100,
		takeTimeoutMs: 1000,
		...opts,
	})
	routers.push(router)
	router.start()
	await router.whenSynced(3000)
	return { sim, router, port }
}

/** the next matching event of the router (test/support/events.ts) */
function until<K extends keyof RouterEvents>(
	router: VideohubRouter,
	name: K,
	filter?: (...args: RouterEvents[K]) => boolean,
	timeoutMs = 3000,
): Promise<RouterEvents[K]> {
	return nextEvent(router, name, { timeoutMs, ...(filter ? { filter } : {}) })
}

/** a raw second controller on the same server (another panel or system) */
async function rawClient(
	port: number,
): Promise<{ socket: Socket; send: (text: string) => void; blocks: () => unknown[] }> {
	const socket = createConnection({ host: '127.0.0.1', port })
	sockets.push(socket)
	const decoder = new VideohubDecoder()
	const got: unknown[] = []
	socket.on('data', (b: Buffer) => got.push(...decoder.push(b)))
	await new Promise<void>((r) => socket.once('connect', () => r()))
	return { socket, send: (t) => void socket.write(t), blocks: () => got }
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

describe('Videohub router against the simulator', () => {
	it('syncs the full tally and locks on connect, 1-based, without sending any routing request', async () => {
		const { router, sim } = await setup({ inputs: 12, outputs: 8, routing: [3, 2, 1, 0, 11, 5, 6, 7] })
		expect(router.size()).toEqual({ inputs: 12, outputs: 8 })
		expect(router.routing().get(1)).toBe(4)
		expect(router.routing().get(5)).toBe(12)
		expect(router.routing().size).toBe(8)
		expect([...router.locks().values()].every((l) => l === 'unlocked')).toBe(true)
		expect(router.inputStatus().get(1)).toBe('BNC')
		expect(router.status()).toMatchObject({ connected: true, synced: true, health: 'ok' })
		expect(router.status().model).toMatch(/Videohub/)
		expect(router.commanded().size).toBe(0)
		expect(sim.routingRequests).toBe(0)
	})

	it('syncs with a server that sends no END PRELUDE nor input status (older 2.x), and with a 288x288 router', async () => {
		const old = await setup({ endPrelude: false, inputStatus: false, version: '2.2' })
		expect(old.router.routing().size).toBe(16)
		expect(old.router.inputStatus().size).toBe(0)
		expect(old.router.status().protocolVersion).toBe('2.2')
		const big = await setup({ inputs: 288, outputs: 288 })
		expect(big.router.routing().size).toBe(288)
		expect(big.router.locks().size).toBe(288)
		expect((await big.router.take(288, 1)).input).toBe(1)
	})

	it('confirms a take only on the router tally, and keeps commanded apart from confirmed', async () => {
		const { router, sim } = await setup()
		const events: RouterEvents['crosspoint'][0][] = []
		router.on('crosspoint', (e) => events.push(e))
		const r = await router.take(3, 9)
		expect(r).toMatchObject({ output: 3, input: 9, already: false })
		expect(r.confirmedAt).toBeGreaterThanOrEqual(r.sentAt)
		expect(sim.routingTable()[2]).toBe(8)
		expect(router.routing().get(3)).toBe(9)
		expect(router.commanded().get(3)).toBe(9)
		expect(events).toEqual([expect.objectContaining({ output: 3, input: 9, previous: 3, ours: true })])
		// a take of what is already on air sends nothing
		const before = sim.routingRequests
		expect(await router.take(3, 9)).toMatchObject({ already: true })
		expect(sim.routingRequests).toBe(before)
	})

	it('confirms a salvo of many takes sent as one block', async () => {
		const { router, sim } = await setup({ inputs: 40, outputs: 40 })
		const takes = Array.from({ length: 40 }, (_, o) => ({ output: o + 1, input: ((o + 7) % 40) + 1 }))
		const out = await router.salvo(takes)
		expect(out.every((o) => o.ok)).toBe(true)
		expect(sim.routingRequests).toBe(1)
		for (const t of takes) expect(router.routing().get(t.output)).toBe(t.input)
	})

	it('sees a crosspoint changed by another client within one round trip', async () => {
		const { router, port } = await setup()
		const other = await rawClient(port)
		const seen = until(router, 'crosspoint', (e) => e.output === 5)
		const t0 = monotonicMs()
		other.send(encodeBlock({ kind: 'routing', target: 'video', entries: [{ output: 4, input: 10 }] }))
		const [e] = await seen
		// pushed by the server, not found by polling: well inside one PING period (200 ms here); loose bound
		expect(e.at - t0).toBeLessThan(1000)
		expect(e).toMatchObject({ output: 5, input: 11, previous: 5, ours: false })
		expect(router.routing().get(5)).toBe(11)
		expect(router.commanded().has(5)).toBe(false)
	})

	it('serves many controllers at once: one takes, every other one sees the change', async () => {
		const { router, port } = await setup()
		const others = Array.from(
			{ length: 4 },
			(_, i) => new VideohubRouter({ deviceId: `o${i}`, host: '127.0.0.1', port, log: silentLogger }),
		)
		routers.push(...others)
		for (const o of others) o.start()
		await Promise.all(others.map((o) => o.whenSynced(3000)))
		const seen = others.map((o) => until(o, 'crosspoint', (e) => e.output === 16 && e.input === 2))
		await router.take(16, 2)
		for (const [e] of await Promise.all(seen)) expect(e).toMatchObject({ ours: false, previous: 16 })
	})

	it('refuses a take on an output locked by another client, with a clear error and nothing sent', async () => {
		const { router, sim, port } = await setup()
		const other = await rawClient(port)
		const locked = until(router, 'lock', (e) => e.output === 2 && e.lock === 'theirs')
		other.send(encodeBlock({ kind: 'locks', target: 'video', entries: [{ port: 1, lock: 'O' }] }))
		await locked
		const before = sim.routingRequests
		const err = await rejection(router.take(2, 7))
		expect(err.code).toBe('locked')
		expect(err.message).toMatch(/output 2 of router rtr-1 is locked by another controller/)
		expect(sim.routingRequests).toBe(before)
		// and our own lock never forces theirs
		expect((await rejection(router.unlock(2))).code).toBe('locked')
	})

	it('locks and unlocks an output of ours, seen as theirs by another client; never unlocks implicitly', async () => {
		const { router, sim, port } = await setup()
		await router.lock(4)
		expect(router.locks().get(4)).toBe('ours')
		expect((await router.take(4, 2)).input).toBe(2) // our own lock does not stop our takes
		const other = await rawClient(port)
		await waitFor(() => other.blocks().some((b) => (b as { kind: string }).kind === 'end-prelude'))
		expect(other.blocks()).toContainEqual({
			kind: 'locks',
			target: 'video',
			entries: Array.from({ length: 16 }, (_, o) => ({ port: o, lock: o === 3 ? 'L' : 'U' })),
		})
		// the other client cannot route our locked output
		const before = other.blocks().length
		other.send(encodeBlock({ kind: 'routing', target: 'video', entries: [{ output: 3, input: 0 }] }))
		await waitFor(() => other.blocks().length > before)
		expect(other.blocks().slice(before)).toEqual([{ kind: 'nak' }])
		expect(sim.routingTable()[3]).toBe(1)
		await router.unlock(4)
		expect(router.locks().get(4)).toBe('unlocked')
	})

	it('never sends an unlock it was not asked for, nor a forced unlock, across takes and reconnects', async () => {
		const { router, sim, port } = await setup()
		await router.lock(1)
		await router.take(1, 5)
		await router.take(2, 6)
		sim.lockByPanel(2)
		expect((await rejection(router.take(3, 1))).code).toBe('locked')
		await sim.stop()
		await sim.start({ port })
		await until(router, 'synced')
		await router.take(4, 4)
		const lockRequests = sim.received.filter((b) => b.kind === 'locks' && b.entries.length > 0)
		expect(lockRequests).toEqual([{ kind: 'locks', target: 'video', entries: [{ port: 0, lock: 'O' }] }])
		await router.stop()
		routers.splice(0)
		expect(router.timerCount).toBe(0)
		// stopping sends nothing either: the server releases a session's locks itself
		expect(sim.received.filter((b) => b.kind === 'locks' && b.entries.length > 0)).toHaveLength(1)
	})

	it('a newer take of the same output supersedes the one still waiting', async () => {
		const { router, sim } = await setup()
		sim.faults.ignoreTakes = true
		const first = router.take(7, 1)
		await new Promise((r) => setTimeout(r, 20))
		sim.faults.ignoreTakes = false
		const second = router.take(7, 2)
		expect((await rejection(first)).code).toBe('superseded')
		expect((await second).input).toBe(2)
		expect(router.commanded().get(7)).toBe(2)
	})

	it('rejects with nak when the router refuses the take', async () => {
		const { router, sim } = await setup()
		sim.faults.refuseTakes = true
		const err = await rejection(router.take(1, 2))
		expect(err.code).toBe('nak')
		expect(router.routing().get(1)).toBe(1)
		expect(router.commanded().get(1)).toBe(2)
	})

	it('rejects with timeout when the router acknowledges but its tally never confirms', async () => {
		const { router, sim } = await setup()
		sim.faults.ignoreTakes = true
		const err = await rejection(router.take(1, 2, { timeoutMs: 150 }))
		expect(err.code).toBe('timeout')
		expect(err.message).toMatch(/did not confirm output 1 to input 2 within 150 ms \(its tally shows input 1\)/)
	})

	it('rejects a take in flight when the link drops, then resyncs on reconnect', async () => {
		const { router, sim } = await setup()
		sim.faults.ignoreTakes = true
		const p = router.take(8, 3)
		await new Promise((r) => setTimeout(r, 20))
		sim.dropClients()
		const err = await rejection(p)
		expect(err.code).toBe('disconnected')
		sim.faults.ignoreTakes = false
		await until(router, 'synced')
		expect((await router.take(8, 3)).input).toBe(3)
	})

	it('survives a router restart: disconnected, reconnected, resynced with the rebooted state, events for changes', async () => {
		const { router, sim, port } = await setup()
		const states: string[] = []
		router.on('connection', (e) => states.push(e.state))
		await sim.stop()
		sim.route(0, 15) // changed while the router was "off" (e.g. its saved state differs)
		await sim.start({ port })
		const changed = until(router, 'crosspoint', (e) => e.output === 1 && e.input === 16)
		await until(router, 'synced')
		await changed
		expect(states).toContain('backoff')
		expect(states.at(-1)).toBe('connected')
		expect(router.isSynced()).toBe(true)
	})

	it('drops a silent router after missed PINGs, goes stale, and reconnects when it answers again', async () => {
		const { router, sim } = await setup({}, { pingIntervalMs: 50, missedPings: 2, staleAfterMs: 80 })
		sim.faults.silent = true
		await until(router, 'freshness', (f) => f.stale)
		await until(router, 'connection', (e) => e.state !== 'connected')
		expect(router.freshness().connected).toBe(false)
		sim.faults.silent = false
		await until(router, 'synced')
		expect(router.freshness()).toMatchObject({ connected: true, stale: false })
	})

	it('the simulator NAKs what it does not understand or cannot do, and ACKs a PING', async () => {
		const { port } = await setup({ inputs: 4, outputs: 4 })
		const other = await rawClient(port)
		await waitFor(() => other.blocks().some((b) => (b as { kind: string }).kind === 'end-prelude'))
		const before = other.blocks().length
		other.send('FOO BAR:\n1 2\n\n')
		other.send('not a header\n\n')
		other.send(encodeBlock({ kind: 'routing', target: 'video', entries: [{ output: 9, input: 0 }] }))
		other.send(encodeBlock({ kind: 'ping' }))
		await waitFor(() => other.blocks().length >= before + 4)
		expect(other.blocks().slice(before)).toEqual([{ kind: 'nak' }, { kind: 'nak' }, { kind: 'nak' }, { kind: 'ack' }])
	})

	it('refuses out-of-range ports before anything is sent', async () => {
		const { router, sim } = await setup({ inputs: 4, outputs: 4 })
		expect((await rejection(router.take(5, 1))).code).toBe('out-of-range')
		expect((await rejection(router.take(1, 0))).code).toBe('out-of-range')
		expect(sim.routingRequests).toBe(0)
	})

	it('rejects takes before the first sync and when stopped', async () => {
		const sim = new VideohubSim()
		sims.push(sim)
		const { port } = await sim.start()
		const router = new VideohubRouter({ deviceId: 'r', host: '127.0.0.1', port, log: silentLogger })
		routers.push(router)
		expect((await rejection(router.take(1, 1))).code).toBe('disconnected')
		router.start()
		await router.whenSynced(2000)
		await router.stop()
		expect((await rejection(router.take(1, 2))).code).toBe('stopped')
	})

	it('starts and stops many times without moving a crosspoint', async () => {
		const sim = new VideohubSim()
		sims.push(sim)
		const { port } = await sim.start()
		for (let i = 0; i < 5; i++) {
			const r = new VideohubRouter({ deviceId: 'r', host: '127.0.0.1', port, log: silentLogger })
			r.start()
			await r.whenSynced(2000)
			await r.stop()
			expect(r.timerCount).toBe(0)
		}
		expect(sim.routingRequests).toBe(0)
	})
})
