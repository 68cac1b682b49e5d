// The daemon end to end on loopback: a Videohub simulator as the router, mosquitto as the broker, fake signal
// devices (the drivers are tested on their own), the real engine and journal.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import type { FeedState } from '../../src/control/payloads.ts'
import { readRecords } from '../../src/journal/index.ts'
import type { Daemon } from '../../src/runtime/daemon.ts'
import { labConfig, labSources, startLabDaemon } from '../support/daemon-lab.ts'
import { PANEL_ACL, startMosquitto, type Mosquitto } from '../support/mosquitto.ts'

let broker: Mosquitto
let sim: VideohubSim
let dir: string
let daemon: Daemon | undefined
const clients: MqttClient[] = []

beforeAll(async () => {
	broker = await startMosquitto({ sigpath: 'daemon-pw', panel1: 'panel1-pw' }, PANEL_ACL)
})
afterAll(async () => broker.close())
beforeEach(async () => {
	dir = mkdtempSync(join(tmpdir(), 'sigpath-daemon-'))
	// output 1 (wire 0) on input 5 (wire 4): the satellite path is on air when the daemon starts
	sim = new VideohubSim({ inputs: 16, outputs: 16, routing: [4] })
	await sim.start({ host: '127.0.0.1', port: 0 })
})
afterEach(async () => {
	for (const c of clients.splice(0)) await c.endAsync()
	await daemon?.stop()
	daemon = undefined
	await sim.stop()
	rmSync(dir, { recursive: true, force: true })
})

async function startDaemon(sources = labSources()) {
	const config = labConfig({
		routerPort: sim.port,
		failover: { lossMs: 200, clearMs: 1000 },
		mqtt: { url: broker.url },
		journalDir: dir,
	})
	const { d, src } = await startLabDaemon({ config, sources, readyTimeoutMs: 5000, created: (d) => void (daemon = d) })
	return { daemon: d, src }
}

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
	const deadline = Date.now() + timeoutMs
	while (!cond()) {
		if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
		await new Promise((r) => setTimeout(r, 10))
	}
}

async function panelState(): Promise<{ client: MqttClient; state: () => FeedState | undefined }> {
	const client = await mqtt.connectAsync(broker.url, {
		username: 'panel1',
		password: 'panel1-pw',
		protocolVersion: 5,
		reconnectPeriod: 0,
	})
	clients.push(client)
	let last: FeedState | undefined
	client.on('message', (t, m) => {
		if (t.endsWith('/state')) last = JSON.parse(m.toString()) as FeedState
	})
	await client.subscribeAsync('sigpath/lab/feeds/ev/pgm/state', { qos: 1 })
	return { client, state: () => last }
}

describe('the daemon', () => {
	it('starts on the crosspoint the router shows and sends no routing request of its own accord', async () => {
		const { daemon: d } = await startDaemon()
		expect(sim.routingRequests).toBe(0)
		expect(d.feedState('ev/pgm')).toMatchObject({ active: 'sat', mode: 'auto', locked: false })
		const panel = await panelState()
		await until(() => panel.state() !== undefined)
		expect(panel.state()).toMatchObject({
			active: 'sat',
			mode: 'auto',
			paths: { fiber: { signal: null, state: 'ineligible' } },
		})
		// the start record is written (group commit, fdatasync) in the background of the first publication
		await until(() => readRecords(dir).some((r) => r.kind === 'start'))
		const kinds = readRecords(dir).map((r) => r.kind)
		expect(kinds[0]).toBe('boot')
		expect(kinds).toContain('start')
		expect(kinds).not.toContain('take')
	})

	it('reverts to the primary once it has stayed clean, fails over when it stops, confirms every take on the tally', async () => {
		const { daemon: d, src } = await startDaemon()
		for (const s of Object.values(src)) s.report('up')
		// sat is on air after the restart; fiber (the primary) becomes a revert target only after clearMs of clean signal
		await new Promise((r) => setTimeout(r, 300))
		expect(sim.routingRequests).toBe(0)
		await until(() => sim.routingTable()[0] === 0, 3000)
		src['rx-fiber']!.report('down')
		await until(() => sim.routingTable()[0] === 4)
		src['rx-fiber']!.report('up')
		await new Promise((r) => setTimeout(r, 500))
		expect(sim.routingTable()[0]).toBe(4) // recovering, not yet cleared
		await until(() => sim.routingTable()[0] === 0, 3000)
		// the third decision's record is written (group commit, fdatasync) beside the take: wait for it, do not assume it
		await until(() => readRecords(dir).filter((r) => r.kind === 'decision').length >= 3, 3000)
		const decisions = readRecords(dir)
			.filter((r) => r.kind === 'decision')
			.map((r) => r.payload as { from: string; to: string; cause: string })
		expect(decisions.map((x) => [x.from, x.to, x.cause])).toEqual([
			['sat', 'fiber', 'revert'],
			['fiber', 'sat', 'failover'],
			['sat', 'fiber', 'revert'],
		])
		await until(
			() =>
				readRecords(dir).filter((r) => r.kind === 'take' && (r.payload as { result: string }).result === 'confirmed')
					.length === 3,
		)
		expect(d.takes).toHaveLength(3)
		for (const t of d.takes) expect(t.confirmedAt - t.sentAt).toBeLessThan(1000)
		expect(d.feedState('ev/pgm')).toMatchObject({ active: 'fiber', mode: 'auto' })
	})

	it('takes, locks and goes back to auto on panel commands over MQTT, journaling the operator', async () => {
		const { daemon: d, src } = await startDaemon()
		for (const s of Object.values(src)) s.report('up')
		const panel = await panelState()
		const request = async (payload: object) => {
			const topic = `sigpath/lab/replies/panel1/${Math.random().toString(16).slice(2)}`
			await panel.client.subscribeAsync(topic)
			const reply = new Promise<unknown>((resolve) =>
				panel.client.on('message', (t, m) => t === topic && resolve(JSON.parse(m.toString()))),
			)
			await panel.client.publishAsync('sigpath/lab/panels/panel1/feeds/ev/pgm/set', JSON.stringify(payload), {
				qos: 1,
				properties: { responseTopic: topic, correlationData: Buffer.from('x') },
			})
			return reply
		}
		expect(await request({ action: 'take', path: 'srt', operator: 'tco-anna' })).toEqual({ ok: true })
		expect(sim.routingTable()[0]).toBe(8)
		await until(() => panel.state()?.active === 'srt')
		expect(panel.state()).toMatchObject({ mode: 'manual' })
		expect(await request({ action: 'lock' })).toEqual({ ok: true })
		const refused = (await request({ action: 'take', path: 'fiber' })) as { ok: boolean; error?: string }
		expect(refused.ok).toBe(false)
		expect(refused.error).toMatch(/lock/i)
		expect(await request({ action: 'take', path: 'nope' })).toMatchObject({ ok: false })
		// a lock holds through a failure
		src['srt-rx']!.report('down')
		await new Promise((r) => setTimeout(r, 400))
		expect(sim.routingTable()[0]).toBe(8)
		expect(await request({ action: 'unlock' })).toEqual({ ok: true })
		expect(await request({ action: 'auto' })).toEqual({ ok: true })
		await until(() => sim.routingTable()[0] !== 8)
		expect(d.feedState('ev/pgm')).toMatchObject({ mode: 'auto', locked: false })
		const commands = readRecords(dir)
			.filter((r) => r.kind === 'command')
			.map((r) => r.payload as { command: string; operator?: string; result: string; via?: string; panel?: string })
		expect(commands[0]).toMatchObject({
			command: 'take',
			operator: 'tco-anna',
			panel: 'panel1',
			result: 'accepted',
			via: 'mqtt',
		})
		expect(commands.find((c) => c.result === 'refused')).toMatchObject({
			command: 'take',
			operator: 'panel1',
			panel: 'panel1',
		})
	})

	it('follows a crosspoint changed by another controller, in manual, without fighting it', async () => {
		const { daemon: d, src } = await startDaemon()
		for (const s of Object.values(src)) s.report('up')
		sim.route(0, 8) // someone at the router's own panel puts srt's input (9) on air
		await until(() => d.feedState('ev/pgm').active === 'srt')
		expect(d.feedState('ev/pgm').mode).toBe('manual')
		const before = sim.routingRequests
		await new Promise((r) => setTimeout(r, 300))
		expect(sim.routingRequests).toBe(before)
	})

	it('a lock never blinds it: an external change on a locked feed is on air at once; its failure then raises on-air-failed', async () => {
		const { daemon: d, src } = await startDaemon()
		const alarms: { code: string; severity: string; message: string }[] = []
		d.events.on('alarm', (a) => alarms.push(a))
		for (const s of Object.values(src)) s.report('up')
		expect(await d.command('ev/pgm', { action: 'lock' }, { name: 'bco-1', via: 'test' })).toEqual({ ok: true })
		sim.route(0, 8) // another controller puts srt's input (9) on air
		await until(() => d.feedState('ev/pgm').active === 'srt')
		expect(d.engine.feedSnapshot('ev/pgm')).toMatchObject({ active: 'srt', mode: 'manual', locked: true })
		await until(() => alarms.some((a) => a.code === 'external-take'))
		expect(alarms.find((a) => a.code === 'external-take')).toMatchObject({
			severity: 'major',
			message: 'ev/pgm: the router put srt (input 9) on air without sigpath; the feed is manual',
		})
		// the path really on air fails: nobody switches (locked), and it is not silent
		src['srt-rx']!.report('down')
		await until(() => alarms.some((a) => a.code === 'on-air-failed'), 3000)
		expect(alarms.find((a) => a.code === 'on-air-failed')).toMatchObject({ severity: 'critical' })
		expect(d.status().feeds[0]?.alarms).toContain('on-air-failed')
		expect(sim.routingTable()[0]).toBe(8)
		// the journal says what happened: a crosspoint change seen on the router, not an operator's take
		await until(() =>
			readRecords(dir).some((r) => r.kind === 'observation' && (r.payload as { external?: string }).external === 'srt'),
		)
		const commands = readRecords(dir).filter((r) => r.kind === 'command')
		expect(commands.map((r) => (r.payload as { command: string }).command)).toEqual(['lock'])
	})

	it("the router's input status reaches the engine: an input reported None fails the path landing on it over", async () => {
		const { daemon: d, src } = await startDaemon()
		for (const s of Object.values(src)) s.report('up')
		// fiber (input 1) becomes a revert target once clean for clearMs, then goes on air
		await until(() => sim.routingTable()[0] === 0, 3000)
		sim.setInputStatus(0, 'None') // the router says input 1 has nothing connected
		await until(() => sim.routingTable()[0] === 4, 3000) // sat (input 5), though fiber's own receiver says up
		await until(() => d.takes.at(-1)?.to === 'sat', 3000) // confirmed on the tally
		expect(d.takes.at(-1)).toMatchObject({ from: 'fiber', to: 'sat', cause: 'failover' })
		await until(() =>
			readRecords(dir).some(
				(r) =>
					r.kind === 'observation' && JSON.stringify(r.payload).includes('"router":"rtr","input":1,"state":"down"'),
			),
		)
	})

	it('an output switched to an input of no path is off-path: active null, a critical alarm, no automatic switch', async () => {
		const { daemon: d, src } = await startDaemon()
		const alarms: { code: string; severity: string }[] = []
		d.events.on('alarm', (a) => alarms.push(a))
		for (const s of Object.values(src)) s.report('up')
		sim.route(0, 14) // input 15: none of the feed's paths
		await until(() => d.feedState('ev/pgm').active === null)
		await until(() => alarms.some((a) => a.code === 'off-path'))
		expect(alarms.find((a) => a.code === 'off-path')).toMatchObject({ severity: 'critical' })
		const before = sim.routingRequests
		await new Promise((r) => setTimeout(r, 400))
		expect(sim.routingRequests).toBe(before)
		sim.route(0, 0) // back on fiber
		await until(() => d.feedState('ev/pgm').active === 'fiber')
		await until(() => alarms.some((a) => a.code === 'off-path' && a.severity === 'cleared'))
	})
})
