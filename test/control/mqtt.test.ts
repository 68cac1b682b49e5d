// MQTT control (docs/contract.md §5) against a real mosquitto with credentials and ACLs, panels played by mosquitto_pub /
// mosquitto_sub and by MQTT.js clients.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import fc from 'fast-check'
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { MqttControl, type Operator } from '../../src/control/mqtt.ts'
import type { CommandResult, FeedState, SetCommand } from '../../src/control/payloads.ts'
import { silentLogger } from '../../src/log.ts'
import { PANEL_ACL, startMosquitto, type Mosquitto } from '../support/mosquitto.ts'

const run = promisify(execFile)
const SITE = 'boc-test'
const FEEDS = new Set(['wbc/pgm', 'wbc/clean'])
let broker: Mosquitto
const calls: { feed: string; command: SetCommand; operator: Operator }[] = []
let control: MqttControl
let nextResult: CommandResult = { ok: true }

beforeAll(async () => {
	broker = await startMosquitto({ sigpath: 'daemon-pw', panel1: 'panel1-pw', panel2: 'panel2-pw' }, PANEL_ACL)
})
afterAll(async () => broker.close())

async function startControl(extra: Partial<ConstructorParameters<typeof MqttControl>[0]> = {}) {
	control = new MqttControl({
		site: SITE,
		url: broker.url,
		username: 'sigpath',
		password: 'daemon-pw',
		clientId: `sigpath-${SITE}`,
		feeds: FEEDS,
		log: silentLogger,
		reconnectPeriodMs: 100,
		handler: async (feed, command, operator) => {
			calls.push({ feed, command, operator })
			return nextResult
		},
		...extra,
	})
	await control.start()
	return control
}

const clients: MqttClient[] = []
async function panel(user = 'panel1', protocolVersion: 4 | 5 = 5): Promise<MqttClient> {
	const c = await mqtt.connectAsync(broker.url, {
		username: user,
		password: `${user}-pw`,
		protocolVersion,
		clientId: `${user}-${randomBytes(3).toString('hex')}`,
		reconnectPeriod: 0,
	})
	clients.push(c)
	return c
}

/**
 * Publishes a command from a v5 panel on its own topic (`panels/<user>/feeds/<feed>/set`) with a response topic in its
 * reply space and correlation data; resolves with the reply.
 */
async function request(c: MqttClient, feed: string, payload: string | Buffer, user = 'panel1'): Promise<CommandResult> {
	const correlation = randomBytes(8)
	const replyTopic = `sigpath/${SITE}/replies/${user}/${correlation.toString('hex')}`
	await c.subscribeAsync(replyTopic, { qos: 1 })
	const reply = new Promise<CommandResult>((resolve) => {
		const onMessage = (topic: string, msg: Buffer, packet: IPublishPacket) => {
			if (topic !== replyTopic || !packet.properties?.correlationData?.equals(correlation)) return
			c.off('message', onMessage)
			resolve(JSON.parse(msg.toString()) as CommandResult)
		}
		c.on('message', onMessage)
	})
	await c.publishAsync(`sigpath/${SITE}/panels/${user}/feeds/${feed}/set`, payload, {
		qos: 1,
		properties: { responseTopic: replyTopic, correlationData: correlation },
	})
	return reply
}

afterEach(async () => {
	for (const c of clients.splice(0)) await c.endAsync()
	await control?.stop()
	calls.length = 0
	nextResult = { ok: true }
})

describe('MQTT control through mosquitto', () => {
	it('takes a v5 command with response topic and correlation data, and replies there', async () => {
		await startControl()
		const p = await panel()
		const r = await request(p, 'wbc/pgm', JSON.stringify({ action: 'take', path: 'sat', operator: 'bco-1' }))
		expect(r).toEqual({ ok: true })
		expect(calls).toEqual([
			{
				feed: 'wbc/pgm',
				command: { action: 'take', path: 'sat', operator: 'bco-1' },
				operator: { name: 'bco-1', source: 'payload', via: 'mqtt', panel: 'panel1' },
			},
		])
	})

	it('names the panel as the operator when the payload names none, and passes refusals on', async () => {
		await startControl()
		nextResult = { ok: false, error: 'feed is locked' }
		const p = await panel('panel2')
		expect(await request(p, 'wbc/clean', '{"action":"lock"}', 'panel2')).toEqual({ ok: false, error: 'feed is locked' })
		expect(calls[0]?.operator).toEqual({ name: 'panel2', source: 'panel', via: 'mqtt', panel: 'panel2' })
	})

	it('replies to a 3.1.1 panel on set/result, and mosquitto_pub / mosquitto_sub work as panels', async () => {
		await startControl()
		// stdbuf: mosquitto_sub's stdout is block-buffered into a pipe; its -d lines must arrive as they happen
		const sub = execFile('stdbuf', [
			'-oL',
			'mosquitto_sub',
			'-p',
			String(broker.port),
			'-u',
			'panel1',
			'-P',
			'panel1-pw',
			'-t',
			`sigpath/${SITE}/feeds/wbc/pgm/set/result`,
			'-C',
			'1',
			'-W',
			'10',
			'-d',
		])
		let out = ''
		sub.stdout?.on('data', (d: Buffer) => (out += d.toString()))
		const done = new Promise((resolve) => sub.once('close', resolve)) // close, not exit: stdout read to its end
		// -d prints the protocol exchange: publish only once mosquitto_sub's subscription is acknowledged
		const deadline = Date.now() + 10_000
		while (!/received SUBACK/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
		await run('mosquitto_pub', [
			'-p',
			String(broker.port),
			'-u',
			'panel1',
			'-P',
			'panel1-pw',
			'-V',
			'mqttv311',
			'-q',
			'1',
			'-t',
			`sigpath/${SITE}/feeds/wbc/pgm/set`,
			'-m',
			'{"action":"auto"}',
		])
		await done
		const reply = out.split('\n').find((l) => l.startsWith('{'))
		expect(reply, out).toBeDefined()
		expect(JSON.parse(reply!)).toEqual({ ok: true })
		expect(calls.map((c) => c.command)).toEqual([{ action: 'auto' }])
	})

	it('refuses bad payloads with a reason and never calls the engine', async () => {
		await startControl()
		const p = await panel()
		const cases: [string | Buffer, RegExp][] = [
			['not json', /^payload is not JSON/],
			['{"action":"explode"}', /^action: /],
			['{"action":"take"}', /^path: take needs a path$/],
			['{"action":"lock","path":"sat"}', /^path: lock takes no path$/],
			['{"action":"take","path":"sat","force":"yes"}', /^force: /],
			['{"action":"auto","extra":1}', /^unknown key "extra"$/],
			['[1,2,3]', /expected object/],
			[Buffer.alloc(1024 * 1024, 0x7b), /^payload is 1048576 bytes; at most 16384 are read$/],
		]
		for (const [payload, expected] of cases) {
			const r = await request(p, 'wbc/pgm', payload)
			expect(r.ok).toBe(false)
			expect(r.ok === false && r.error).toMatch(expected)
		}
		expect(await request(p, 'wbc/nope', '{"action":"auto"}')).toEqual({ ok: false, error: 'unknown feed wbc/nope' })
		expect(calls).toEqual([])
	})

	it('fuzz: random bytes and random JSON change nothing', async () => {
		await startControl()
		const p = await panel()
		const samples = fc.sample(
			fc.oneof(
				fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
				fc.json().map((j) => Buffer.from(j)),
				fc
					.record({ action: fc.string(), path: fc.oneof(fc.string(), fc.integer()) })
					.map((o) => Buffer.from(JSON.stringify(o))),
			),
			{ numRuns: 40, seed: 7 },
		)
		for (const s of samples) {
			const r = await request(p, 'wbc/pgm', s)
			// only a well-formed command may reach the engine
			if (r.ok) expect(calls.length).toBeGreaterThan(0)
		}
		for (const c of calls) expect(['take', 'auto', 'manual', 'lock', 'unlock']).toContain(c.command.action)
	})

	it('publishes retained state only after the first full sync, with online=true', async () => {
		await startControl()
		const state: FeedState = {
			active: 'fiber',
			mode: 'auto',
			locked: false,
			paths: { fiber: { signal: 'up', state: 'healthy' } },
			compliance: { compliant: true, healthyDiscretePaths: 3, required: 3 },
		}
		control.publishFeedState('wbc/pgm', state)
		const early = await panel()
		const seen: string[] = []
		early.on('message', (t, m) => seen.push(`${t} ${m.toString().slice(0, 20)}`))
		await early.subscribeAsync(`sigpath/${SITE}/#`)
		await new Promise((r) => setTimeout(r, 200))
		// at most the retained online=false a previous daemon left behind; no state
		expect(seen.filter((s) => s !== `sigpath/${SITE}/online false`)).toEqual([])
		seen.length = 0
		control.markSynced()
		await new Promise((r) => setTimeout(r, 200))
		expect(seen.map((s) => s.split(' ')[0]).sort()).toEqual([
			`sigpath/${SITE}/feeds/wbc/pgm/state`,
			`sigpath/${SITE}/online`,
		])
		// a late subscriber gets the retained values
		const late = await panel('panel2')
		const got = new Map<string, string>()
		late.on('message', (t, m) => got.set(t, m.toString()))
		await late.subscribeAsync([`sigpath/${SITE}/online`, `sigpath/${SITE}/feeds/+/+/state`])
		await new Promise((r) => setTimeout(r, 200))
		expect(got.get(`sigpath/${SITE}/online`)).toBe('true')
		expect(JSON.parse(got.get(`sigpath/${SITE}/feeds/wbc/pgm/state`)!)).toEqual(state)
		await control.stop()
		await new Promise((r) => setTimeout(r, 100))
		expect(got.get(`sigpath/${SITE}/online`)).toBe('false')
	})

	it('refuses, under MQTT v5, a panel publishing anything but set (ACL reason 135), and the state stays', async () => {
		await startControl()
		control.publishFeedState('wbc/pgm', {
			active: 'fiber',
			mode: 'auto',
			locked: false,
			paths: {},
			compliance: { compliant: true, healthyDiscretePaths: 3, required: 3 },
		})
		control.markSynced()
		const p = await panel()
		const err = await p
			.publishAsync(`sigpath/${SITE}/feeds/wbc/pgm/state`, '{"active":"forged"}', { qos: 1, retain: true })
			.then(
				() => undefined,
				(e: Error & { code?: number }) => e,
			)
		expect(err?.code).toBe(135)
		const { stdout } = await run('mosquitto_pub', [
			'-p',
			String(broker.port),
			'-u',
			'panel1',
			'-P',
			'panel1-pw',
			'-V',
			'mqttv5',
			'-q',
			'1',
			'-t',
			`sigpath/${SITE}/online`,
			'-m',
			'false',
			'-d',
		])
		expect(stdout).toMatch(/received PUBACK \(Mid: 1, RC:135\)/)
		const reader = await panel('panel2')
		const got = new Map<string, string>()
		reader.on('message', (t, m) => got.set(t, m.toString()))
		await reader.subscribeAsync([`sigpath/${SITE}/online`, `sigpath/${SITE}/feeds/wbc/pgm/state`])
		await new Promise((r) => setTimeout(r, 200))
		expect(got.get(`sigpath/${SITE}/online`)).toBe('true')
		expect(JSON.parse(got.get(`sigpath/${SITE}/feeds/wbc/pgm/state`)!)).toMatchObject({ active: 'fiber' })
	})

	it('survives a broker restart: reconnects, republishes retained state, takes commands again', async () => {
		await startControl()
		control.publishFeedState('wbc/pgm', {
			active: 'sat',
			mode: 'manual',
			locked: true,
			paths: {},
			compliance: { compliant: false, healthyDiscretePaths: 2, required: 3 },
		})
		control.markSynced()
		await broker.restart() // persistence is off: every retained message is gone
		const deadline = Date.now() + 5000
		while (!control.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
		expect(control.connected).toBe(true)
		await new Promise((r) => setTimeout(r, 200))
		const p = await panel()
		const got = new Map<string, string>()
		p.on('message', (t, m) => got.set(t, m.toString()))
		await p.subscribeAsync(`sigpath/${SITE}/feeds/wbc/pgm/state`)
		await new Promise((r) => setTimeout(r, 200))
		expect(JSON.parse(got.get(`sigpath/${SITE}/feeds/wbc/pgm/state`)!)).toMatchObject({ active: 'sat', locked: true })
		expect(await request(p, 'wbc/pgm', '{"action":"unlock"}')).toEqual({ ok: true })
	})

	it('refuses to start with wrong credentials, clearly', async () => {
		const c = new MqttControl({
			site: SITE,
			url: broker.url,
			username: 'sigpath',
			password: 'wrong',
			clientId: 'x',
			feeds: FEEDS,
			log: silentLogger,
			handler: async () => ({ ok: true }),
		})
		await expect(c.start()).rejects.toThrow(/Not authorized|Bad User Name or Password/)
	})
})

describe('command payload files', () => {
	it('a 1 MB payload sent with mosquitto_pub -f is refused unread', async () => {
		await startControl()
		const f = join(broker.dir, 'big.json')
		writeFileSync(f, `{"action":"take","path":"${'x'.repeat(1024 * 1024)}"}`)
		await run('mosquitto_pub', [
			'-p',
			String(broker.port),
			'-u',
			'panel1',
			'-P',
			'panel1-pw',
			'-q',
			'1',
			'-t',
			`sigpath/${SITE}/feeds/wbc/pgm/set`,
			'-f',
			f,
		])
		await new Promise((r) => setTimeout(r, 300))
		expect(calls).toEqual([])
	})
})
