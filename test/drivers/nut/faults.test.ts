// The upsd simulator, validated by NUT's own client (upsc), then used for the client's faults: garbage replies,
// a upsd that stops answering (request timeout, reconnect), a dropped connection, ERR DATA-STALE, a ups.status
// with no power flag, the probe, and no handles left after stop().
import { afterEach, describe, expect, it } from 'vitest'
import { NutUpsDevice } from '../../../drivers/nut/device.ts'
import { probe } from '../../../drivers/nut/probe.ts'
import { NutSim } from '../../../drivers/nut/sim.ts'
import { upsProbeResult } from '../../../drivers/ups/types.ts'
import { NutDriver } from '../../../src/domain/drivers.ts'
import { silentLogger } from '../../../src/log.ts'
import { newResources, requireBinary, runAsync, sleep, until } from '../snmp/peers.ts'
import { resolveSecrets } from '../../../src/domain/secrets.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
	for (const c of cleanups.reverse()) await c()
	cleanups.length = 0
})

async function sim(status = 'OL'): Promise<NutSim> {
	const s = new NutSim({
		ups: {
			ups: {
				description: 'Rack "A" UPS',
				vars: { 'ups.status': status, 'battery.charge': '77', 'battery.runtime': '1500', 'ups.model': 'Sim 1500' },
			},
		},
	})
	await s.start()
	cleanups.push(() => s.stop())
	return s
}

function device(port: number, thresholds = { staleAfterMs: 600, commLostAfterMs: 1200 }): NutUpsDevice {
	const d = new NutUpsDevice({
		id: 'nut-f',
		config: resolveSecrets(NutDriver.parse({ type: 'nut', host: '127.0.0.1', port, ups: 'ups', pollMs: 100 })),
		log: silentLogger,
		requestTimeoutMs: 300,
		...thresholds,
	})
	cleanups.push(() => d.stop())
	return d
}

describe('upsd simulator, validated by upsc', () => {
	it('upsc lists the UPS and reads its variables and errors as from a real upsd', async () => {
		requireBinary('upsc', 'nut-client')
		const s = await sim('OB LB')
		const list = await runAsync('upsc', ['-l', `127.0.0.1:${s.port}`])
		expect(list.stdout.trim()).toBe('ups')
		const all = await runAsync('upsc', [`ups@127.0.0.1:${s.port}`])
		expect(all.code).toBe(0)
		expect(all.stdout).toContain('ups.status: OB LB')
		expect(all.stdout).toContain('battery.runtime: 1500')
		const one = await runAsync('upsc', [`ups@127.0.0.1:${s.port}`, 'ups.model'])
		expect(one.stdout.trim()).toBe('Sim 1500')
		const missing = await runAsync('upsc', [`ups@127.0.0.1:${s.port}`, 'no.such'])
		expect(missing.code).not.toBe(0)
		expect(missing.out).toMatch(/Variable not supported/i)
		const unknown = await runAsync('upsc', [`nope@127.0.0.1:${s.port}`])
		expect(unknown.out).toMatch(/Unknown UPS/i)
	})
})

describe('NUT client faults', () => {
	it('garbage replies are faults, never readings; a later good reply is read', async () => {
		const s = await sim()
		s.mode = 'garbage'
		const d = device(s.port)
		const faults: string[] = []
		d.on('fault', (e) => faults.push(e.message))
		d.start()
		await until(() => faults.length >= 2, 3000, 'faults')
		expect(d.status.reading).toBeNull()
		s.mode = 'normal'
		s.set('ups', { 'ups.status': 'OB' })
		await until(() => d.status.reading?.power === 'on-battery', 3000, 'reading after garbage')
		expect(d.status.reading).toMatchObject({ chargePercent: 77, minutesRemaining: 25 })
	})

	it('a upsd that stops answering: request timeout, reconnect, stale, comm-lost; back when it answers', async () => {
		const s = await sim()
		const d = device(s.port)
		d.start()
		await until(() => d.synced, 3000, 'first read')
		s.mode = 'mute'
		const kinds: string[] = []
		d.on('fault', (e) => kinds.push('kind' in e ? String(e.kind) : e.message))
		await until(() => kinds.includes('timeout'), 3000, 'a request timeout')
		await until(() => s.connections >= 2, 5000, 'a reconnect after the timeout')
		await until(() => d.status.freshness.stale, 3000, 'stale')
		await until(() => d.status.commLost, 3000, 'comm-lost')
		s.mode = 'normal'
		await until(() => !d.status.commLost && d.status.freshness.connected, 5000, 'back')
	})

	it('ERR DATA-STALE (the driver behind upsd went quiet) is no data: stale, then comm-lost', async () => {
		const s = await sim('OB')
		const d = device(s.port)
		const codes: string[] = []
		d.on('fault', (e) => codes.push('code' in e ? String(e.code) : e.message))
		d.start()
		await until(() => d.synced, 3000, 'first read')
		s.set('ups', {}, true)
		await until(() => codes.includes('DATA-STALE'), 3000, 'DATA-STALE')
		await until(() => d.status.commLost, 3000, 'comm-lost')
		expect(d.status.reading?.power).toBe('on-battery')
	})

	it.each(['WAIT', '', 'ALARM'])(
		'ups.status %j (no power flag) is no data at once, as DATA-STALE: not connected, health unknown; back with OL',
		async (status) => {
			const s = await sim()
			// stale and comm-lost far off: what disconnects the device here can only be the status itself
			const d = device(s.port, { staleAfterMs: 60_000, commLostAfterMs: 120_000 })
			const faults: string[] = []
			d.on('fault', (e) => faults.push(e.message))
			d.start()
			await until(() => upsProbeResult(d.id, d.status).health === 'ok', 3000, 'online, ok')
			s.set('ups', { 'ups.status': status })
			await until(() => !d.status.freshness.connected, 3000, 'not connected')
			// not a reading of the UPS: the last one is not shown as current, and not yet stale or comm-lost
			expect(upsProbeResult(d.id, d.status)).toMatchObject({
				connected: false,
				health: 'unknown',
				detail: { commLost: false },
			})
			expect(d.status.freshness.stale).toBe(false)
			expect(faults.some((m) => m.includes(`ups.status ${JSON.stringify(status)}`))).toBe(true)
			s.set('ups', { 'ups.status': 'OL' })
			await until(() => d.status.freshness.connected, 3000, 'connected again')
			expect(upsProbeResult(d.id, d.status)).toMatchObject({
				connected: true,
				health: 'ok',
				detail: { power: 'online' },
			})
		},
	)

	it('a dropped connection is reconnected and read again', async () => {
		const s = await sim()
		const d = device(s.port)
		d.start()
		await until(() => d.synced, 3000, 'first read')
		s.mode = 'hangup'
		await until(() => !d.status.freshness.connected, 3000, 'disconnected')
		s.mode = 'normal'
		s.set('ups', { 'ups.status': 'OL BYPASS' })
		await until(() => d.status.reading?.power === 'bypass', 5000, 'read after reconnect')
		expect(s.connections).toBeGreaterThanOrEqual(2)
	})

	it('probe: docs/contract.md §1 detail when reachable; connected false when not', async () => {
		const s = await sim('OB')
		const ctx = { log: silentLogger }
		const dev = (port: number) => ({
			id: 'ups-n',
			role: 'ups' as const,
			power: [],
			driver: resolveSecrets(NutDriver.parse({ type: 'nut', host: '127.0.0.1', port, ups: 'ups' })),
		})
		const r = await probe(dev(s.port), { seconds: 3, ctx })
		expect(r).toMatchObject({
			device: 'ups-n',
			connected: true,
			health: 'degraded',
			detail: { power: 'on-battery', minutesRemaining: 25, chargePercent: 77, model: 'Sim 1500' },
		})
		await s.stop()
		const down = await probe(dev(s.port), { seconds: 1, ctx })
		expect(down).toMatchObject({ connected: false, health: 'unknown', detail: { power: null } })
	})

	it('stop() leaves no socket or timer behind', async () => {
		const s = await sim()
		await sleep(50)
		const before = process.getActiveResourcesInfo()
		const d = new NutUpsDevice({
			id: 'nut-leak',
			config: resolveSecrets(
				NutDriver.parse({ type: 'nut', host: '127.0.0.1', port: s.port, ups: 'ups', pollMs: 100 }),
			),
			log: silentLogger,
		})
		d.start()
		await until(() => d.synced, 3000, 'first read')
		await d.stop()
		await until(() => s.openConnections === 0, 2000, 'server side closed')
		await sleep(50)
		expect(newResources(before, process.getActiveResourcesInfo())).toEqual([])
	})
})
