// Panel identity (docs/contract.md §5a) against a real mosquitto with passwords and the ACL of docs/operations.md:
// the topic proves the panel, the broker refuses a panel writing into another's space, and sigpath replies only where
// the panel alone may read. A `monitor` user reads every topic, to see everything sigpath publishes.
import { randomBytes } from 'node:crypto'
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { MqttControl, replyTarget, type AckHandler, type Operator } from '../../src/control/mqtt.ts'
import type { AlarmRecord, CommandResult, SetCommand } from '../../src/control/payloads.ts'
import { silentLogger } from '../../src/log.ts'
import { PANEL_ACL, startMosquitto, type Mosquitto } from '../support/mosquitto.ts'
import { until } from '../support/status-lab.ts'

const SITE = 'boc-test'
const BASE = `sigpath/${SITE}`
let broker: Mosquitto
const calls: { feed: string; command: SetCommand; operator: Operator }[] = []
let control: MqttControl | undefined
const clients: MqttClient[] = []

beforeAll(async () => {
	broker = await startMosquitto(
		{ sigpath: 'daemon-pw', panel1: 'panel1-pw', panel2: 'panel2-pw', monitor: 'monitor-pw' },
		`${PANEL_ACL}\nuser monitor\ntopic read #\n`,
	)
})
afterAll(async () => broker.close())
afterEach(async () => {
	for (const c of clients.splice(0)) await c.endAsync()
	await control?.stop()
	control = undefined
	calls.length = 0
})

async function startControl(ack?: AckHandler): Promise<MqttControl> {
	control = new MqttControl({
		site: SITE,
		url: broker.url,
		username: 'sigpath',
		password: 'daemon-pw',
		clientId: `sigpath-${SITE}`,
		feeds: new Set(['wbc/pgm']),
		log: silentLogger,
		reconnectPeriodMs: 100,
		handler: async (feed, command, operator) => {
			calls.push({ feed, command, operator })
			return { ok: true }
		},
		...(ack ? { ack } : {}),
	})
	await control.start()
	return control
}

async function connect(user: string): Promise<MqttClient> {
	const c = await mqtt.connectAsync(broker.url, {
		username: user,
		password: `${user}-pw`,
		protocolVersion: 5,
		clientId: `${user}-${randomBytes(3).toString('hex')}`,
		reconnectPeriod: 0,
	})
	clients.push(c)
	return c
}

interface Seen {
	topic: string
	payload: string
	correlation: string | undefined
}

/** Every message on the broker, in the order the monitor receives them. */
async function monitor(): Promise<{
	seen: Seen[]
	next: (topic: string, correlation?: string, from?: number) => Promise<Seen>
}> {
	const c = await connect('monitor')
	const seen: Seen[] = []
	c.on('message', (topic, payload, packet: IPublishPacket) => {
		if (packet.retain) return // left by an earlier test (online=false): not something sent now
		seen.push({ topic, payload: payload.toString(), correlation: packet.properties?.correlationData?.toString() })
	})
	await c.subscribeAsync('#', { qos: 1 })
	/** the first message on `topic` (with that correlation data) from the `from`-th message on */
	const next = async (topic: string, correlation?: string, from = 0): Promise<Seen> => {
		const match = (s: Seen) => s.topic === topic && (correlation === undefined || s.correlation === correlation)
		await until(() => seen.slice(from).some(match), 10_000, `a message on ${topic}`)
		return seen.slice(from).find(match)!
	}
	return { seen, next }
}

describe('panel commands (sigpath/<site>/panels/<panel>/feeds/<event>/<feed>/set)', () => {
	it('the topic names the panel; the payload names the operator; the reply goes to the panel reply topic it gave', async () => {
		await startControl()
		const m = await monitor()
		const p = await connect('panel1')
		const replyTopic = `${BASE}/replies/panel1/req-1`
		await p.publishAsync(
			`${BASE}/panels/panel1/feeds/wbc/pgm/set`,
			'{"action":"take","path":"sat","operator":"bco-1"}',
			{
				qos: 1,
				properties: { responseTopic: replyTopic, correlationData: Buffer.from('c-1') },
			},
		)
		expect(await m.next(replyTopic)).toEqual({ topic: replyTopic, payload: '{"ok":true}', correlation: 'c-1' })
		expect(calls).toEqual([
			{
				feed: 'wbc/pgm',
				command: { action: 'take', path: 'sat', operator: 'bco-1' },
				operator: { name: 'bco-1', source: 'payload', via: 'mqtt', panel: 'panel1' },
			},
		])
	})

	it('the broker refuses panel1 publishing into panel2 space (reason 135): nothing reaches sigpath', async () => {
		await startControl()
		const p = await connect('panel1')
		for (const topic of [`${BASE}/panels/panel2/feeds/wbc/pgm/set`, `${BASE}/panels/panel2/alarms/ack`]) {
			const err = await p.publishAsync(topic, '{"action":"auto"}', { qos: 1 }).then(
				() => undefined,
				(e: Error & { code?: number }) => e,
			)
			expect({ topic, code: err?.code }).toEqual({ topic, code: 135 })
		}
		// the same command on its own topic goes through, and is the only one sigpath ever saw
		const m = await monitor()
		await p.publishAsync(`${BASE}/panels/panel1/feeds/wbc/pgm/set`, '{"action":"auto"}', { qos: 1 })
		await m.next(`${BASE}/panels/panel1/feeds/wbc/pgm/set/result`)
		expect(calls.map((c) => c.operator.panel)).toEqual(['panel1'])
	})

	it('never publishes on a response topic outside the panel space: the reply goes to its set/result instead', async () => {
		await startControl()
		const m = await monitor()
		const p = await connect('panel1')
		const command = `${BASE}/panels/panel1/feeds/wbc/pgm/set`
		const result = `${command}/result`
		const foreign = [
			`${BASE}/alarms`,
			`${BASE}/replies/panel2/x`,
			`${BASE}/replies/panel10/x`,
			`${BASE}/feeds/wbc/pgm/state`,
			`${BASE}/panels/panel2/feeds/wbc/pgm/set/result`,
			command, // its own command topic: a reply there would be read back as a command
			`sigpath/other-site/replies/panel1/x`,
			'elsewhere/replies/panel1/x',
		]
		for (const [i, responseTopic] of foreign.entries()) {
			const before = m.seen.length
			await p.publishAsync(command, '{"action":"auto"}', {
				qos: 1,
				properties: { responseTopic, correlationData: Buffer.from(`c-${i}`) },
			})
			// mosquitto keeps one publisher's messages in order: anything sigpath sent before its reply is seen first
			await m.next(result, `c-${i}`, before)
			expect({ responseTopic, seen: m.seen.slice(before).map((s) => [s.topic, s.payload, s.correlation]) }).toEqual({
				responseTopic,
				seen: [
					[command, '{"action":"auto"}', `c-${i}`],
					[result, '{"ok":true}', `c-${i}`],
				],
			})
		}
		expect(calls).toHaveLength(foreign.length)
	})

	it('keeps the v1 topic working with panel null: the reply goes to the v1 set/result, never to a response topic', async () => {
		await startControl()
		const m = await monitor()
		const p = await connect('panel1')
		const v1 = `${BASE}/feeds/wbc/pgm/set`
		await p.publishAsync(v1, '{"action":"lock"}', {
			qos: 1,
			properties: { responseTopic: `${BASE}/replies/panel2/y`, correlationData: Buffer.from('v1') },
		})
		expect(await m.next(`${v1}/result`)).toMatchObject({ payload: '{"ok":true}', correlation: 'v1' })
		expect(m.seen.map((s) => s.topic)).toEqual([v1, `${v1}/result`])
		// the reply topic's <panel> is kept as the operator's v1 claim; it proves nothing, so panel stays null
		expect(calls[0]?.operator).toEqual({ name: 'panel2', source: 'reply-topic', via: 'mqtt', panel: null })
		await p.publishAsync(v1, '{"action":"unlock","operator":"bco-7"}', { qos: 1 })
		await m.next(`${v1}/result`, undefined, 2)
		await until(() => calls.length === 2, 10_000, 'the second command')
		expect(calls[1]?.operator).toEqual({ name: 'bco-7', source: 'payload', via: 'mqtt', panel: null })
	})

	it('does not execute a retained command again when it subscribes anew', async () => {
		await startControl()
		const p = await connect('panel1')
		const m = await monitor()
		const command = `${BASE}/panels/panel1/feeds/wbc/pgm/set`
		await p.publishAsync(command, '{"action":"manual"}', { qos: 1, retain: true })
		await m.next(`${command}/result`)
		expect(calls.map((c) => c.command.action)).toEqual(['manual'])
		await control!.stop()
		await startControl() // mosquitto hands the retained command to the new subscription
		// a command sent after the new start is answered after any retained one was delivered: it is the barrier
		const before = m.seen.length
		await p.publishAsync(command, '{"action":"auto"}', { qos: 1 })
		await m.next(`${command}/result`, undefined, before)
		expect(calls.map((c) => c.command.action)).toEqual(['manual', 'auto'])
		await control!.stop()
		await p.publishAsync(command, '', { qos: 1, retain: true }) // clears the retained message
	})
})

describe('alarm acknowledgement (sigpath/<site>/panels/<panel>/alarms/ack)', () => {
	const ack = `${BASE}/panels/panel1/alarms/ack`

	it('says it is not available when the daemon gives no handler', async () => {
		await startControl()
		const m = await monitor()
		const p = await connect('panel1')
		await p.publishAsync(ack, '{"id":"device-stale:rtr-1"}', { qos: 1 })
		expect(JSON.parse((await m.next(`${ack}/result`)).payload)).toEqual({
			ok: false,
			error: 'alarm acknowledgement not available',
		})
	})

	it('gives the handler the id, the panel proven by the topic and the operator claimed; refuses bad payloads', async () => {
		const acks: [string, string | null, string][] = []
		const alarm = (id: string): AlarmRecord => ({
			id,
			code: id.split(':')[0]!,
			severity: 'minor',
			message: 'm',
			raisedAt: '2026-12-02T00:00:00.000Z',
		})
		await startControl((command, operator, panel) => {
			acks.push([command.id, panel, operator.name])
			return command.id === 'no-such'
				? { ok: false, error: 'no active alarm no-such' }
				: { ok: true, alarm: alarm(command.id) }
		})
		const m = await monitor()
		const p = await connect('panel1')
		const replies = `${BASE}/replies/panel1/ack`
		const send = async (payload: string, c: string) => {
			await p.publishAsync(ack, payload, {
				qos: 1,
				properties: { responseTopic: replies, correlationData: Buffer.from(c) },
			})
			return JSON.parse((await m.next(replies, c)).payload) as CommandResult
		}
		const reason = (r: CommandResult) => (r.ok ? 'ok' : r.error)
		expect(await send('{"id":"device-stale:rtr-1","operator":"bco-1"}', 'a')).toEqual({
			ok: true,
			alarm: alarm('device-stale:rtr-1'),
		})
		expect(await send('{"id":"journal-failed"}', 'b')).toEqual({ ok: true, alarm: alarm('journal-failed') })
		expect(await send('{"id":"no-such"}', 'c')).toEqual({ ok: false, error: 'no active alarm no-such' })
		expect(reason(await send('{"id":""}', 'd'))).toMatch(/^id: /)
		expect(await send('{"id":"x","by":"me"}', 'e')).toEqual({ ok: false, error: 'unknown key "by"' })
		expect(reason(await send('not json', 'f'))).toMatch(/^payload is not JSON/)
		expect(acks).toEqual([
			['device-stale:rtr-1', 'panel1', 'bco-1'],
			// no operator named: the panel itself is who pressed the button
			['journal-failed', 'panel1', 'panel1'],
			['no-such', 'panel1', 'panel1'],
		])
	})
})

describe('replyTarget: where a reply may go', () => {
	const set = `${BASE}/panels/panel1/feeds/wbc/pgm/set`
	it('honours only the panel own replies, or its own set/result; anything else falls back, saying why', () => {
		expect(replyTarget(BASE, set, 'panel1', undefined)).toEqual({ topic: `${set}/result` })
		expect(replyTarget(BASE, set, 'panel1', `${BASE}/replies/panel1`)).toEqual({ topic: `${BASE}/replies/panel1` })
		expect(replyTarget(BASE, set, 'panel1', `${BASE}/replies/panel1/a/b`)).toEqual({
			topic: `${BASE}/replies/panel1/a/b`,
		})
		for (const foreign of [
			`${BASE}/replies/panel1/+`,
			`${BASE}/replies/panel1/#`,
			`${BASE}/replies/panel1x/a`,
			`${BASE}/replies`,
			`${BASE}/panels/panel1/feeds/wbc/clean/set/result`,
			`sigpath/other/replies/panel1/a`,
		])
			expect(replyTarget(BASE, set, 'panel1', foreign)).toEqual({
				topic: `${set}/result`,
				ignored: `outside panel panel1's space (${BASE}/replies/panel1/...)`,
			})
		const v1 = `${BASE}/feeds/wbc/pgm/set`
		expect(replyTarget(BASE, v1, null, `${BASE}/replies/panel1/a`)).toEqual({
			topic: `${v1}/result`,
			ignored: 'a command on the v1 topic gets its reply on set/result',
		})
	})
})
