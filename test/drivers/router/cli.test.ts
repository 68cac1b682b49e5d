// `sigpath take` and `sigpath probe` for routers (docs/contract.md §1), against both simulators: TCP, and SW-P-08 serial
// over a socat pty pair.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../../src/cli/main.ts'
import { silentLogger } from '../../../src/log.ts'
import { Swp08Router } from '../../../drivers/swp08/connection.ts'
import { Swp08Sim } from '../../../drivers/swp08/sim.ts'
import { VideohubSim } from '../../../drivers/videohub/sim.ts'
import { startPtyPair, type PtyPair } from '../swp08/socat.ts'

let dir: string
const sims: (VideohubSim | Swp08Sim)[] = []
const ptys: PtyPair[] = []

beforeAll(() => {
	dir = mkdtempSync(join(tmpdir(), 'sigpath-take-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))
afterEach(async () => {
	for (const s of sims.splice(0)) await s.stop()
	for (const p of ptys.splice(0)) await p.stop()
})

function config(devices: string): string {
	const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`)
	writeFileSync(file, `site: { id: test }\ndevices:\n${devices}`)
	return file
}

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
	let out = ''
	let err = ''
	const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) })
	return { code, out, err }
}

async function videohub(opts: ConstructorParameters<typeof VideohubSim>[0] = {}) {
	const sim = new VideohubSim(opts)
	sims.push(sim)
	const { port } = await sim.start()
	return { sim, port }
}

describe('sigpath take', () => {
	it('routes on a Videohub and exits 0 once the tally confirms (1-based ports)', async () => {
		const { sim, port } = await videohub()
		const file = config(
			`  - { id: rtr-1, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${port} }, size: { inputs: 16, outputs: 16 } }\n`,
		)
		const r = await run('take', file, 'rtr-1', '3', '12')
		expect(r).toMatchObject({ code: 0, err: '' })
		expect(r.out).toMatch(/^rtr-1: output 3 on input 12, confirmed by the router's tally in [\d.]+ ms\n$/)
		expect(sim.routingTable()[2]).toBe(11)
		expect((await run('take', file, 'rtr-1', '3', '12')).out).toMatch(/already on input 12/)
	})

	it('exits 2 before sending anything for a port outside the configured size, an unknown device, or a bad number', async () => {
		const { sim, port } = await videohub()
		const file = config(
			`  - { id: rtr-1, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${port} }, size: { inputs: 16, outputs: 8 } }\n  - { id: enc, role: encoder }\n`,
		)
		const out = await run('take', file, 'rtr-1', '9', '1')
		expect(out.code).toBe(2)
		expect(out.err).toMatch(/output 9 is outside router "rtr-1" \(outputs 1-8\): nothing was sent/)
		expect((await run('take', file, 'rtr-9', '1', '1')).err).toMatch(/unknown device "rtr-9"/)
		expect((await run('take', file, 'enc', '1', '1')).code).toBe(2)
		expect((await run('take', file, 'rtr-1', '0', '1')).code).toBe(2)
		expect((await run('take', file, 'rtr-1', '1', 'x')).code).toBe(2)
		expect(sim.routingRequests).toBe(0)
	})

	it('exits 2 when the router itself reports a smaller size than the port (no size in the config)', async () => {
		const { sim, port } = await videohub({ inputs: 4, outputs: 4 })
		const file = config(`  - { id: r, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${port} } }\n`)
		const out = await run('take', file, 'r', '1', '5')
		expect(out.code).toBe(2)
		expect(out.err).toMatch(/input 5 is outside router r \(1-4\): nothing was sent/)
		expect(sim.routingRequests).toBe(0)
	})

	it('exits 2 when the Videohub reports fewer ports than the config says: its own size wins, nothing is sent', async () => {
		const { sim, port } = await videohub({ inputs: 4, outputs: 4 })
		const file = config(
			`  - { id: r, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${port} }, size: { inputs: 16, outputs: 16 } }\n`,
		)
		const out = await run('take', file, 'r', '6', '1')
		expect(out).toEqual({
			code: 2,
			out: '',
			err: 'sigpath take: output 6 is outside router r (1-4): nothing was sent\n',
		})
		expect(sim.routingRequests).toBe(0)
	})

	it('exits 2 with one line naming the SW-P-08 limit for a port past 65536, and sends nothing', async () => {
		const sim = new Swp08Sim({ inputs: 8, outputs: 8 })
		sims.push(sim)
		const { port } = await sim.start({})
		// no size in the config: the protocol's own limit is all there is to check against
		const file = config(`  - { id: p, role: router, driver: { type: swp08, host: 127.0.0.1, port: ${port} } }\n`)
		for (const [o, i, line] of [
			['1', '70000', 'input 70000 is beyond what SW-P-08 can carry (ports 1-65536): nothing was sent'],
			['65537', '1', 'output 65537 is beyond what SW-P-08 can carry (ports 1-65536): nothing was sent'],
			['1', '123456789012', 'input 123456789012 is beyond what SW-P-08 can carry (ports 1-65536): nothing was sent'],
		] as const) {
			const out = await run('take', file, 'p', o, i, '--json')
			expect(out).toEqual({ code: 2, out: '', err: `sigpath take: ${line}\n` })
		}
		expect(sim.connectRequests).toBe(0)
	})

	it('refuses a port past the SW-P-08 limit in the driver itself: out-of-range, nothing sent, nothing left waiting', async () => {
		const sim = new Swp08Sim({ inputs: 8, outputs: 8 })
		sims.push(sim)
		const { port } = await sim.start({})
		const router = new Swp08Router({
			deviceId: 'p',
			transport: { tcp: { host: '127.0.0.1', port } },
			matrix: 0,
			level: 0,
			log: silentLogger,
		})
		router.start()
		try {
			await router.whenSynced(3000)
			await expect(router.take(1, 65537)).rejects.toMatchObject({ code: 'out-of-range' })
			const salvo = await router.salvo([
				{ output: 70000, input: 1 },
				{ output: 2, input: 3 },
			])
			expect(salvo.map((x) => x.ok)).toEqual([false, true])
			expect(sim.connectRequests).toBe(1)
		} finally {
			await router.stop()
		}
		expect(router.outstanding).toEqual({ takes: 0, locks: 0, timers: 0 })
	})

	it('routes past 1024 ports on SW-P-08 in the extended form', async () => {
		const sim = new Swp08Sim({ inputs: 2048, outputs: 4 })
		sims.push(sim)
		const { port } = await sim.start({})
		const file = config(`  - { id: p, role: router, driver: { type: swp08, host: 127.0.0.1, port: ${port} } }\n`)
		const out = await run('take', file, 'p', '2', '1500')
		expect(out).toMatchObject({ code: 0, err: '' })
		expect(sim.table()[1]).toBe(1499)
	})

	it('exits 1 with a clear message when the output is locked by another controller', async () => {
		const { sim, port } = await videohub()
		sim.lockByPanel(0)
		const file = config(`  - { id: r, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${port} } }\n`)
		const out = await run('take', file, 'r', '1', '2')
		expect(out.code).toBe(1)
		expect(out.err).toBe('sigpath take: output 1 of router r is locked by another controller: nothing was sent\n')
	})

	it('exits 1 when the router acknowledges but never confirms, or cannot be reached', async () => {
		const { sim, port } = await videohub()
		sim.faults.ignoreTakes = true
		const file = config(`  - { id: r, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${port} } }\n`)
		const out = await run('take', file, 'r', '1', '2', '--timeout', '1')
		expect(out.code).toBe(1)
		expect(out.err).toMatch(/did not confirm output 1 to input 2 within 1000 ms \(its tally shows input 1\)/)
		await sim.stop()
		const down = await run('take', file, 'r', '1', '2', '--timeout', '0.3')
		expect(down.code).toBe(1)
		expect(down.err).toMatch(/not reachable within 300 ms/)
	})

	it('exits 1 when the router refuses: a Videohub NAK, a protected SW-P-08 destination', async () => {
		const { sim, port } = await videohub()
		sim.faults.refuseTakes = true
		const file = config(`  - { id: r, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${port} } }\n`)
		const out = await run('take', file, 'r', '1', '2')
		expect(out).toMatchObject({ code: 1, out: '' })
		expect(out.err).toBe('sigpath take: router r answered NAK (output 1 to input 2)\n')
		const p8 = new Swp08Sim({ inputs: 8, outputs: 8 })
		sims.push(p8)
		p8.faults.protectedDests.add(0)
		const { port: p8port } = await p8.start({})
		const file8 = config(
			`  - { id: p, role: router, driver: { type: swp08, host: 127.0.0.1, port: ${p8port} }, size: { inputs: 8, outputs: 8 } }\n`,
		)
		const refused = await run('take', file8, 'p', '1', '5', '--json')
		expect(refused.code).toBe(1)
		expect(JSON.parse(refused.out)).toMatchObject({ ok: false, code: 'refused', output: 1, input: 5 })
		expect(refused.err).toMatch(/kept output 1 on input 1 after the take of input 5/)
	})

	it('routes on a SW-P-08 router over TCP', async () => {
		const sim = new Swp08Sim({ inputs: 64, outputs: 64 })
		sims.push(sim)
		const { port } = await sim.start({})
		const file = config(
			`  - { id: p, role: router, driver: { type: swp08, host: 127.0.0.1, port: ${port} }, size: { inputs: 64, outputs: 64 } }\n`,
		)
		const out = await run('take', file, 'p', '64', '1', '--json')
		expect(out.code).toBe(0)
		expect(JSON.parse(out.out)).toMatchObject({ device: 'p', ok: true, output: 64, input: 1, already: false })
		expect(sim.table()[63]).toBe(0)
	})

	it('routes on a SW-P-08 router over RS-422 (socat pty pair, 38400 8E1)', async () => {
		const pty = await startPtyPair()
		ptys.push(pty)
		const sim = new Swp08Sim({ inputs: 16, outputs: 16 })
		sims.push(sim)
		await sim.start({ serialPath: pty.b })
		const file = config(
			`  - id: p\n    role: router\n    driver: { type: swp08, serial: { path: ${pty.a} } }\n    size: { inputs: 16, outputs: 16 }\n`,
		)
		const out = await run('take', file, 'p', '16', '2')
		expect(out).toMatchObject({ code: 0, err: '' })
		expect(sim.table()[15]).toBe(1)
	})

	it('runs as the real command (npm run sigpath -- take ...)', async () => {
		const { sim, port } = await videohub()
		const file = config(`  - { id: r, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${port} } }\n`)
		const { stdout } = await promisify(execFile)(
			process.execPath,
			['--import', 'tsx', 'src/cli/main.ts', 'take', file, 'r', '2', '7'],
			{ cwd: join(import.meta.dirname, '../../..') },
		)
		expect(stdout).toMatch(/^r: output 2 on input 7, confirmed/)
		expect(sim.routingTable()[1]).toBe(6)
	})
})

describe('sigpath probe for routers', () => {
	it('prints the Videohub routing and locks 1-based, with size, labels and input status', async () => {
		const { sim, port } = await videohub({ inputs: 4, outputs: 4, routing: [3, 2, 1, 0] })
		sim.lockByPanel(1)
		sim.setInputStatus(2, 'None')
		const file = config(`  - { id: r, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${port} } }\n`)
		const out = await run('probe', file, 'r')
		expect(out.code).toBe(0)
		const result = JSON.parse(out.out) as { detail: Record<string, unknown> }
		expect(result).toMatchObject({
			device: 'r',
			connected: true,
			health: 'ok',
			detail: {
				routing: { '1': 4, '2': 3, '3': 2, '4': 1 },
				locks: { '1': 'unlocked', '2': 'theirs', '3': 'unlocked', '4': 'unlocked' },
				size: { inputs: 4, outputs: 4 },
				inputStatus: { '3': 'None' },
				inputLabels: { '1': 'Input 1' },
			},
		})
		expect(sim.routingRequests).toBe(0)
	})

	it('prints the SW-P-08 routing 1-based, and connected: false with exit 1 when unreachable', async () => {
		const sim = new Swp08Sim({ inputs: 8, outputs: 8 })
		sims.push(sim)
		const { port } = await sim.start({})
		sim.table()[7] = 2
		const file = config(
			`  - { id: p, role: router, driver: { type: swp08, host: 127.0.0.1, port: ${port} }, size: { inputs: 8, outputs: 8 } }\n`,
		)
		const out = await run('probe', file, 'p', '--seconds', '2')
		expect(out.code).toBe(0)
		expect(JSON.parse(out.out)).toMatchObject({
			connected: true,
			detail: { routing: { '1': 1, '8': 3 }, locks: {}, locksReported: false },
		})
		expect(sim.connectRequests).toBe(0)
		await sim.stop()
		const down = await run('probe', file, 'p', '--seconds', '0.3')
		expect(down.code).toBe(1)
		expect(JSON.parse(down.out)).toMatchObject({ connected: false, health: 'down' })
	})
})
