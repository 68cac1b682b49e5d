// Restart safety with the real command: `sigpath run` as a child process, SIGKILLed and started again. No routing
// request may reach the router; mode and lock come back from the journal; the retained state is right.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import { readRecords } from '../../src/journal/index.ts'
import { PANEL_ACL, startMosquitto, type Mosquitto } from '../support/mosquitto.ts'

let broker: Mosquitto
let sim: VideohubSim
let dir: string
let file: string
let panel: MqttClient
const seen = new Map<string, string>()

beforeAll(async () => {
	broker = await startMosquitto({ sigpath: 'daemon-pw', panel1: 'panel1-pw' }, PANEL_ACL)
	sim = new VideohubSim({ inputs: 16, outputs: 16, routing: [0] })
	await sim.start({ host: '127.0.0.1', port: 0 })
	dir = mkdtempSync(join(tmpdir(), 'sigpath-restart-'))
	file = join(dir, 'sigpath.yaml')
	writeFileSync(
		file,
		`site: { id: lab }
devices:
  - { id: rtr, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${sim.port} }, lineCards: [ { id: c1, inputs: [1, 4] }, { id: c2, inputs: [5, 8] }, { id: c3, inputs: [9, 12] } ] }
events:
  - id: ev
    tier: red
    feeds:
      - id: pgm
        critical: true
        output: { router: rtr, output: 1 }
        paths:
          - { id: fiber, method: fiber, input: { router: rtr, input: 1 } }
          - { id: sat, method: satellite, input: { router: rtr, input: 5 } }
          - { id: srt, method: srt, input: { router: rtr, input: 9 } }
mqtt: { url: "${broker.url}", username: sigpath, password: { env: SIGPATH_TEST_MQTT_PW } }
journal: { dir: ${join(dir, 'journal')} }
http: { listen: 127.0.0.1:0 }
log: { level: warn }
`,
	)
	panel = await mqtt.connectAsync(broker.url, {
		username: 'panel1',
		password: 'panel1-pw',
		protocolVersion: 5,
		reconnectPeriod: 0,
	})
	panel.on('message', (t, m) => seen.set(t, m.toString()))
	await panel.subscribeAsync(['sigpath/lab/online', 'sigpath/lab/feeds/ev/pgm/state', 'sigpath/lab/replies/panel1/#'])
})
const children: ChildProcess[] = []
afterAll(async () => {
	// a failed assertion must not leave a daemon running
	for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
	await panel.endAsync()
	await sim.stop()
	await broker.close()
	rmSync(dir, { recursive: true, force: true })
})

function startDaemon(configFile = file): { child: ChildProcess; exited: Promise<number | null>; output: () => string } {
	const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '--config', configFile], {
		env: { ...process.env, SIGPATH_TEST_MQTT_PW: 'daemon-pw' },
		stdio: ['ignore', 'pipe', 'pipe'],
	})
	children.push(child)
	let out = ''
	child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
	child.stderr?.on('data', (d: Buffer) => (out += d.toString()))
	const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
	return { child, exited, output: () => out }
}

async function until(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
	const deadline = Date.now() + timeoutMs
	while (!cond()) {
		if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
		await new Promise((r) => setTimeout(r, 20))
	}
}
const state = () =>
	JSON.parse(seen.get('sigpath/lab/feeds/ev/pgm/state') ?? 'null') as {
		active: string
		mode: string
		locked: boolean
	} | null

describe('sigpath run', () => {
	it('exits 78 on an invalid config, naming the place', async () => {
		const bad = join(dir, 'bad.yaml')
		writeFileSync(bad, 'site: { id: lab }\ndevices: [ { id: x, role: toaster } ]\n')
		const d = startDaemon(bad)
		expect(await d.exited).toBe(78)
		expect(d.output()).toMatch(/devices\[0\]\.role: must be one of/)
	})

	it('survives SIGKILL: no routing request on restart, mode and lock restored, retained state right', async () => {
		const first = startDaemon()
		await until(() => seen.get('sigpath/lab/online') === 'true' && state()?.active === 'fiber')
		// an operator takes srt and locks the feed
		for (const payload of [{ action: 'take', path: 'srt', force: true, operator: 'bco-2' }, { action: 'lock' }]) {
			const before = seen.size
			await panel.publishAsync('sigpath/lab/panels/panel1/feeds/ev/pgm/set', JSON.stringify(payload), {
				qos: 1,
				properties: {
					responseTopic: `sigpath/lab/replies/panel1/${payload.action}`,
					correlationData: Buffer.from('c'),
				},
			})
			await until(() => seen.get(`sigpath/lab/replies/panel1/${payload.action}`) !== undefined || seen.size < before)
			expect(JSON.parse(seen.get(`sigpath/lab/replies/panel1/${payload.action}`)!)).toEqual({ ok: true })
		}
		await until(() => state()?.locked === true)
		expect(sim.routingTable()[0]).toBe(8)
		const requests = sim.routingRequests

		first.child.kill('SIGKILL')
		await first.exited
		await until(() => seen.get('sigpath/lab/online') === 'false') // the last will
		seen.delete('sigpath/lab/feeds/ev/pgm/state')

		const second = startDaemon()
		await until(() => seen.get('sigpath/lab/online') === 'true' && state() !== null)
		expect(state()).toMatchObject({ active: 'srt', mode: 'manual', locked: true })
		await new Promise((r) => setTimeout(r, 500))
		expect(sim.routingRequests).toBe(requests)
		expect(sim.routingTable()[0]).toBe(8)

		// SIGTERM: a clean stop, online=false, the journal flushed with its last record
		second.child.kill('SIGTERM')
		expect(await second.exited).toBe(0)
		await until(() => seen.get('sigpath/lab/online') === 'false')
		const records = readRecords(join(dir, 'journal'))
		expect(records.at(-1)?.kind).toBe('shutdown')
		const starts = records.filter((r) => r.kind === 'start').map((r) => r.payload)
		expect(starts[1]).toMatchObject({
			active: 'srt',
			mode: 'manual',
			locked: true,
			recovered: { active: 'srt', mode: 'manual', locked: true },
		})
		expect(sim.routingRequests).toBe(requests)
	})
})
