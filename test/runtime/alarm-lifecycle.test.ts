// Alarms with a lifecycle (docs/contract.md §7) in the daemon, against real peers: the Videohub simulator as the
// router, snmpsimd as a UPS (UPS-MIB, values changed with snmpset), mosquitto with passwords and the panels' ACL,
// the status endpoint over HTTP, the real journal. Signal devices are fakes (their drivers are tested on their own).
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { freeUdpPort } from '../../drivers/snmp/traps.ts'
import { UPS_OID } from '../../drivers/ups/codec.ts'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import type { AckResult, Alarm, AlarmRecord } from '../../src/control/payloads.ts'
import { readRecords } from '../../src/journal/index.ts'
import { silentLogger } from '../../src/log.ts'
import { createDrivers } from '../../src/runtime/adapters.ts'
import { StatusServer } from '../../src/status/server.ts'
import { requireBinary, runAsync, scratch, startPeer, until, type Peer } from '../drivers/snmp/peers.ts'
import { labConfig, startLabDaemon } from '../support/daemon-lab.ts'
import { PANEL_ACL, startMosquitto, type Mosquitto } from '../support/mosquitto.ts'

const SITE = 'alm'
const FIXTURE = join(import.meta.dirname, '../fixtures/snmp/ups.snmprec')
const ROUTER_STALE_MS = 2500
const UPS_STALE_MS = 1500

let broker: Mosquitto
let snmp: { dir: string; remove: () => void; port: number; agent: Peer | null }
let sim: VideohubSim
let dir: string
const cleanup: (() => Promise<unknown> | void)[] = []

async function startAgent(): Promise<void> {
	snmp.agent = startPeer('snmpsimd', [
		`--data-dir=${join(snmp.dir, 'data')}`,
		`--cache-dir=${join(snmp.dir, 'cache')}`,
		`--agent-udpv4-endpoint=127.0.0.1:${snmp.port}`,
		'--process-user=nobody',
		'--process-group=nogroup',
		'--logging-method=stderr',
	])
	const get = ['-v2c', '-c', 'ups', '-t', '0.3', '-r', '0', `127.0.0.1:${snmp.port}`, UPS_OID.upsOutputSource]
	await until(
		async () => (await runAsync('snmpget', get)).code === 0,
		20_000,
		() => `snmpsimd up (${snmp.agent?.output() ?? ''})`,
	)
}

async function snmpset(oid: string, value: number): Promise<void> {
	const r = await runAsync('snmpset', ['-v2c', '-c', 'ups', `127.0.0.1:${snmp.port}`, oid, 'i', String(value)])
	expect(r.code, r.out).toBe(0)
}

beforeAll(async () => {
	requireBinary('snmpsimd', 'snmpsim')
	requireBinary('snmpset', 'snmp')
	broker = await startMosquitto({ sigpath: 'daemon-pw', panel1: 'panel1-pw' }, PANEL_ACL)
	snmp = { ...scratch('alarms-snmpsim'), port: await freeUdpPort('127.0.0.1'), agent: null }
	chmodSync(snmp.dir, 0o755) // snmpsimd drops to nobody: it must read its data and write its cache
	mkdirSync(join(snmp.dir, 'data'))
	mkdirSync(join(snmp.dir, 'cache'))
	chmodSync(join(snmp.dir, 'cache'), 0o777)
	copyFileSync(FIXTURE, join(snmp.dir, 'data', 'ups.snmprec'))
	chmodSync(join(snmp.dir, 'data', 'ups.snmprec'), 0o644)
	await startAgent()
}, 60_000)

afterAll(async () => {
	await snmp?.agent?.stop()
	snmp?.remove()
	await broker?.close()
})

beforeEach(async () => {
	dir = mkdtempSync(join(tmpdir(), 'sigpath-alarms-'))
	sim = new VideohubSim({ inputs: 16, outputs: 16, routing: [0] })
	await sim.start({ host: '127.0.0.1', port: 0 })
})

afterEach(async () => {
	for (const c of cleanup.splice(0).reverse()) await c()
	await sim.stop()
	rmSync(dir, { recursive: true, force: true })
})

/** A critical feed of three discrete paths on the Videohub; with `ups`, the fiber receiver's UPS is ups-1 (snmpsimd). */
async function start(o: { ups?: boolean; takeTimeoutMs?: number } = {}) {
	const ups = `{ id: ups-1, role: ups, driver: { type: snmp-ups, host: 127.0.0.1, port: ${snmp.port}, community: ups, pollMs: 300, timeoutMs: 300, retries: 0, staleMs: ${UPS_STALE_MS} } }`
	const config = labConfig({
		site: SITE,
		powerSources: [
			'{ id: util, kind: utility }',
			`{ id: ups-a, kind: ups, upstream: util, surgeProtected: true${o.ups ? ', device: ups-1' : ''} }`,
			'{ id: ups-b, kind: ups, upstream: util, surgeProtected: true }',
		],
		routerPort: sim.port,
		routerStaleMs: ROUTER_STALE_MS,
		power: ['ups-a', 'ups-b'],
		devices: o.ups ? [ups] : [],
		failover: { lossMs: 200, clearMs: 500 },
		mqtt: { url: broker.url },
		journalDir: dir,
	})
	const { d, src, alarms } = await startLabDaemon({
		config,
		options: {
			// the real UPS driver of the config, against snmpsimd, with the config's staleMs
			upsDevices: createDrivers(config, { log: silentLogger, env: process.env }).ups,
			firstSyncTimeoutMs: 5000,
			...(o.takeTimeoutMs ? { takeTimeoutMs: o.takeTimeoutMs } : {}),
		},
		readyTimeoutMs: 8000,
		created: (d) => void cleanup.push(() => d.stop()),
	})
	for (const s of Object.values(src)) s.report('up')
	// every path up and clean: nothing stands (no-signal and at-risk of the start, before the reports, cleared)
	await until(
		() => d.alarmList().length === 0,
		8000,
		() => `no alarm (${JSON.stringify(d.alarmList())})`,
	)
	const ids = () => d.alarmList().map((a) => a.id)
	const event = (id: string, state: Alarm['state']) => alarms.find((a) => a.id === id && a.state === state)
	return { d, src, alarms, ids, event }
}

async function panel(): Promise<MqttClient> {
	const c = await mqtt.connectAsync(broker.url, {
		username: 'panel1',
		password: 'panel1-pw',
		protocolVersion: 5,
		clientId: `panel1-${randomBytes(3).toString('hex')}`,
		reconnectPeriod: 0,
	})
	cleanup.push(() => c.endAsync())
	return c
}

/** An acknowledgement from a v5 panel on its own topic (contract §5a), with a response topic in its replies space. */
async function mqttAck(c: MqttClient, payload: string): Promise<AckResult> {
	const correlation = randomBytes(8)
	const replyTopic = `sigpath/${SITE}/replies/panel1/${correlation.toString('hex')}`
	await c.subscribeAsync(replyTopic, { qos: 1 })
	const reply = new Promise<AckResult>((resolve) => {
		const onMessage = (topic: string, msg: Buffer, packet: IPublishPacket) => {
			if (topic !== replyTopic || !packet.properties?.correlationData?.equals(correlation)) return
			c.off('message', onMessage)
			resolve(JSON.parse(msg.toString()) as AckResult)
		}
		c.on('message', onMessage)
	})
	await c.publishAsync(`sigpath/${SITE}/panels/panel1/alarms/ack`, payload, {
		qos: 1,
		properties: { responseTopic: replyTopic, correlationData: correlation },
	})
	return reply
}

type Rec = { kind: string; payload: Record<string, unknown> }
const records = (): Rec[] => readRecords(dir) as Rec[]

describe('alarms with a lifecycle', () => {
	it('a Videohub that goes away is device-stale (major) within staleMs, cleared when it answers again', async () => {
		const { d, alarms, event } = await start()
		const port = sim.port
		const stoppedAt = Date.now()
		await sim.stop()
		await until(() => event('device-stale:rtr', 'raised'), ROUTER_STALE_MS + 5000, 'device-stale raised')
		const raised = event('device-stale:rtr', 'raised')!
		// stale staleMs after its last frame (a PING answered at most 2 s before the stop); a second for a busy machine
		expect(Date.parse(raised.raisedAt) - stoppedAt).toBeLessThanOrEqual(ROUTER_STALE_MS + 1000)
		expect(raised).toMatchObject({
			code: 'device-stale',
			severity: 'major',
			device: 'rtr',
			message: expect.stringMatching(/^router rtr: no answer for over 2\.5 s; link down/) as string,
		})
		expect(d.alarmList().find((a) => a.id === 'device-stale:rtr')).toMatchObject({ severity: 'major' })
		expect(d.status().alarms.map((a) => a.id)).toContain('device-stale:rtr')

		// back on the same port: the driver reconnects, the router's first frame clears the alarm
		sim = new VideohubSim({ inputs: 16, outputs: 16, routing: [0] })
		await sim.start({ host: '127.0.0.1', port })
		await until(() => event('device-stale:rtr', 'cleared'), 15_000, 'device-stale cleared')
		expect(event('device-stale:rtr', 'cleared')!.message).toBe('router rtr is answering again')
		expect(d.alarmList().map((a) => a.id)).not.toContain('device-stale:rtr')
		expect(alarms.filter((a) => a.id === 'device-stale:rtr').map((a) => a.state)).toEqual(['raised', 'cleared'])

		// journaled: raised and cleared, with the alarm's id
		await until(
			() => records().filter((r) => r.kind === 'alarm' && r.payload['id'] === 'device-stale:rtr').length === 2,
			5000,
			'the journal records',
		)
		const journaled = records().filter((r) => r.kind === 'alarm' && r.payload['id'] === 'device-stale:rtr')
		expect(journaled.map((r) => [r.payload['active'], r.payload['device'], r.payload['severity']])).toEqual([
			[true, 'rtr', 'major'],
			[false, 'rtr', 'major'],
		])
	}, 40_000)

	it('two at-risk causes are two alarms; a UPS whose snmpsimd is killed is device-stale until it answers', async () => {
		await snmpset(UPS_OID.upsOutputSource, 3) // online, whatever an earlier run left in the write cache
		const { d, src, ids, event } = await start({ ups: true })

		// cause one: the srt path fails, two healthy discrete paths of the three required
		src['srt-rx']!.report('down')
		await until(() => ids().includes('at-risk:ev/pgm:paths'), 5000, 'at-risk of the paths')
		// cause two: the fiber receiver's UPS goes on battery
		await snmpset(UPS_OID.upsOutputSource, 5)
		await until(() => ids().includes('at-risk:ev/pgm:power'), 5000, 'at-risk of power')
		const atRisk = d.alarmList().filter((a) => a.code === 'at-risk')
		expect(atRisk.map((a) => a.id).sort()).toEqual(['at-risk:ev/pgm:paths', 'at-risk:ev/pgm:power'])
		expect(atRisk.every((a) => a.feed === 'ev/pgm' && a.severity === 'major')).toBe(true)
		expect(ids()).toContain('power-on-battery:ups-1')

		// the UPS back on mains: its at-risk clears, reading as a clear; the feed is still at risk of its paths
		await snmpset(UPS_OID.upsOutputSource, 3)
		await until(() => event('at-risk:ev/pgm:power', 'cleared'), 5000, 'power at-risk cleared')
		expect(event('at-risk:ev/pgm:power', 'cleared')!.message).toBe(
			'feed ev/pgm: no longer at risk from power (its devices have their protected sources back)',
		)
		await until(() => event('power-on-battery:ups-1', 'cleared'), 5000, 'on-battery cleared')
		expect(event('power-on-battery:ups-1', 'cleared')!.message).toBe('UPS ups-1 back on mains')
		expect(ids()).toEqual(['at-risk:ev/pgm:paths'])
		expect(d.status().feeds[0]!.alarms).toEqual(['at-risk'])
		src['srt-rx']!.report('up')
		await until(() => event('at-risk:ev/pgm:paths', 'cleared'), 5000, 'paths at-risk cleared')
		expect(event('at-risk:ev/pgm:paths', 'cleared')!.message).toMatch(
			/^ev\/pgm: enough healthy discrete paths again \(3 healthy discrete paths; the feed requires 3\)$/,
		)

		// the agent dies: no answer for staleMs is device-stale (minor); its restart clears it
		await snmp.agent!.stop()
		await until(() => event('device-stale:ups-1', 'raised'), UPS_STALE_MS + 5000, 'UPS device-stale')
		expect(event('device-stale:ups-1', 'raised')).toMatchObject({
			severity: 'minor',
			device: 'ups-1',
			message: 'UPS ups-1: no answer for over 1.5 s',
		})
		await startAgent()
		await until(() => event('device-stale:ups-1', 'cleared'), 15_000, 'UPS device-stale cleared')
		expect(event('device-stale:ups-1', 'cleared')!.message).toBe('UPS ups-1 is answering again')
		expect(ids()).toEqual([])
	}, 90_000)

	it('acknowledged over HTTP and MQTT, active until its condition clears; the retained list; the journal', async () => {
		const { d, src, ids, event } = await start({ takeTimeoutMs: 300 })
		const server = new StatusServer({ daemon: d, listen: '127.0.0.1:0', token: 'op-secret', log: silentLogger })
		const { url } = await server.start()
		cleanup.push(() => server.stop())
		const auth = { authorization: 'Bearer op-secret' }

		// an alarm raised before anyone subscribes
		src['srt-rx']!.report('down')
		const atRisk = 'at-risk:ev/pgm:paths'
		await until(() => ids().includes(atRisk), 5000, 'at-risk')

		// a panel that connects after the raise finds the active list retained
		const late = await panel()
		const lists: AlarmRecord[][] = []
		const events: Alarm[] = []
		late.on('message', (topic, msg) => {
			if (topic === `sigpath/${SITE}/alarms/active`) lists.push(JSON.parse(msg.toString()) as AlarmRecord[])
			if (topic === `sigpath/${SITE}/alarms`) events.push(JSON.parse(msg.toString()) as Alarm)
		})
		await late.subscribeAsync([`sigpath/${SITE}/alarms/active`, `sigpath/${SITE}/alarms`], { qos: 1 })
		await until(() => lists.length > 0, 5000, 'the retained active list')
		expect(lists[0]).toEqual([expect.objectContaining({ id: atRisk, code: 'at-risk', severity: 'major' })])
		expect(lists[0]![0]!.ack).toBeUndefined()

		// GET /alarms and /status carry the same list
		const got = (await (await fetch(`${url}/alarms`)).json()) as AlarmRecord[]
		expect(got).toEqual(d.alarmList())
		expect(got.map((a) => a.id)).toEqual([atRisk])
		const status = (await (await fetch(`${url}/status`)).json()) as { alarms: AlarmRecord[] }
		expect(status.alarms).toEqual(got)
		expect((await fetch(`${url}/alarms?all=2`)).status).toBe(400)

		// acknowledge over HTTP: a token is needed; an unknown id changes nothing
		const ackUrl = `${url}/alarms/${encodeURIComponent(atRisk)}/ack`
		expect((await fetch(ackUrl, { method: 'POST' })).status).toBe(401)
		expect((await fetch(ackUrl, { method: 'POST', headers: { authorization: 'Bearer nope' } })).status).toBe(403)
		const unknown = await fetch(`${url}/alarms/no-such/ack`, { method: 'POST', headers: auth })
		expect(unknown.status).toBe(404)
		expect(await unknown.json()).toEqual({ ok: false, error: 'no active alarm "no-such"' })
		const bad = await fetch(ackUrl, { method: 'POST', headers: auth, body: '{"who":"x"}' })
		expect(bad.status).toBe(400)
		expect(d.alarmList()[0]!.ack).toBeUndefined()
		const acked = await fetch(ackUrl, { method: 'POST', headers: auth, body: JSON.stringify({ operator: 'tco-anna' }) })
		expect(acked.status).toBe(200)
		expect(await acked.json()).toMatchObject({ ok: true, alarm: { id: atRisk, ack: { by: 'tco-anna' } } })
		// the id as it is, slashes and all, names the same alarm; a second acknowledgement changes nothing
		const again = await fetch(`${url}/alarms/${atRisk}/ack`, { method: 'POST', headers: auth })
		expect(again.status).toBe(200)
		expect(await again.json()).toMatchObject({ ok: true, alarm: { ack: { by: 'tco-anna' } } })
		// still active, acknowledged, in every view
		expect(d.alarmList()).toEqual([
			expect.objectContaining({ id: atRisk, ack: expect.objectContaining({ by: 'tco-anna' }) as unknown }),
		])
		await until(() => events.some((e) => e.id === atRisk && e.state === 'acknowledged'), 5000, 'the ack event')
		await until(() => lists.at(-1)?.[0]?.ack?.by === 'tco-anna', 5000, 'the retained list with the ack')

		// take-unconfirmed: the router acknowledges the failover take and never shows it
		sim.faults.ignoreTakes = true
		src['rx-fiber']!.report('down')
		const unconfirmed = 'take-unconfirmed:ev/pgm'
		await until(() => ids().includes(unconfirmed), 8000, 'take-unconfirmed')
		expect(d.alarmList().find((a) => a.id === unconfirmed)).toMatchObject({ severity: 'critical', feed: 'ev/pgm' })

		// acknowledge over MQTT, with a v5 response topic; a bad payload and an unknown id change nothing
		const p = await panel()
		expect(await mqttAck(p, '{"id":1}')).toMatchObject({ ok: false, error: expect.stringMatching(/^id: /) as string })
		expect(await mqttAck(p, '{"id":"nope"}')).toEqual({ ok: false, error: 'no active alarm "nope"' })
		expect(await mqttAck(p, JSON.stringify({ id: unconfirmed, operator: 'panel-op' }))).toMatchObject({
			ok: true,
			alarm: { id: unconfirmed, ack: { by: 'panel-op' } },
		})
		expect(d.alarmList().find((a) => a.id === unconfirmed)?.ack?.by).toBe('panel-op')

		// the router takes again: the next take of the feed is confirmed and the alarm clears
		sim.faults.ignoreTakes = false
		src['rx-fiber']!.report('up')
		src['srt-rx']!.report('up')
		await until(() => event(unconfirmed, 'cleared'), 8000, 'take-unconfirmed cleared')
		expect(event(unconfirmed, 'cleared')!.message).toMatch(
			/^ev\/pgm: rtr confirmed the take of \w+: the router follows sigpath again$/,
		)
		// at-risk still stands (sat, which the router would not take, stays down until the router syncs again): still
		// acknowledged, still active
		expect(d.alarmList()).toEqual([
			expect.objectContaining({ id: atRisk, ack: expect.objectContaining({ by: 'tco-anna' }) as unknown }),
		])
		// the last hour's cleared alarms, with their acknowledgement
		// (those of the start, before the first reports, may be among them: a busy machine lets lossMs pass first)
		const all = (await (await fetch(`${url}/alarms?all=1`)).json()) as AlarmRecord[]
		const raisedAt = all.map((a) => a.raisedAt)
		expect(raisedAt).toEqual([...raisedAt].sort().reverse())
		const mine = all.filter((a) => a.id === unconfirmed || (a.id === atRisk && a.clearedAt === undefined))
		expect(mine.map((a) => a.id)).toEqual([unconfirmed, atRisk])
		expect(mine[0]).toMatchObject({ ack: { by: 'panel-op' }, clearedAt: expect.any(String) as string })

		// the journal: each raise, acknowledgement and clear
		await until(() => records().filter((r) => r.kind === 'ack').length === 2, 5000, 'two ack records')
		expect(
			records()
				.filter((r) => r.kind === 'ack')
				.map((r) => r.payload),
		).toEqual([
			expect.objectContaining({
				id: atRisk,
				alarm: 'at-risk',
				feed: 'ev/pgm',
				by: 'tco-anna',
				panel: 'http',
				via: 'http',
			}),
			// the panel proven by its topic (§5a), the operator as the payload claims
			expect.objectContaining({ id: unconfirmed, by: 'panel-op', operator: 'panel-op', panel: 'panel1', via: 'mqtt' }),
		])
		await until(
			() => records().filter((r) => r.kind === 'alarm' && r.payload['id'] === unconfirmed).length === 2,
			5000,
			'take-unconfirmed raised and cleared in the journal',
		)
		const kinds = records()
			.filter((r) => r.payload['id'] === unconfirmed)
			.map((r) => (r.kind === 'ack' ? 'ack' : r.payload['active'] ? 'raised' : 'cleared'))
		expect(kinds).toEqual(['raised', 'ack', 'cleared'])
	}, 60_000)
})
