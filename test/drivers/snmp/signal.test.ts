// Signal devices over SNMP against the simulator agent: the gateway-2022-7 and ird profiles, a vendor's OIDs
// mapped with profileOids, config rules; and the faults: a lost agent is `unknown`, never `down` (docs/contract.md §4);
// one dead device never delays another; a garbage-answering agent; an agent restart.
import { createSocket } from 'node:dgram'
import { afterEach, describe, expect, it } from 'vitest'
import { SnmpSignalDevice } from '../../../drivers/snmp/device.ts'
import { PROFILES } from '../../../drivers/snmp/profiles.ts'
import { profileObjects, SnmpAgentSim } from '../../../drivers/snmp/sim.ts'
import { freeUdpPort, TrapReceiver } from '../../../drivers/snmp/traps.ts'
import type { SignalReport } from '../../../drivers/types.ts'
import { SnmpDriver, SnmpUpsDriver } from '../../../src/domain/drivers.ts'
import { SnmpUpsDevice } from '../../../drivers/ups/device.ts'
import { upsObjects } from '../../../drivers/snmp/sim.ts'
import { silentLogger } from '../../../src/log.ts'
import { newResources, sleep, until } from './peers.ts'
import { resolveSecrets } from '../../../src/domain/secrets.ts'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
	for (const c of cleanups.reverse()) await c()
	cleanups.length = 0
})

async function sim(objects: ConstructorParameters<typeof SnmpAgentSim>[0] = {}): Promise<SnmpAgentSim> {
	const s = new SnmpAgentSim(objects)
	await s.start()
	cleanups.push(() => s.stop())
	return s
}

function dev(driver: Record<string, unknown>, traps?: TrapReceiver): SnmpSignalDevice {
	const d = new SnmpSignalDevice({
		id: 'gw-1',
		config: resolveSecrets(
			SnmpDriver.parse({ type: 'snmp', host: '127.0.0.1', pollMs: 150, timeoutMs: 200, retries: 0, ...driver }),
		),
		log: silentLogger,
		...(traps ? { traps } : {}),
	})
	cleanups.push(() => d.stop())
	return d
}

/** An agent serving a profile's objects, and the device on it, started, first read done, its signals recorded. */
async function profileDevice(profile: 'gateway-2022-7' | 'ird') {
	const s = await sim({ objects: profileObjects(profile) })
	const d = dev({ port: s.port, profile })
	const signals: SignalReport[] = []
	d.on('signal', (st) => signals.push(st.signal))
	d.start()
	await until(() => d.synced, 3000, 'first read')
	return { s, d, signals }
}

describe('gateway-2022-7 profile', () => {
	it('both legs up: up; one leg down: up with protection lost; both down: down; merged loss: degraded', async () => {
		const { s, d, signals } = await profileDevice('gateway-2022-7')
		expect(d.probeResult()).toMatchObject({
			connected: true,
			health: 'ok',
			detail: {
				signal: 'up',
				legs: [
					{ leg: 1, up: true, lost: 0 },
					{ leg: 2, up: true, lost: 0 },
				],
			},
		})
		const G = PROFILES['gateway-2022-7']
		s.set(G['leg2Up']!.oid, 2)
		s.set(G['leg2Lost']!.oid, 1234)
		await until(() => d.state?.health === 'degraded', 3000, 'protection lost')
		expect(d.state?.signal).toBe('up')
		expect(d.probeResult().detail).toMatchObject({
			signal: 'up',
			legs: [
				{ leg: 1, up: true },
				{ leg: 2, up: false, lost: 1234 },
			],
		})
		expect(d.state?.reason).toMatch(/protection lost: leg 2/)
		s.set(G['leg1Up']!.oid, 2)
		await until(() => d.state?.signal === 'down', 3000, 'both legs down')
		s.set(G['leg1Up']!.oid, 1)
		s.set(G['leg2Up']!.oid, 1)
		await until(() => d.state?.health === 'ok', 3000, 'both back')
		s.set(G['outputLost']!.oid, 7)
		await until(() => d.state?.signal === 'degraded', 3000, 'merged loss')
		await until(() => d.state?.signal === 'up', 3000, 'no further loss: up again')
		expect(signals).toEqual(['up', 'down', 'up', 'degraded', 'up'])
	})

	it('legs the agent reports as unknown(4) are unknown, not "both legs down"; a leg up proves the signal, not protection', async () => {
		const { s, d, signals } = await profileDevice('gateway-2022-7')
		const G = PROFILES['gateway-2022-7']
		s.set(G['leg1Up']!.oid, 4)
		s.set(G['leg2Up']!.oid, 4)
		await until(() => d.state?.signal === 'unknown', 3000, 'both legs unknown(4): unknown')
		expect(d.probeResult()).toMatchObject({
			health: 'unknown',
			detail: {
				signal: 'unknown',
				legs: [
					{ leg: 1, up: null, status: 4 },
					{ leg: 2, up: null, status: 4 },
				],
				reason: 'leg 1 unknown(4), leg 2 unknown(4): no leg known to receive',
			},
		})
		s.set(G['leg1Up']!.oid, 2)
		await until(() => d.state?.legs?.[0]?.up === false, 3000, 'leg 1 down, leg 2 unknown(4)')
		expect(d.state?.signal).toBe('unknown')
		s.set(G['leg1Up']!.oid, 1)
		await until(() => d.state?.signal === 'up', 3000, 'leg 1 up')
		expect(d.state).toMatchObject({ health: 'degraded', reason: 'protection not proven: leg 2 unknown(4)' })
		expect(signals).toEqual(['up', 'unknown', 'up'])
	})

	it("maps a vendor's OIDs onto the profile with profileOids", async () => {
		const V = '1.3.6.1.4.1.99999.7'
		const s = await sim({
			objects: {
				[`${V}.1.0`]: { type: 'integer', value: 1 },
				[`${V}.2.0`]: { type: 'integer', value: 2 },
			},
		})
		const d = dev({ port: s.port, profile: 'gateway-2022-7', profileOids: { leg1Up: `.${V}.1.0`, leg2Up: `${V}.2.0` } })
		d.start()
		await until(() => d.synced, 3000, 'first read')
		// the optional counters are not served: legs are judged without them
		expect(d.probeResult().detail).toMatchObject({
			signal: 'up',
			legs: [
				{ leg: 1, up: true, lost: null },
				{ leg: 2, up: false },
			],
		})
		expect(d.state?.health).toBe('degraded')
	})

	it('a lost agent is unknown, never down (docs/contract.md §4), and comes back after a restart', async () => {
		const { s, d, signals } = await profileDevice('gateway-2022-7')
		await s.silence()
		await until(() => d.state?.signal === 'unknown', 3000, 'unknown')
		expect(d.probeResult()).toMatchObject({ connected: false, health: 'unknown', detail: { signal: 'unknown' } })
		await s.start()
		await until(() => d.state?.signal === 'up', 5000, 'up after restart')
		expect(signals).toEqual(['up', 'unknown', 'up'])
		expect(signals).not.toContain('down')
	})

	it('a profile trap triggers an immediate poll (traps: true)', async () => {
		const rx = new TrapReceiver({ host: '127.0.0.1', port: 0, community: 'public', log: silentLogger })
		await rx.start()
		cleanups.push(() => rx.stop())
		const s = await sim({
			objects: profileObjects('gateway-2022-7'),
			trapTarget: { host: '127.0.0.1', port: rx.port, community: 'public' },
		})
		const d = dev({ port: s.port, profile: 'gateway-2022-7', pollMs: 60_000, traps: true }, rx)
		d.start()
		await until(() => d.synced, 3000, 'first read')
		await s.setProfile('gateway-2022-7', { leg1Up: 2, leg2Up: 2 })
		await until(() => d.state?.signal === 'down', 1000, 'down within a second of the trap (poll is 60 s)')
	})
})

describe('ird profile', () => {
	it('locked with margin: up; low margin: degraded; unlocked: down', async () => {
		const s = await sim({ objects: profileObjects('ird') })
		const d = dev({ port: s.port, profile: 'ird' })
		d.start()
		await until(() => d.synced, 3000, 'first read')
		expect(d.probeResult()).toMatchObject({ health: 'ok', detail: { signal: 'up', lock: true, marginDb: 6.5 } })
		s.set(PROFILES.ird['marginDb']!.oid, 4)
		await until(() => d.state?.signal === 'degraded', 3000, 'low margin')
		expect(d.state?.marginDb).toBe(0.4)
		s.set(PROFILES.ird['lock']!.oid, 2)
		await until(() => d.state?.signal === 'down', 3000, 'unlocked')
	})

	it('a lock value the profile does not define is unknown, not down', async () => {
		const { s, d, signals } = await profileDevice('ird')
		s.set(PROFILES.ird['lock']!.oid, 3)
		await until(() => d.state?.signal === 'unknown', 3000, 'lock 3: unknown')
		expect(d.probeResult()).toMatchObject({
			health: 'unknown',
			detail: { signal: 'unknown', reason: 'lock status 3 is not a value the profile defines (1 locked, 2 unlocked)' },
		})
		s.set(PROFILES.ird['lock']!.oid, 1)
		await until(() => d.state?.signal === 'up', 3000, 'locked again')
		expect(signals).toEqual(['up', 'unknown', 'up'])
	})
})

describe('rules', () => {
	it('the first matching rule gives the signal; none matching is up', async () => {
		const s = await sim({
			objects: {
				'1.3.6.1.4.1.5.1.0': { type: 'integer', value: 0 },
				'1.3.6.1.4.1.5.2.0': { type: 'string', value: 'LOCKED' },
			},
		})
		const d = dev({
			port: s.port,
			rules: [
				{ oid: '1.3.6.1.4.1.5.2.0', op: 'ne', value: 'LOCKED', means: 'down' },
				{ oid: '.1.3.6.1.4.1.5.1.0', op: 'gt', value: 100, means: 'degraded' },
			],
		})
		d.start()
		await until(() => d.synced, 3000, 'first read')
		expect(d.state?.signal).toBe('up')
		s.set('1.3.6.1.4.1.5.1.0', 250)
		await until(() => d.state?.signal === 'degraded', 3000, 'degraded')
		s.set('1.3.6.1.4.1.5.2.0', 'NO SIGNAL')
		await until(() => d.state?.signal === 'down', 3000, 'down (first rule wins)')
		expect(d.probeResult()).toMatchObject({ health: 'down', detail: { signal: 'down' } })
	})

	it('rule OIDs the agent serves as text where a number is expected are unknown, never up or down', async () => {
		// config/example.yaml's fiber receiver, on a dark fiber whose agent answers text: it read up (health ok)
		const input = '1.3.6.1.4.1.99999.1.1.0'
		const power = '1.3.6.1.4.1.99999.1.2.0'
		const s = await sim({
			objects: { [input]: { type: 'string', value: 'LOS' }, [power]: { type: 'string', value: '-27.4 dBm' } },
		})
		const d = dev({
			port: s.port,
			rules: [
				{ oid: input, op: 'eq', value: 0, means: 'down' },
				{ oid: power, op: 'lt', value: -20, means: 'degraded' },
			],
		})
		const signals: SignalReport[] = []
		d.on('signal', (st) => signals.push(st.signal))
		d.start()
		await until(() => d.synced, 3000, 'first read')
		expect(d.probeResult()).toMatchObject({
			health: 'unknown',
			detail: {
				signal: 'unknown',
				reason: `rule 1 (${input} eq 0) cannot be evaluated: the agent answered "LOS" (string), not a number`,
			},
		})
		s.set(input, '1')
		await until(() => d.state?.reason?.startsWith('rule 2 '), 3000, 'rule 2 cannot be evaluated')
		expect(d.state?.signal).toBe('unknown')
		s.set(power, '-27.4')
		await until(() => d.state?.signal === 'degraded', 3000, 'a number in text is read')
		expect(signals).toEqual(['unknown', 'degraded'])
	})

	it('a rule OID the agent does not serve is unknown, not down', async () => {
		const s = await sim({ objects: { '1.3.6.1.4.1.5.1.0': { type: 'integer', value: 0 } } })
		const d = dev({ port: s.port, rules: [{ oid: '1.3.6.1.4.1.5.9.0', op: 'eq', value: 0, means: 'down' }] })
		d.start()
		await until(() => d.synced, 3000, 'first read')
		expect(d.state?.signal).toBe('unknown')
	})
})

describe('faults', () => {
	it('one dead device never delays another', async () => {
		const s = await sim({ objects: profileObjects('ird') })
		const deadPort = await freeUdpPort('127.0.0.1')
		const dead = dev({ port: deadPort, profile: 'ird', timeoutMs: 1000, retries: 2 })
		const alive = dev({ port: s.port, profile: 'ird', pollMs: 100 })
		let readings = 0
		alive.on('reading', () => readings++)
		dead.start()
		alive.start()
		await sleep(1500)
		// 1.5 s at 100 ms: ~15 polls (6 leaves room for a loaded CI); the dead one spends 3 s per poll
		expect(readings).toBeGreaterThanOrEqual(6)
		expect(dead.synced).toBe(false)
		expect(dead.freshness.connected).toBe(false)
	})

	it('an agent answering garbage never crashes the driver: no reading, the session error is owned', async () => {
		const sock = createSocket('udp4')
		await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()))
		const port = sock.address().port
		let hits = 0
		sock.on('message', (_m, rinfo) => {
			hits++
			// a BER SEQUENCE that claims more bytes than it holds, then random noise
			sock.send(
				Buffer.from([0x30, 0x82, 0xff, 0xff, 0x02, 0x01, 0x01, 0x04, 0x06, 0x70, 0x75, 0x62]),
				rinfo.port,
				rinfo.address,
			)
			sock.send(Buffer.from(Array.from({ length: 40 }, (_, i) => (i * 37) & 0xff)), rinfo.port, rinfo.address)
		})
		cleanups.push(() => new Promise<void>((r) => sock.close(() => r())))
		const d = dev({ port, profile: 'ird', timeoutMs: 200 })
		const faults: Error[] = []
		d.on('fault', (e) => faults.push(e))
		d.start()
		await until(() => faults.length >= 2, 3000, 'failed polls')
		expect(hits).toBeGreaterThanOrEqual(2)
		expect(d.synced).toBe(false)
		expect(d.state?.signal).toBe('unknown')
	})
})

describe('no leaks', () => {
	it('devices, receiver and simulator leave no socket or timer after stop()', async () => {
		await sleep(50)
		const before = process.getActiveResourcesInfo()
		const rx = new TrapReceiver({ host: '127.0.0.1', port: 0, community: 'public', log: silentLogger })
		await rx.start()
		const s = new SnmpAgentSim({
			objects: { ...upsObjects(), ...profileObjects('ird') },
			trapTarget: { host: '127.0.0.1', port: rx.port, community: 'public' },
		})
		await s.start()
		const sig = new SnmpSignalDevice({
			id: 'ird',
			config: resolveSecrets(
				SnmpDriver.parse({
					type: 'snmp',
					host: '127.0.0.1',
					port: s.port,
					profile: 'ird',
					pollMs: 100,
					traps: true,
				}),
			),
			log: silentLogger,
			traps: rx,
		})
		const ups = new SnmpUpsDevice({
			id: 'ups',
			config: resolveSecrets(
				SnmpUpsDriver.parse({ type: 'snmp-ups', host: '127.0.0.1', port: s.port, pollMs: 100, traps: true }),
			),
			log: silentLogger,
			traps: rx,
		})
		sig.start()
		ups.start()
		await until(() => sig.synced && ups.synced, 3000, 'both synced')
		await s.setUps({ outputSource: 5 })
		await until(() => ups.status.reading?.power === 'on-battery', 2000, 'trap')
		await sig.stop()
		await ups.stop()
		await s.stop()
		await rx.stop()
		await sleep(50)
		expect(newResources(before, process.getActiveResourcesInfo())).toEqual([])
	})
})
