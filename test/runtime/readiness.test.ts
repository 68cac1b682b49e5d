// Readiness told as it is (docs/contract.md §6a), with real parts: a Videohub simulator that answers, a router address
// where nothing answers, and an SRT listener whose UDP port another process holds. /readyz stays 503 naming each
// device still waiting and why; READY comes when every router has synced or after startup.readyTimeoutMs, and then
// each device still waiting stands as device-stale; a feed's state is retained on MQTT only once its router synced.
import { createSocket, type Socket } from 'node:dgram'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import type { Alarm } from '../../src/control/payloads.ts'
import { parseConfigText } from '../../src/domain/load.ts'
import { silentLogger } from '../../src/log.ts'
import { Daemon } from '../../src/runtime/daemon.ts'
import { StatusServer } from '../../src/status/server.ts'
import { freePort } from '../support/peers.ts'

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
	for (const c of cleanup.splice(0).reverse()) await c()
})

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
	const deadline = Date.now() + timeoutMs
	while (!cond()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
		await new Promise((r) => setTimeout(r, 10))
	}
}

async function readyz(
	url: string,
): Promise<{ status: number; body: { ready: boolean; waiting?: { device: string; why: string }[] } }> {
	const r = await fetch(`${url}/readyz`)
	return { status: r.status, body: (await r.json()) as { ready: boolean; waiting?: { device: string; why: string }[] } }
}

describe('readiness', () => {
	it('waits for what has not synced, says why, starts on the routers, and alarms what is still missing', async () => {
		const dir = mkdtempSync(join(tmpdir(), 'sigpath-ready-'))
		cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
		const sim = new VideohubSim({ inputs: 16, outputs: 16 })
		await sim.start({ host: '127.0.0.1', port: 0 })
		cleanup.push(() => sim.stop())
		const deadPort = await freePort() // nothing listens here: the second router never answers
		// another process holds the SRT listener's UDP port
		const holder: Socket = createSocket('udp4')
		await new Promise<void>((r) => holder.bind(0, '127.0.0.1', r))
		let held = true
		const release = () => {
			if (!held) return Promise.resolve()
			held = false
			return new Promise<void>((r) => holder.close(() => r()))
		}
		cleanup.push(release)
		const srtPort = holder.address().port
		const mqttPort = await freePort()
		const config = parseConfigText(`
site: { id: ready }
devices:
  - { id: rtr-a, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${sim.port} }, lineCards: [ { id: c1, inputs: [1, 8] }, { id: c2, inputs: [9, 16] } ] }
  - { id: rtr-b, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${deadPort} }, lineCards: [ { id: c1, inputs: [1, 8] }, { id: c2, inputs: [9, 16] } ] }
  - { id: srt-1, role: srt-receiver, driver: { type: srt, mode: listener, bind: 127.0.0.1, port: ${srtPort} } }
events:
  - id: ev
    tier: yellow
    feeds:
      - id: a
        output: { router: rtr-a, output: 1 }
        paths:
          - { id: fiber, method: fiber, input: { router: rtr-a, input: 1 } }
          - { id: srt, method: srt, via: [srt-1], input: { router: rtr-a, input: 9 } }
      - id: b
        output: { router: rtr-b, output: 1 }
        paths:
          - { id: fiber, method: fiber, input: { router: rtr-b, input: 1 } }
          - { id: sat, method: satellite, input: { router: rtr-b, input: 9 } }
broker: { listen: "127.0.0.1:${mqttPort}" }
journal: { dir: ${dir} }
startup: { readyTimeoutMs: 1500 }
`)
		const daemon = new Daemon({ config, log: silentLogger })
		const alarms: Alarm[] = []
		daemon.events.on('alarm', (a) => alarms.push(a))
		const server = new StatusServer({ daemon, listen: '127.0.0.1:0', log: silentLogger })
		const { url } = await server.start()
		cleanup.push(() => server.stop())
		await daemon.start()
		cleanup.push(() => daemon.stop())

		// before the timeout: not started (rtr-b never synced), /readyz names what waits and why
		await until(() => daemon.routerOf('rtr-a')?.isSynced() === true, 5000, 'rtr-a synced')
		const early = await readyz(url)
		expect(early.status).toBe(503)
		expect(daemon.isReady()).toBe(false)
		const why = new Map(early.body.waiting!.map((w) => [w.device, w.why]))
		expect([...why.keys()].sort()).toEqual(['rtr-b', 'srt-1'])
		expect(why.get('rtr-b')).toMatch(/^not connected/)
		expect(why.get('srt-1')).toMatch(/^cannot start: /)

		// the timeout: started anyway, with a device-stale alarm for each device still missing
		await until(() => daemon.isReady(), 5000, 'READY after startup.readyTimeoutMs')
		await until(() => alarms.filter((a) => a.code === 'device-stale').length === 2, 2000, 'two device-stale alarms')
		expect(
			alarms
				.filter((a) => a.code === 'device-stale')
				.map((a) => a.device)
				.sort(),
		).toEqual(['rtr-b', 'srt-1'])
		expect((await readyz(url)).status).toBe(503)

		// retained MQTT state: feed a (its router synced) is there; feed b (its router never synced) is not
		const panel: MqttClient = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
			protocolVersion: 4,
			reconnectPeriod: 0,
		})
		cleanup.push(() => panel.endAsync())
		const retained = new Set<string>()
		panel.on('message', (topic, _m, packet) => packet.retain && retained.add(topic))
		await panel.subscribeAsync('sigpath/ready/feeds/#', { qos: 1 })
		await until(() => retained.has('sigpath/ready/feeds/ev/a/state'), 3000, 'feed a retained')
		await new Promise((r) => setTimeout(r, 300))
		expect(retained.has('sigpath/ready/feeds/ev/b/state')).toBe(false)

		// the SRT port is freed: the listener binds on its next attempt, its alarm clears; rtr-b still waits
		await new Promise<void>((r) => holder.close(() => r()))
		cleanup.splice(
			cleanup.findIndex((c) => c.toString().includes('holder')),
			1,
		)
		await until(
			() => alarms.some((a) => a.code === 'device-stale' && a.device === 'srt-1' && a.severity === 'cleared'),
			15_000,
			'srt-1 bound and its alarm cleared',
		)
		const late = await readyz(url)
		expect(late.status).toBe(503)
		expect(late.body.waiting!.map((w) => w.device)).toEqual(['rtr-b'])
	}, 30_000)
})
