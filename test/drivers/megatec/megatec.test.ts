// The Megatec/Q1 simulator is validated first by NUT's own nutdrv_qx (protocol megatec) over a socat pty pair,
// read back through a real upsd; then our client is tested against the simulator: states, garbage, silence; and
// both read one UPS state alike (shutdown active: our Megatec driver, and nutdrv_qx through upsd and our NUT driver).
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MegatecUpsDevice } from '../../../drivers/megatec/device.ts'
import { formatQ1 } from '../../../drivers/megatec/codec.ts'
import { MegatecSim } from '../../../drivers/megatec/sim.ts'
import { NutUpsDevice } from '../../../drivers/nut/device.ts'
import { upsProbeResult } from '../../../drivers/ups/types.ts'
import { MegatecDriver, NutDriver } from '../../../src/domain/drivers.ts'
import { resolveSecrets } from '../../../src/domain/secrets.ts'
import { silentLogger } from '../../../src/log.ts'
import { freeTcpPort, requireBinary, run, runAsync, scratch, startPeer, until, type Peer } from '../snmp/peers.ts'

let dir: string
let removeDir: () => void
const peers: Peer[] = []
const sims: MegatecSim[] = []
const devices: { stop: () => Promise<void> }[] = []

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

/** NUT's nutdrv_qx (protocol megatec) on the pty end `b`, served by a real upsd on a free port; upsc reads it. */
async function startQx(name: string, b: string, sim: MegatecSim) {
	const conf = join(dir, name)
	const state = join(conf, 'state')
	mkdirSync(state, { recursive: true })
	chmodSync(conf, 0o755)
	const uid = Number(run('id', ['-u', 'nut']).out.trim())
	const gid = Number(run('id', ['-g', 'nut']).out.trim())
	chownSync(state, uid, gid)
	const port = await freeTcpPort()
	writeFileSync(
		join(conf, 'ups.conf'),
		`[qx]\n\tdriver = nutdrv_qx\n\tport = ${b}\n\tprotocol = megatec\n\tpollinterval = 1\n`,
	)
	writeFileSync(join(conf, 'upsd.conf'), `LISTEN 127.0.0.1 ${port}\n`)
	writeFileSync(join(conf, 'upsd.users'), '')
	for (const f of ['ups.conf', 'upsd.conf', 'upsd.users']) chmodSync(join(conf, f), 0o644)
	const env = { ...process.env, NUT_CONFPATH: conf, NUT_STATEPATH: state }
	const driver = startPeer('/lib/nut/nutdrv_qx', ['-a', 'qx', '-F', '-u', 'nut'], env, conf)
	peers.push(driver)
	await until(
		() => run('sh', ['-c', `ls ${state}`]).out.includes('nutdrv_qx-qx'),
		10_000,
		`nutdrv_qx socket (${driver.output()})`,
	)
	expect(driver.output()).toContain('Using protocol: Megatec')
	peers.push(startPeer('/lib/nut/upsd', ['-F', '-u', 'nut'], env, conf))
	let lastUpsc = ''
	const upsc = async (v: string) => {
		const r = await runAsync('upsc', [`qx@127.0.0.1:${port}`, v])
		lastUpsc = r.out
		return r.code === 0 ? r.stdout.trim() : ''
	}
	const why = () => `upsc: ${lastUpsc}; driver: ${driver.output()}; sim got ${sim.received.join(',')}`
	return { port, upsc, why }
}

describe('Megatec simulator, validated by NUT nutdrv_qx', () => {
	it('nutdrv_qx (protocol megatec) reads OL, then OB, then OB LB from the simulator', async () => {
		const { a, b } = await ptyPair('qx')
		const sim = new MegatecSim({ path: a })
		sims.push(sim)
		await sim.start()
		const { upsc, why } = await startQx('qx', b, sim)
		await until(
			async () => (await upsc('ups.status')) === 'OL',
			10_000,
			() => `OL (${why()})`,
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

describe('Megatec shutdown active (Q1 bit b1): sigpath and NUT read the same UPS alike', () => {
	// nutdrv_qx maps b1 to FSD and our NUT driver reads FSD as low-battery (docs/contract.md §1): the UPS is about to
	// cut its output whatever the utility does, so a Megatec UPS in that state must never read online.
	it('the Megatec driver and nutdrv_qx through upsd and the NUT driver both read low-battery, and online once cancelled', async () => {
		// one simulated UPS per serial line (a port has one reader), both always set alike
		const ours = await ptyPair('sdm')
		const theirs = await ptyPair('sdq')
		const simOurs = new MegatecSim({ path: ours.a })
		const simTheirs = new MegatecSim({ path: theirs.a })
		sims.push(simOurs, simTheirs)
		await simOurs.start()
		await simTheirs.start()
		const both = (f: (s: MegatecSim) => void) => [simOurs, simTheirs].forEach(f)
		const qx = await startQx('sdq', theirs.b, simTheirs)
		const meg = new MegatecUpsDevice({
			id: 'ups-sd-megatec',
			config: MegatecDriver.parse({ type: 'megatec', serial: { path: ours.b }, pollMs: 150 }),
			log: silentLogger,
			requestTimeoutMs: 300,
		})
		const nut = new NutUpsDevice({
			id: 'ups-sd-nut',
			config: resolveSecrets(
				NutDriver.parse({ type: 'nut', host: '127.0.0.1', port: qx.port, ups: 'qx', pollMs: 200 }),
			),
			log: silentLogger,
		})
		devices.push(meg, nut)
		meg.start()
		nut.start()
		const seen = () =>
			`megatec ${JSON.stringify(meg.status.reading)}; nut ${JSON.stringify(nut.status.reading)}; ${qx.why()}`
		const agree = async (power: string) => {
			await until(
				() => meg.status.reading?.power === power && nut.status.reading?.power === power,
				10_000,
				() => `both ${power} (${seen()})`,
			)
			const [m, n] = [upsProbeResult(meg.id, meg.status), upsProbeResult(nut.id, nut.status)]
			expect({ health: m.health, depleted: m.detail['depleted'] }).toEqual({
				health: n.health,
				depleted: n.detail['depleted'],
			})
			return { m, n }
		}
		await agree('online')

		// the report: a UPS on utility, output up, shutdown active
		both((s) =>
			s.set(
				{
					inputVoltage: 230,
					inputFaultVoltage: 230,
					outputVoltage: 230,
					loadPercent: 20,
					inputHz: 50,
					batteryVoltage: 2.27,
					temperatureC: 25,
				},
				{ beeperOn: false, shutdownActive: true },
			),
		)
		expect(formatQ1(simOurs.reading())).toBe('(230.0 230.0 230.0 020 50.0 2.27 25.0 00000010\r')
		const { m, n } = await agree('low-battery')
		expect(m).toMatchObject({ health: 'down', detail: { depleted: false, shutdownActive: true } })
		expect(n.detail['flags']).toEqual(expect.arrayContaining(['OL', 'FSD']))

		// shutdown active on battery: low-battery too (the battery-low bit is not set)
		both((s) => s.onBattery())
		await until(
			() =>
				meg.status.reading?.extra['statusBits'] === '10000010' &&
				(nut.status.reading?.extra['flags'] as string[] | undefined)?.includes('OB'),
			10_000,
			() => `both read utility fail with shutdown active (${seen()})`,
		)
		await agree('low-battery')

		// the shutdown cancelled (C) and the utility back: online again for both
		both((s) => s.online())
		both((s) => s.set({}, { shutdownActive: false }))
		await agree('online')
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
