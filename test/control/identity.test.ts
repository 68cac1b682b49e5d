// Who did it, end to end (docs/contract.md §5a, §6a): panels over a real mosquitto with passwords and the panel ACL,
// an HTTP caller with a named token, the real daemon driving a Videohub simulator, and /audit read back with a
// viewer token. The journal keeps `panel` (what the topic or the token proves) apart from `operator` (the claim).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import { parseConfigText } from '../../src/domain/load.ts'
import { parseRecord } from '../../src/engine/timeline.ts'
import { extractTimeline, readRecords } from '../../src/journal/index.ts'
import { silentLogger } from '../../src/log.ts'
import { Daemon } from '../../src/runtime/daemon.ts'
import { StatusServer } from '../../src/status/server.ts'
import { FakeSource } from '../support/fake-source.ts'
import { PANEL_ACL, startMosquitto, type Mosquitto } from '../support/mosquitto.ts'
import { until } from '../support/status-lab.ts'

const env = { SIGPATH_MQTT_PW: 'daemon-pw', SIGPATH_TOK_DESK: 'desk-token-81f0', SIGPATH_TOK_WALL: 'wall-token-77c2' }
let broker: Mosquitto
let sim: VideohubSim
let dir: string
let daemon: Daemon
let server: StatusServer
let url: string
let panel: MqttClient
const seen: { topic: string; payload: string }[] = []

beforeAll(async () => {
	broker = await startMosquitto({ sigpath: 'daemon-pw', panel1: 'panel1-pw' }, PANEL_ACL)
	sim = new VideohubSim({ inputs: 16, outputs: 16, routing: [0] })
	await sim.start({ host: '127.0.0.1', port: 0 })
	dir = mkdtempSync(join(tmpdir(), 'sigpath-identity-'))
	const config = parseConfigText(`
site: { id: lab }
devices:
  - { id: rtr, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${sim.port} }, size: { inputs: 16, outputs: 16 } }
  - { id: rx-a, role: receiver }
  - { id: rx-b, role: receiver }
events:
  - id: ev
    tier: red
    feeds:
      - id: pgm
        output: { router: rtr, output: 1 }
        failover: { mode: manual }
        paths:
          - { id: fiber, method: fiber, via: [rx-a], input: { router: rtr, input: 1 } }
          - { id: sat, method: satellite, via: [rx-b], input: { router: rtr, input: 5 } }
mqtt: { url: "${broker.url}", username: sigpath, password: { env: SIGPATH_MQTT_PW } }
http:
  listen: 127.0.0.1:0
  tokens:
    - { name: desk-1, token: { env: SIGPATH_TOK_DESK }, role: operator }
    - { name: wall, token: { env: SIGPATH_TOK_WALL }, role: viewer }
journal: { dir: ${dir} }
`)
	const sources = ['rx-a', 'rx-b'].map((d) => new FakeSource(d))
	daemon = new Daemon({ config, log: silentLogger, env, signalSources: sources, firstSyncTimeoutMs: 3000 })
	server = new StatusServer({ daemon, listen: '127.0.0.1:0', tokens: config.http!.tokens, env, log: silentLogger })
	url = (await server.start()).url
	await daemon.start()
	await until(() => daemon.isReady(), 10_000, 'the daemon ready')
	for (const s of sources) s.report('up')
	panel = await mqtt.connectAsync(broker.url, {
		username: 'panel1',
		password: 'panel1-pw',
		protocolVersion: 5,
		reconnectPeriod: 0,
	})
	panel.on('message', (topic, m) => seen.push({ topic, payload: m.toString() }))
	await panel.subscribeAsync(['sigpath/lab/panels/panel1/#', 'sigpath/lab/feeds/+/+/set/result'], { qos: 1 })
})
afterAll(async () => {
	await panel?.endAsync()
	await server?.stop()
	await daemon?.stop()
	await sim?.stop()
	await broker?.close()
	rmSync(dir, { recursive: true, force: true })
})

/** Publishes a command and waits for its reply on `replyTopic`. */
async function send(topic: string, payload: object, replyTopic: string): Promise<unknown> {
	const from = seen.length
	await panel.publishAsync(topic, JSON.stringify(payload), { qos: 1 })
	await until(() => seen.slice(from).some((s) => s.topic === replyTopic), 10_000, `a reply on ${replyTopic}`)
	return JSON.parse(seen.slice(from).find((s) => s.topic === replyTopic)!.payload)
}

describe('panel and operator, journaled apart', () => {
	it('records the panel its topic or token proves beside the operator it claims, and /audit shows both', async () => {
		const own = 'sigpath/lab/panels/panel1/feeds/ev/pgm/set'
		const v1 = 'sigpath/lab/feeds/ev/pgm/set'
		expect(await send(own, { action: 'take', path: 'sat', operator: 'bco-1' }, `${own}/result`)).toEqual({ ok: true })
		expect(sim.routingTable()[0]).toBe(4)
		expect(await send(own, { action: 'lock' }, `${own}/result`)).toEqual({ ok: true })
		expect(await send(v1, { action: 'unlock', operator: 'bco-2' }, `${v1}/result`)).toEqual({ ok: true })
		const http = await fetch(`${url}/feeds/ev/pgm/set`, {
			method: 'POST',
			headers: { authorization: `Bearer ${env.SIGPATH_TOK_DESK}` },
			body: JSON.stringify({ action: 'take', path: 'fiber', operator: 'anna' }),
		})
		expect(http.status).toBe(200)
		expect(sim.routingTable()[0]).toBe(0)

		expect((await fetch(`${url}/audit`)).status).toBe(401)
		// a command is answered once its record is durable: /audit holds them all by now
		const r = await fetch(`${url}/audit?since=0`, { headers: { authorization: `Bearer ${env.SIGPATH_TOK_WALL}` } })
		expect(r.status).toBe(200)
		const records = (await r.text())
			.split('\n')
			.filter(Boolean)
			.map((l) => JSON.parse(l) as { kind: string; payload: Record<string, unknown> })
		expect(readCommands(records)).toEqual([
			{ command: 'take', via: 'mqtt', panel: 'panel1', operator: 'bco-1', result: 'accepted' },
			{ command: 'lock', via: 'mqtt', panel: 'panel1', operator: 'panel1', result: 'accepted' },
			{ command: 'unlock', via: 'mqtt', panel: null, operator: 'bco-2', result: 'accepted' },
			{ command: 'take', via: 'http', panel: 'desk-1', operator: 'anna', result: 'accepted' },
		])
		// a replay timeline keeps the operator and leaves the panel with the journal: every command still parses
		const { timeline } = extractTimeline(readRecords(dir), { feed: 'ev/pgm' })
		const commands = timeline.filter((r) => 'command' in r)
		expect(commands.map((r) => ('operator' in r ? r.operator : undefined))).toEqual([
			'bco-1',
			'panel1',
			'bco-2',
			'anna',
		])
		for (const r of commands) expect(typeof parseRecord(r)).toBe('object')
	})
})

function readCommands(records: { kind: string; payload: Record<string, unknown> }[]) {
	return records
		.filter((r) => r.kind === 'command')
		.map(({ payload: p }) => ({
			command: p['command'],
			via: p['via'],
			panel: p['panel'],
			operator: p['operator'],
			result: p['result'],
		}))
}
