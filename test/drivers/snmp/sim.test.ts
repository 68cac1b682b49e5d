// Simulators built from a config (what `sigpath lab` uses): each device reads healthy from its simulator.
import { afterEach, describe, expect, it } from 'vitest'
import { NutUpsDevice } from '../../../drivers/nut/device.ts'
import { SnmpSignalDevice } from '../../../drivers/snmp/device.ts'
import { ruleObjects, simForDriver } from '../../../drivers/snmp/sim.ts'
import { freeUdpPort } from '../../../drivers/snmp/traps.ts'
import { SnmpUpsDevice } from '../../../drivers/ups/device.ts'
import { simForUps } from '../../../drivers/ups/sim.ts'
import { evaluateRules } from '../../../drivers/snmp/codec.ts'
import { parseConfigText } from '../../../src/domain/load.ts'
import { resolveSecrets } from '../../../src/domain/secrets.ts'
import { silentLogger } from '../../../src/log.ts'
import { freeTcpPort, until } from './peers.ts'

const stops: (() => Promise<void>)[] = []
afterEach(async () => {
	for (const s of stops.reverse()) await s()
	stops.length = 0
})

describe('simulators from the config', () => {
	it('snmp-ups, a vendor-mapped gateway, a rules device and a nut UPS all read healthy', async () => {
		const [p1, p2, p3, p4] = [
			await freeUdpPort('127.0.0.1'),
			await freeUdpPort('127.0.0.1'),
			await freeUdpPort('127.0.0.1'),
			await freeTcpPort(),
		]
		const env = { LAB_COMMUNITY: 'labc' }
		const cfg = resolveSecrets(
			parseConfigText(`
site: { id: lab }
devices:
  - { id: ups-a, role: ups, driver: { type: snmp-ups, host: 127.0.0.1, port: ${p1}, community: { env: LAB_COMMUNITY } } }
  - id: gw-1
    role: gateway
    driver: { type: snmp, host: 127.0.0.1, port: ${p2}, profile: gateway-2022-7, profileOids: { leg1Up: 1.3.6.1.4.1.4242.1.1.0, leg2Up: 1.3.6.1.4.1.4242.1.2.0 } }
  - id: ird-1
    role: ird
    driver:
      type: snmp
      host: 127.0.0.1
      port: ${p3}
      rules:
        - { oid: 1.3.6.1.4.1.9.1.0, op: ne, value: LOCKED, means: down }
        - { oid: 1.3.6.1.4.1.9.2.0, op: lt, value: 20, means: degraded }
  - { id: ups-n, role: ups, driver: { type: nut, host: 127.0.0.1, port: ${p4}, ups: rack-a } }
`),
			env,
		)
		const ctx = { log: silentLogger }
		const dev = (id: string) => cfg.devices.find((d) => d.id === id)!
		const d1 = dev('ups-a').driver!
		const d2 = dev('gw-1').driver!
		const d3 = dev('ird-1').driver!
		if (d1.type !== 'snmp-ups' || d2.type !== 'snmp' || d3.type !== 'snmp') throw new Error('config')
		for (const sim of [simForDriver(d1), simForDriver(d2), simForDriver(d3), simForUps(dev('ups-n'))!]) {
			await sim.start()
			stops.push(() => sim.stop())
		}
		const ups = new SnmpUpsDevice({ id: 'ups-a', config: { ...d1, pollMs: 200 }, ...ctx })
		const gw = new SnmpSignalDevice({ id: 'gw-1', config: { ...d2, pollMs: 200 }, ...ctx })
		const ird = new SnmpSignalDevice({ id: 'ird-1', config: { ...d3, pollMs: 200 }, ...ctx })
		const nutCfg = dev('ups-n').driver!
		if (nutCfg.type !== 'nut') throw new Error('config')
		const nut = new NutUpsDevice({ id: 'ups-n', config: { ...nutCfg, pollMs: 200 }, ...ctx })
		for (const d of [ups, gw, ird, nut]) {
			d.start()
			stops.push(() => d.stop())
		}
		await until(() => ups.synced && gw.synced && ird.synced && nut.synced, 5000, 'all synced')
		expect(ups.status.reading?.power).toBe('online')
		expect(nut.status.reading?.power).toBe('online')
		expect(gw.state).toMatchObject({ signal: 'up', health: 'ok' })
		expect(ird.state).toMatchObject({ signal: 'up', health: 'ok' })
	})

	it('ruleObjects picks values that match no rule', () => {
		const rules = [
			{ oid: '1.1.0', op: 'eq' as const, value: 0, means: 'down' as const },
			{ oid: '1.1.0', op: 'gt' as const, value: 5, means: 'degraded' as const },
			{ oid: '1.2.0', op: 'ne' as const, value: 'OK', means: 'down' as const },
		]
		const objs = ruleObjects(rules)
		const values = new Map(
			Object.entries(objs).map(([oid, o]) => [
				oid,
				{ oid, type: o.type === 'string' ? ('string' as const) : ('integer' as const), value: o.value },
			]),
		)
		expect(evaluateRules(rules, values)).toBe('up')
	})
})
