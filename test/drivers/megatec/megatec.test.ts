// The Megatec/Q1 simulator is validated first by NUT's own nutdrv_qx (protocol megatec) over a socat pty pair,
// read back through a real upsd; then our client is tested against the simulator: states, garbage, silence.
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MegatecUpsDevice } from '../../../drivers/megatec/device.ts'
import { MegatecSim } from '../../../drivers/megatec/sim.ts'
import { MegatecDriver } from '../../../src/domain/drivers.ts'
import { silentLogger } from '../../../src/log.ts'
import { freeTcpPort, requireBinary, run, runAsync, scratch, startPeer, until, type Peer } from '../snmp/peers.ts'

let dir: string
let removeDir: () => void
const peers: Peer[] = []
const sims: MegatecSim[] = []
const devices: MegatecUpsDevice[] = []

async function ptyPair(name: string): Promise<{ a: string; b: string }> {
	const a = join(dir, `${name}A`)
	const b = join(dir, `${name}B`)
	// mode 666: nutdrv_qx runs as user nut
	peers.push(startPeer('socat', ['-d', '-d', `pty,raw,echo=0,link=${a},mode=666`, `pty,raw,echo=0,link=${b},mode=666`]))
	await until(() => existsSync(a) && existsSync(b), 5000, 'socat ptys')
	return { a, b }
}

beforeAll(() => {
	requireBinary('socat', 'socat')
	requireBinary('/lib/nut/nutdrv_qx', 'nut-server')
	requireBinary('/lib/nut/upsd', 'nut-server')
	;({ dir, remove: removeDir } = scratch('megatec'))
	chmodSync(dir, 0o755)
})

afterAll(async () => {
	for (const d of devices) await d.stop()
	for (const s of sims) await s.stop()
	for (const p of peers.reverse()) await p.stop()
	removeDir?.()
})

describe('Megatec simulator, validated by NUT nutdrv_qx', () => {
	it('nutdrv_qx (protocol megatec) reads OL, then OB, then OB LB from the simulator', async () => {
		const { a, b } = await ptyPair('qx')
		const sim = new MegatecSim({ path: a })
		sims.push(sim)
		await sim.start()
		const state = join(dir, 'state')
		mkdirSync(state)
		const uid = Number(run('id', ['-u', 'nut']).out.trim())
		const gid = Number(run('id', ['-g', 'nut']).out.trim())
		chownSync(state, uid, gid)
		const port = await freeTcpPort()
		writeFileSync(
			join(dir, 'ups.conf'),
			`[qx]\n\tdriver = nutdrv_qx\n\tport = ${b}\n\tprotocol = megatec\n\tpollinterval = 1\n`,
		)
		writeFileSync(join(dir, 'upsd.conf'), `LISTEN 127.0.0.1 ${port}\n`)
		writeFileSync(join(dir, 'upsd.users'), '')
		for (const f of ['ups.conf', 'upsd.conf', 'upsd.users']) chmodSync(join(dir, f), 0o644)
		const env = { ...process.env, NUT_CONFPATH: dir, NUT_STATEPATH: state }
		const driver = startPeer('/lib/nut/nutdrv_qx', ['-a', 'qx', '-F', '-u', 'nut'], env, dir)
		peers.push(driver)
		await until(
			() => run('sh', ['-c', `ls ${state}`]).out.includes('nutdrv_qx-qx'),
			10_000,
			`nutdrv_qx socket (${driver.output()})`,
		)
		expect(driver.output()).toContain('Using protocol: Megatec')
		const upsd = startPeer('/lib/nut/upsd', ['-F', '-u', 'nut'], env, dir)
		peers.push(upsd)
		let lastUpsc = ''
		const upsc = async (v: string) => {
			const r = await runAsync('upsc', [`qx@127.0.0.1:${port}`, v])
			lastUpsc = r.out
			return r.code === 0 ? r.stdout.trim() : ''
		}
		await until(
			async () => (await upsc('ups.status')) === 'OL',
			10_000,
			() => `OL (upsc: ${lastUpsc}; driver: ${driver.output()}; sim got ${sim.received.join(',')})`,
		)
		expect(Number(await upsc('input.voltage'))).toBeCloseTo(230.1)
		expect(Number(await upsc('output.voltage'))).toBeCloseTo(229.8)
		expect(Number(await upsc('ups.load'))).toBe(34)
		expect(Number(await upsc('input.frequency'))).toBeCloseTo(50)
		expect(await upsc('device.model')).toBe('SIM-Q1')
		sim.onBattery()
		await until(async () => (await upsc('ups.status')) === 'OB', 10_000, 'OB')
		sim.onBattery(true)
		await until(async () => (await upsc('ups.status')) === 'OB LB', 10_000, 'OB LB')
		sim.online()
		await until(async () => (await upsc('ups.status')) === 'OL', 10_000, 'OL again')
		// nutdrv_qx asked what a megatec driver asks: status, identity, ratings
		expect(sim.received).toEqual(expect.arrayContaining(['Q1', 'I', 'F']))
	})
})

describe('Megatec client against the simulator', () => {
	it('reads the state, follows changes, survives garbage, and goes stale then comm-lost when silent', async () => {
		const { a, b } = await ptyPair('cl')
		const sim = new MegatecSim({ path: a, company: 'ACME', model: 'Q1-1000' })
		sims.push(sim)
		await sim.start()
		const d = new MegatecUpsDevice({
			id: 'ups-m',
			config: MegatecDriver.parse({ type: 'megatec', serial: { path: b }, pollMs: 150 }),
			log: silentLogger,
			staleAfterMs: 700,
			commLostAfterMs: 1500,
			requestTimeoutMs: 300,
		})
		devices.push(d)
		const powers: string[] = []
		d.on('power', (s) => powers.push(s.commLost ? 'comm-lost' : (s.reading?.power ?? 'none')))
		d.start()
		await until(() => d.synced, 5000, 'first Q1')
		const r = d.status.reading!
		expect(r.power).toBe('online')
		expect(r.minutesRemaining).toBeNull()
		expect(r.chargePercent).toBeNull()
		expect(r.extra).toMatchObject({ company: 'ACME', model: 'Q1-1000', inputVoltage: 230.1, batteryVoltage: 13.7 })
		sim.onBattery()
		await until(() => d.status.reading?.power === 'on-battery', 3000, 'on-battery')
		sim.onBattery(true)
		await until(() => d.status.reading?.power === 'low-battery', 3000, 'low-battery')
		sim.online()
		sim.set({}, { bypassActive: true })
		await until(() => d.status.reading?.power === 'bypass', 3000, 'bypass')
		sim.set({ outputVoltage: 0 }, { bypassActive: false })
		await until(() => d.status.reading?.power === 'off', 3000, 'off')
		sim.online()
		await until(() => d.status.reading?.power === 'online', 3000, 'online')

		sim.mode = 'garbage'
		await until(() => d.badReplies >= 2, 3000, 'garbage counted')
		expect(d.status.reading?.power).toBe('online') // noise never changes the state
		sim.mode = 'normal'
		await until(() => d.status.freshness.connected, 3000, 'fresh again')

		sim.onBattery()
		await until(() => d.status.reading?.power === 'on-battery', 3000, 'on-battery before silence')
		sim.mode = 'silent'
		await until(() => d.status.freshness.stale, 3000, 'stale')
		await until(() => d.status.commLost, 3000, 'comm-lost')
		expect(d.status.reading?.power).toBe('on-battery') // the last state is kept, flagged comm-lost
		sim.mode = 'normal'
		sim.online()
		await until(() => !d.status.commLost && d.status.reading?.power === 'online', 3000, 'back')
		expect(powers).toEqual(
			expect.arrayContaining(['online', 'on-battery', 'low-battery', 'bypass', 'off', 'comm-lost']),
		)
	})
})

describe('Megatec client: the serial link goes away and comes back', () => {
	it('reopens the port with backoff after the pty vanishes and reads again', async () => {
		const a = join(dir, 'reA')
		const b = join(dir, 'reB')
		const start = async () => {
			const p = startPeer('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`])
			await until(() => existsSync(a) && existsSync(b), 5000, 'ptys')
			const s = new MegatecSim({ path: a })
			await s.start()
			return { p, s }
		}
		let link = await start()
		const d = new MegatecUpsDevice({
			id: 'ups-r',
			config: MegatecDriver.parse({ type: 'megatec', serial: { path: b }, pollMs: 150 }),
			log: silentLogger,
			staleAfterMs: 800,
			commLostAfterMs: 5000,
			requestTimeoutMs: 300,
		})
		devices.push(d)
		d.start()
		await until(() => d.synced, 5000, 'first Q1')
		// the adapter is unplugged: the pty closes under the driver
		await link.s.stop()
		await link.p.stop()
		await until(() => !d.status.freshness.connected, 3000, 'disconnected')
		link = await start()
		link.s.onBattery()
		await until(() => d.status.reading?.power === 'on-battery', 10_000, 'read after reopen')
		expect(d.status.freshness.connected).toBe(true)
		await d.stop()
		await link.s.stop()
		await link.p.stop()
	})
})
