// `sigpath probe FILE DEVICE --seconds N` for SRT devices (docs/contract.md §1), run through the real command.
import dgram from 'node:dgram'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { SrtSim } from '../../../drivers/srt/sim.ts'
import { command } from '../../../src/cli/probe.ts'
import { freeUdpPort, UdpCollector } from './helpers.ts'

const PASS = 'probe passphrase 1'
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
	for (const c of cleanups.splice(0).reverse()) await c()
})

interface ProbeOut {
	device: string
	connected: boolean
	health: string
	detail: {
		connections: {
			peer: string
			streamId: string
			rttMs: number
			packetsReceived: number
			packetsLost: number
			packetsDropped: number
			mbps: number
		}[]
		rejected: { peer: string; reason: string }[]
		error?: string
	}
}

async function setup() {
	const ports = {
		LISTEN_PORT: await freeUdpPort(),
		RELAY_PORT: await freeUdpPort(),
		CALL_PORT: await freeUdpPort(),
		BUSY_PORT: await freeUdpPort(),
	}
	let text = readFileSync(new URL('../../fixtures/srt/probe.yaml', import.meta.url), 'utf8')
	for (const [k, v] of Object.entries(ports)) text = text.replaceAll(`__${k}__`, String(v))
	const dir = mkdtempSync(join(tmpdir(), 'sigpath-srt-probe-'))
	cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
	const file = join(dir, 'config.yaml')
	writeFileSync(file, text)
	return { file, ports }
}

async function run(argv: string[]): Promise<{ code: number; out: ProbeOut; stdout: string }> {
	let stdout = ''
	const code = await command(argv, { out: (t) => (stdout += t), err: () => undefined })
	return { code, out: JSON.parse(stdout) as ProbeOut, stdout }
}

describe('sigpath probe for SRT', () => {
	it('a listener: reachable once bound; lists connections with their figures and rejections with the reason', async () => {
		const { file, ports } = await setup()
		process.env['SIGPATH_TEST_SRT_PASS'] = PASS
		cleanups.push(() => {
			delete process.env['SIGPATH_TEST_SRT_PASS']
		})
		const relayed = new UdpCollector()
		cleanups.push(() => relayed.stop())
		const probing = run([file, 'srt-in', '--seconds', '1.5'])
		const good = new SrtSim({
			mode: 'caller',
			host: '127.0.0.1',
			port: ports.LISTEN_PORT,
			streamId: 'cam1',
			passphrase: PASS,
			bitrate: 2_000_000,
		})
		const wrong = new SrtSim({
			mode: 'caller',
			host: '127.0.0.1',
			port: ports.LISTEN_PORT,
			streamId: 'cam7',
			passphrase: PASS,
		})
		await good.start()
		await wrong.start()
		cleanups.push(
			() => good.stop(),
			() => wrong.stop(),
		)
		const { code, out, stdout } = await probing
		expect(code).toBe(0)
		expect(out.device).toBe('srt-in')
		expect(out.connected).toBe(true)
		expect(out.health).toBe('ok')
		expect(out.detail.connections).toHaveLength(1)
		const c = out.detail.connections[0]!
		expect(c.peer).toMatch(/^127\.0\.0\.1:\d+$/)
		expect(c.streamId).toBe('cam1')
		expect(c.packetsReceived).toBeGreaterThan(100)
		expect(c.packetsLost).toBe(0)
		expect(c.packetsDropped).toBe(0)
		expect(c.rttMs).toBeGreaterThanOrEqual(0)
		expect(c.mbps).toBeGreaterThan(1.2)
		expect(c.mbps).toBeLessThan(3)
		expect(out.detail.rejected).toEqual([
			{ peer: expect.stringMatching(/^127\.0\.0\.1:/) as string, reason: 'SRT_REJX_NOTFOUND', streamId: 'cam7' },
		])
		// the probe never relays (the daemon owns the gateway feed) and never prints the passphrase
		expect(relayed.datagrams).toHaveLength(0)
		expect(stdout).not.toContain(PASS)
	})

	it('keeps the figures of a connection that ended during the probe', async () => {
		const { file, ports } = await setup()
		process.env['SIGPATH_TEST_SRT_PASS'] = PASS
		cleanups.push(() => {
			delete process.env['SIGPATH_TEST_SRT_PASS']
		})
		const probing = run([file, 'srt-in', '--seconds', '1.6'])
		const tx = new SrtSim({
			mode: 'caller',
			host: '127.0.0.1',
			port: ports.LISTEN_PORT,
			streamId: 'cam1',
			passphrase: PASS,
			bitrate: 2_000_000,
		})
		await tx.start()
		cleanups.push(() => tx.stop())
		await new Promise((r) => setTimeout(r, 900))
		await tx.cut()
		const { code, out } = await probing
		expect(code).toBe(0)
		expect(out.health).toBe('down') // the stream stopped during the probe
		const c = out.detail.connections[0]!
		expect(c.packetsReceived).toBeGreaterThan(50)
		expect(c.rttMs).toBeGreaterThan(0) // from the last stats tick: the closed socket's own figures are gone
		expect(c.mbps).toBeGreaterThan(0.8)
	})

	it('a listener with nobody calling is reachable, with no connections and no signal', async () => {
		const { file } = await setup()
		process.env['SIGPATH_TEST_SRT_PASS'] = PASS
		cleanups.push(() => {
			delete process.env['SIGPATH_TEST_SRT_PASS']
		})
		const { code, out } = await run([file, 'srt-in', '--seconds', '0.3'])
		expect(code).toBe(0)
		expect(out).toMatchObject({ connected: true, health: 'unknown', detail: { connections: [], rejected: [] } })
	})

	it('a listener whose port is taken is not reachable (exit 1) and says why', async () => {
		const { file, ports } = await setup()
		const squatter = dgram.createSocket('udp4')
		await new Promise<void>((r) => squatter.bind(ports.BUSY_PORT, '127.0.0.1', r))
		cleanups.push(() => new Promise<void>((r) => squatter.close(() => r())))
		const { code, out } = await run([file, 'srt-busy', '--seconds', '0.3'])
		expect(code).toBe(1)
		expect(out.connected).toBe(false)
		expect(out.health).toBe('down')
		expect(out.detail.error).toMatch(/srt_bind 127\.0\.0\.1:\d+/)
	})

	it('a caller: connects to a listening sender and reports it; with no listener it is not reachable', async () => {
		const { file, ports } = await setup()
		const down = await run([file, 'srt-out', '--seconds', '0.8'])
		expect(down.code).toBe(1)
		expect(down.out.connected).toBe(false)
		expect(down.out.detail.rejected[0]!.reason).toBe('SRT_REJ_TIMEOUT')
		const tx = new SrtSim({ mode: 'listener', host: '127.0.0.1', port: ports.CALL_PORT, bitrate: 2_000_000 })
		await tx.start()
		cleanups.push(() => tx.stop())
		const up = await run([file, 'srt-out', '--seconds', '1'])
		expect(up.code).toBe(0)
		expect(up.out.connected).toBe(true)
		expect(up.out.health).toBe('ok')
		expect(up.out.detail.connections[0]!.peer).toBe(`127.0.0.1:${ports.CALL_PORT}`)
		expect(up.out.detail.connections[0]!.packetsReceived).toBeGreaterThan(50)
	})
})
