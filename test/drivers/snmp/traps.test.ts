// The trap and inform receiver against net-snmp's own command-line tools: snmptrap and snmpinform, the right
// community accepted, a wrong one rejected (and an inform with it left unacknowledged); UPS traps from the
// simulator act on the power state at once, not at the next poll.
import { createSocket } from 'node:dgram'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SnmpAgentSim, upsObjects } from '../../../drivers/snmp/sim.ts'
import { TrapReceiver, type Notification } from '../../../drivers/snmp/traps.ts'
import { classifyUpsTrap, UPS_TRAP } from '../../../drivers/ups/codec.ts'
import { SnmpUpsDevice } from '../../../drivers/ups/device.ts'
import { SnmpUpsDriver } from '../../../src/domain/drivers.ts'
import { silentLogger } from '../../../src/log.ts'
import { requireBinary, runAsync, sleep, until } from './peers.ts'
import { resolveSecrets } from '../../../src/domain/secrets.ts'

let rx: TrapReceiver
const got: Notification[] = []
const rejected: string[] = []

beforeEach(async () => {
	requireBinary('snmptrap', 'snmp')
	requireBinary('snmpinform', 'snmp')
	got.length = 0
	rejected.length = 0
	rx = new TrapReceiver({ host: '127.0.0.1', port: 0, community: 'tr4p', log: silentLogger })
	rx.on('notification', (n) => got.push(n))
	rx.on('rejected', (r) => rejected.push(r.reason))
	await rx.start()
})

afterEach(async () => {
	await rx.stop()
})

describe('trap receiver', () => {
	it('accepts a v2c trap with the right community and decodes snmpTrapOID and varbinds', async () => {
		const r = await runAsync('snmptrap', [
			'-v2c',
			'-c',
			'tr4p',
			`127.0.0.1:${rx.port}`,
			'',
			UPS_TRAP.onBattery,
			'1.3.6.1.2.1.33.1.2.2.0',
			'i',
			'12',
		])
		expect(r.code, r.out).toBe(0)
		await until(() => got.length === 1, 3000, 'the trap')
		expect(got[0]).toMatchObject({ from: '127.0.0.1', inform: false, trapOid: UPS_TRAP.onBattery })
		expect(got[0]!.varbinds).toEqual([{ oid: '1.3.6.1.2.1.33.1.2.2.0', type: 'integer', value: 12 }])
	})

	it('accepts an SNMPv1 trap and names it per RFC 3584 (enterprise.0.specific)', async () => {
		// upsTrapOnBattery as a v1 agent sends it: enterprise upsTraps, enterpriseSpecific(6), specific 1
		const r = await runAsync('snmptrap', [
			'-v1',
			'-c',
			'tr4p',
			`127.0.0.1:${rx.port}`,
			'1.3.6.1.2.1.33.2',
			'127.0.0.1',
			'6',
			'1',
			'',
		])
		expect(r.code, r.out).toBe(0)
		await until(() => got.length === 1, 3000, 'the v1 trap')
		expect(got[0]).toMatchObject({ inform: false, trapOid: '1.3.6.1.2.1.33.2.0.1' })
		expect(classifyUpsTrap(got[0]!.trapOid, got[0]!.varbinds)).toEqual({ kind: 'on-battery' })
	})

	it('acknowledges an inform (snmpinform exits 0)', async () => {
		const r = await runAsync('snmpinform', [
			'-v2c',
			'-c',
			'tr4p',
			'-t',
			'1',
			'-r',
			'0',
			`127.0.0.1:${rx.port}`,
			'',
			UPS_TRAP.alarmEntryAdded,
		])
		expect(r.code, r.out).toBe(0)
		await until(() => got.length === 1, 3000, 'the inform')
		expect(got[0]).toMatchObject({ inform: true, trapOid: UPS_TRAP.alarmEntryAdded })
	})

	it('rejects a wrong community: no notification, no inform acknowledgement, counted', async () => {
		const t = await runAsync('snmptrap', ['-v2c', '-c', 'wrong', `127.0.0.1:${rx.port}`, '', UPS_TRAP.onBattery])
		expect(t.code).toBe(0) // a trap is fire-and-forget
		await until(() => rejected.length >= 1, 5000, 'the trap rejected')
		const i = await runAsync('snmpinform', [
			'-v2c',
			'-c',
			'wrong',
			'-t',
			'0.5',
			'-r',
			'0',
			`127.0.0.1:${rx.port}`,
			'',
			UPS_TRAP.onBattery,
		])
		expect(i.code).not.toBe(0) // never acknowledged
		await until(() => rejected.length >= 2, 5000, 'the inform rejected')
		expect(got).toEqual([])
		expect(rx.rejectedCount).toBeGreaterThanOrEqual(2)
		expect(rejected.join(' ')).not.toContain('wrong') // the refused community is not logged or echoed
	})

	it('fuzz: random datagrams never crash the receiver; a good trap after them is delivered', async () => {
		const sock = createSocket('udp4')
		let seed = 12345
		const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff
		for (let i = 0; i < 300; i++) {
			const len = Math.floor(rnd() * 200)
			const buf = Buffer.from(Array.from({ length: len }, () => Math.floor(rnd() * 256)))
			// half of them start like an SNMP message (SEQUENCE, version), to get past the first byte
			if (i % 2 === 0 && len > 4) buf.set([0x30, len - 2, 0x02, 0x01, 0x01])
			await new Promise<void>((r) => sock.send(buf, rx.port, '127.0.0.1', () => r()))
		}
		await new Promise<void>((r) => sock.close(() => r()))
		// what must hold is that the receiver still works after the fuzz
		await trapUntil(rx.port, () => got.some((n) => n.trapOid === UPS_TRAP.onBattery), 'the good trap')
	})

	/** a trap is one UDP datagram: on two busy cores one can be lost, so the agent's side sends it up to 3 times */
	async function trapUntil(port: number, arrived: () => boolean, what: string): Promise<void> {
		for (let attempt = 1; attempt <= 3; attempt++) {
			await runAsync('snmptrap', ['-v2c', '-c', 'tr4p', `127.0.0.1:${port}`, '', UPS_TRAP.onBattery])
			const ok = await until(arrived, 3000, what).then(
				() => true,
				(err: unknown) => {
					if (attempt === 3) throw err
					return false
				},
			)
			if (ok) return
		}
	}

	it('routes a notification to the subscriber of its source address only', async () => {
		const a: Notification[] = []
		const b: Notification[] = []
		const unsubA = rx.subscribe('127.0.0.1', (n) => a.push(n))
		const unsubB = rx.subscribe('127.0.0.2', (n) => b.push(n))
		await trapUntil(rx.port, () => a.length >= 1, 'routed')
		expect(a.every((n) => n.trapOid === UPS_TRAP.onBattery)).toBe(true)
		expect(b).toEqual([])
		unsubA()
		unsubB()
	})
})

describe('UPS traps act at once', () => {
	it('upsTrapOnBattery and a low-battery alarm change the power state long before the next poll', async () => {
		const sim = new SnmpAgentSim({
			objects: upsObjects(),
			trapTarget: { host: '127.0.0.1', port: rx.port, community: 'tr4p' },
		})
		await sim.start()
		const d = new SnmpUpsDevice({
			id: 'ups-t',
			// a 60 s poll: anything seen within a second came from the trap (and the immediate poll it triggers)
			config: resolveSecrets(
				SnmpUpsDriver.parse({ type: 'snmp-ups', host: '127.0.0.1', port: sim.port, pollMs: 60_000, traps: true }),
			),
			log: silentLogger,
			traps: rx,
		})
		try {
			d.start()
			await until(() => d.synced, 3000, 'first read')
			let t0 = performance.now()
			await sim.setUps({ outputSource: 5, minutesRemaining: 20 })
			await until(() => d.status.reading?.power === 'on-battery', 1000, 'on-battery from the trap')
			expect(performance.now() - t0).toBeLessThan(1000)
			// the immediate poll the trap triggered brings the rest of the reading
			await until(() => d.status.reading?.minutesRemaining === 20, 1000, 'minutes from the triggered poll')
			t0 = performance.now()
			await sim.setUps({ batteryStatus: 4 })
			await until(() => d.status.reading?.power === 'low-battery' && d.status.reading.depleted, 1000, 'depleted')
			expect(performance.now() - t0).toBeLessThan(1000)
			await sim.setUps({ batteryStatus: 2, outputSource: 3 })
			await until(() => d.status.reading?.power === 'online', 1000, 'online after alarm removed')
		} finally {
			await d.stop()
			await sim.stop()
		}
	})

	it('two UPS agents behind one address: a trap from one never changes the other (both poll on it)', async () => {
		const target = { host: '127.0.0.1', port: rx.port, community: 'tr4p' }
		const simA = new SnmpAgentSim({ objects: upsObjects(), trapTarget: target })
		const simB = new SnmpAgentSim({ objects: upsObjects(), trapTarget: target })
		await simA.start()
		await simB.start()
		const mk = (id: string, port: number) =>
			new SnmpUpsDevice({
				id,
				config: resolveSecrets(
					SnmpUpsDriver.parse({ type: 'snmp-ups', host: '127.0.0.1', port, pollMs: 60_000, traps: true }),
				),
				log: silentLogger,
				traps: rx,
			})
		const a = mk('ups-a', simA.port)
		const b = mk('ups-b', simB.port)
		const bPowers: string[] = []
		b.on('power', (s) => bPowers.push(s.reading?.power ?? 'none'))
		try {
			a.start()
			b.start()
			await until(() => a.synced && b.synced, 3000, 'both synced')
			await simA.setUps({ outputSource: 5 })
			await until(() => a.status.reading?.power === 'on-battery', 1000, 'A on battery (by the poll the trap triggered)')
			await sleep(200)
			expect(b.status.reading?.power).toBe('online')
			expect(bPowers).toEqual(['online'])
		} finally {
			await a.stop()
			await b.stop()
			await simA.stop()
			await simB.stop()
		}
	})

	it('informs from the simulator are acknowledged and act the same', async () => {
		const sim = new SnmpAgentSim({
			objects: upsObjects(),
			trapTarget: { host: '127.0.0.1', port: rx.port, community: 'tr4p', inform: true },
		})
		await sim.start()
		const d = new SnmpUpsDevice({
			id: 'ups-i',
			config: resolveSecrets(
				SnmpUpsDriver.parse({ type: 'snmp-ups', host: '127.0.0.1', port: sim.port, pollMs: 60_000, traps: true }),
			),
			log: silentLogger,
			traps: rx,
		})
		try {
			d.start()
			await until(() => d.synced, 3000, 'first read')
			await sim.setUps({ outputSource: 5 }) // resolves only once the inform is acknowledged
			await until(() => d.status.reading?.power === 'on-battery', 1000, 'on-battery')
			expect(got.some((n) => n.inform)).toBe(true)
		} finally {
			await d.stop()
			await sim.stop()
		}
	})
})
