// Alarms on MQTT (docs/contract.md §7) at the control client: acknowledgements on `sigpath/<site>/alarms/ack` from a
// 3.1.1 panel (mosquitto_pub, the reply on `.../alarms/ack/result` read with mosquitto_sub), the active list
// retained on `.../alarms/active` and sent again after a broker restart, and the embedded broker's ACL letting a
// panel acknowledge but never write the list.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/control/broker.ts'
import { MqttControl, type Operator } from '../../src/control/mqtt.ts'
import type { AckCommand, AckResult, AlarmRecord } from '../../src/control/payloads.ts'
import { silentLogger } from '../../src/log.ts'
import { PANEL_ACL, startMosquitto, type Mosquitto } from '../support/mosquitto.ts'
import { freePort } from '../support/peers.ts'

const run = promisify(execFile)
const SITE = 'boc-alarms'
const ALARM: AlarmRecord = {
	id: 'device-stale:rtr-1',
	code: 'device-stale',
	severity: 'major',
	device: 'rtr-1',
	message: 'router rtr-1: no answer for over 5 s; link down: closed by peer',
	raisedAt: '2025-03-21T20:00:00.000Z',
}

let broker: Mosquitto
const acks: { command: AckCommand; operator: Operator; panel: string | null }[] = []
const stops: (() => Promise<unknown>)[] = []

beforeAll(async () => {
	broker = await startMosquitto({ sigpath: 'daemon-pw', panel1: 'panel1-pw' }, PANEL_ACL)
})
afterAll(async () => broker.close())
afterEach(async () => {
	for (const s of stops.splice(0).reverse()) await s()
	acks.length = 0
})

async function control(o: { url: string; username: string; password: string; protocolVersion?: 4 | 5 }) {
	const c = new MqttControl({
		site: SITE,
		...o,
		clientId: `sigpath-${SITE}-${randomBytes(2).toString('hex')}`,
		feeds: new Set(['ev/pgm']),
		log: silentLogger,
		reconnectPeriodMs: 100,
		handler: async () => ({ ok: true }),
		ack: (command, operator, panel): AckResult => {
			acks.push({ command, operator, panel })
			return command.id === ALARM.id
				? { ok: true, alarm: { ...ALARM, ack: { by: operator.name, at: '2025-03-21T20:01:00.000Z' } } }
				: { ok: false, error: `no active alarm "${command.id}"` }
		},
	})
	await c.start()
	stops.push(() => c.stop())
	return c
}

async function client(url: string, extra: mqtt.IClientOptions = {}): Promise<MqttClient> {
	const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...extra })
	stops.push(() => c.endAsync(true))
	return c
}

/** The retained messages under `topics`, as a client that connects now sees them. */
async function retained(url: string, topics: string[], extra: mqtt.IClientOptions = {}): Promise<Map<string, string>> {
	const c = await client(url, extra)
	const got = new Map<string, string>()
	c.on('message', (t, m, p) => p.retain && got.set(t, m.toString()))
	await c.subscribeAsync(topics, { qos: 1 })
	await new Promise((r) => setTimeout(r, 300))
	return got
}

describe('alarms on MQTT through mosquitto', () => {
	it('a 3.1.1 panel acknowledges with mosquitto_pub and reads the reply on alarms/ack/result', async () => {
		await control({ url: broker.url, username: 'sigpath', password: 'daemon-pw' })
		const auth = ['-p', String(broker.port), '-u', 'panel1', '-P', 'panel1-pw']
		const ack = async (payload: string): Promise<AckResult> => {
			// stdbuf: mosquitto_sub's stdout is block-buffered into a pipe; its -d lines must arrive as they happen
			const topic = `sigpath/${SITE}/alarms/ack/result`
			const reader = execFile('stdbuf', ['-oL', 'mosquitto_sub', ...auth, '-t', topic, '-C', '1', '-W', '10', '-d'])
			let out = ''
			reader.stdout?.on('data', (d: Buffer) => (out += d.toString()))
			const done = new Promise((resolve) => reader.once('close', resolve))
			const deadline = Date.now() + 10_000
			while (!/received SUBACK/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
			await run('mosquitto_pub', [
				...auth,
				'-V',
				'mqttv311',
				'-q',
				'1',
				'-t',
				`sigpath/${SITE}/alarms/ack`,
				'-m',
				payload,
			])
			await done
			const line = out.split('\n').find((l) => l.startsWith('{'))
			expect(line, out).toBeDefined()
			return JSON.parse(line!) as AckResult
		}
		expect(await ack(JSON.stringify({ id: ALARM.id, operator: 'tco-anna' }))).toMatchObject({
			ok: true,
			alarm: { id: ALARM.id, ack: { by: 'tco-anna' } },
		})
		expect(acks[0]).toEqual({
			command: { id: ALARM.id, operator: 'tco-anna' },
			operator: { name: 'tco-anna', source: 'payload', via: 'mqtt', panel: null },
			panel: null,
		})
		expect(await ack('{"id":"nope"}')).toEqual({ ok: false, error: 'no active alarm "nope"' })
		// a bad payload never reaches the runtime
		expect(await ack('{"id":"x","by":"me"}')).toEqual({ ok: false, error: 'unknown key "by"' })
		expect(acks).toHaveLength(2)
	})

	it('retains the active list, sends it again after a broker restart, and a panel cannot write it', async () => {
		const c = await control({ url: broker.url, username: 'sigpath', password: 'daemon-pw' })
		c.publishActiveAlarms([ALARM])
		c.markSynced()
		const panel = { username: 'panel1', password: 'panel1-pw', protocolVersion: 5 as const }
		const topic = `sigpath/${SITE}/alarms/active`
		expect(JSON.parse((await retained(broker.url, [topic], panel)).get(topic)!)).toEqual([ALARM])
		const p = await client(broker.url, panel)
		const err = await p.publishAsync(topic, '[]', { qos: 1, retain: true }).then(
			() => undefined,
			(e: Error & { code?: number }) => e,
		)
		expect(err?.code).toBe(135)
		await broker.restart() // persistence off: the retained list is gone with it
		const deadline = Date.now() + 5000
		while (!c.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
		await new Promise((r) => setTimeout(r, 200))
		expect(JSON.parse((await retained(broker.url, [topic], panel)).get(topic)!)).toEqual([ALARM])
		c.publishActiveAlarms([])
		await new Promise((r) => setTimeout(r, 200))
		expect((await retained(broker.url, [topic], panel)).get(topic)).toBe('[]')
	})
})

describe('alarms through the embedded broker', () => {
	let embedded: EmbeddedBroker
	beforeAll(async () => {
		embedded = await startEmbeddedBroker(SITE, '127.0.0.1', await freePort(), silentLogger)
	})
	afterAll(async () => embedded.close())

	it('a loopback panel acknowledges (reply on alarms/ack/result) but cannot write the active list', async () => {
		const c = await control({ ...embedded, protocolVersion: 4 })
		c.publishActiveAlarms([ALARM])
		c.markSynced()
		const p = await client(embedded.url, { protocolVersion: 4 })
		const replies: AckResult[] = []
		p.on('message', (t, m) => t.endsWith('/alarms/ack/result') && replies.push(JSON.parse(m.toString()) as AckResult))
		await p.subscribeAsync(`sigpath/${SITE}/alarms/ack/result`, { qos: 1 })
		await p.publishAsync(`sigpath/${SITE}/alarms/ack`, JSON.stringify({ id: ALARM.id }), { qos: 1 })
		const deadline = Date.now() + 5000
		while (replies.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
		expect(replies).toEqual([expect.objectContaining({ ok: true })])
		expect(acks[0]?.operator).toEqual({ name: 'unknown', source: 'unknown', via: 'mqtt', panel: null })
		// 3.1.1 has no refusal code: the broker drops the publish (and the client), the list stays as published
		const forger = await client(embedded.url, { protocolVersion: 4 })
		forger.publish(`sigpath/${SITE}/alarms/active`, '[]', { qos: 0, retain: true })
		await new Promise((r) => setTimeout(r, 200))
		const topic = `sigpath/${SITE}/alarms/active`
		expect(JSON.parse((await retained(embedded.url, [topic], { protocolVersion: 4 })).get(topic)!)).toEqual([ALARM])
	})
})
