// Controller redundancy (docs/contract.md §9) when etcd is what fails: the active cut off from etcd (a TCP proxy
// between it and etcd, stopped), then the whole of etcd gone and back. Real etcd, mosquitto, the Videohub simulator
// and two daemon processes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import { startDaemon, startEtcd, until, type DaemonProc, type Etcd } from '../support/ha.ts'
import { PANEL_ACL, startMosquitto, type Mosquitto } from '../support/mosquitto.ts'
import { freePort } from '../support/peers.ts'

const LEASE_MS = 2000

/** A TCP proxy to etcd: `cut()` drops every connection and refuses new ones (a partition), `heal()` ends it. */
class Proxy {
	private server: Server | undefined
	private readonly sockets = new Set<Socket>()
	constructor(
		readonly port: number,
		private readonly target: number,
	) {}
	async heal(): Promise<void> {
		const server = createServer((inbound) => {
			const out = connect(this.target, '127.0.0.1')
			for (const s of [inbound, out]) {
				this.sockets.add(s)
				s.on('close', () => this.sockets.delete(s))
				s.on('error', () => s.destroy())
			}
			inbound.pipe(out).pipe(inbound)
		})
		this.server = server
		await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', () => r()))
	}
	async cut(): Promise<void> {
		const server = this.server
		this.server = undefined
		for (const s of this.sockets) s.destroy()
		if (server) await new Promise<void>((r) => server.close(() => r()))
	}
}

let etcd: Etcd
let proxy: Proxy
let broker: Mosquitto
let sim: VideohubSim
let dir: string
let panel: MqttClient
const retained = new Map<string, string>()
const procs: DaemonProc[] = []
const files: Record<'a' | 'b', { file: string; http: number }> = {} as never

beforeAll(async () => {
	etcd = await startEtcd()
	proxy = new Proxy(await freePort(), Number(new URL(etcd.url).port))
	await proxy.heal()
	broker = await startMosquitto(
		{ sigpath: 'daemon-pw', panel1: 'panel1-pw' },
		`${PANEL_ACL}pattern read sigpath/+/nodes/+/state\n`,
	)
	sim = new VideohubSim({ inputs: 8, outputs: 8, routing: [0] })
	await sim.start({ host: '127.0.0.1', port: 0 })
	dir = mkdtempSync(join(tmpdir(), 'sigpath-ha-etcd-'))
	for (const n of ['a', 'b'] as const) {
		const http = await freePort()
		// a reaches etcd through the proxy; b directly
		const endpoint = n === 'a' ? `http://127.0.0.1:${proxy.port}` : etcd.url
		files[n] = { file: join(dir, `${n}.yaml`), http }
		writeFileSync(
			files[n].file,
			`site: { id: hae }
devices:
  - { id: rtr, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${sim.port} }, lineCards: [ { id: c1, inputs: [1, 4] }, { id: c2, inputs: [5, 8] } ] }
events:
  - id: ev
    tier: red
    feeds:
      - id: pgm
        output: { router: rtr, output: 1 }
        paths:
          - { id: a, method: fiber, input: { router: rtr, input: 1 } }
          - { id: b, method: satellite, input: { router: rtr, input: 5 } }
mqtt: { url: "${broker.url}", username: sigpath, password: { env: SIGPATH_TEST_MQTT_PW } }
ha: { etcd: { endpoints: ["${endpoint}"] }, leaseMs: ${LEASE_MS} }
journal: { dir: ${join(dir, `journal-${n}`)} }
http: { listen: "127.0.0.1:${http}" }
log: { level: info }
`,
		)
	}
	panel = await mqtt.connectAsync(broker.url, {
		username: 'panel1',
		password: 'panel1-pw',
		protocolVersion: 5,
		reconnectPeriod: 0,
	})
	panel.on('message', (topic, m) => retained.set(topic, m.toString()))
	await panel.subscribeAsync(['sigpath/hae/online', 'sigpath/hae/nodes/+/state'])
}, 60_000)

afterAll(async () => {
	await Promise.all(procs.map((p) => p.stop()))
	await panel?.endAsync()
	await proxy?.cut()
	await sim?.stop()
	await broker?.close()
	await etcd?.stop()
	rmSync(dir, { recursive: true, force: true })
}, 60_000)

const role = async (p: DaemonProc) => (await p.status())?.node
/**
 * The time (epoch ms) of the node's last log line containing `what`; Infinity when there is none. A role change is
 * judged by the node's own log clock: a status poll of a child process adds its own latency on a busy machine.
 */
const loggedAt = (output: string, what: string): number => {
	let at = Infinity
	for (const line of output.split('\n')) {
		if (!line.includes(what)) continue
		try {
			const t = (JSON.parse(line) as { time?: unknown }).time
			const ms = typeof t === 'number' ? t : typeof t === 'string' ? Date.parse(t) : NaN
			if (Number.isFinite(ms)) at = ms
		} catch {
			// not a JSON log line
		}
	}
	return at
}
const start = (n: 'a' | 'b') => {
	const p = startDaemon(n, files[n].file, files[n].http, { SIGPATH_TEST_MQTT_PW: 'daemon-pw' })
	procs.push(p)
	return p
}

describe('a pair when etcd fails', () => {
	let a: DaemonProc
	let b: DaemonProc

	it('the active cut off from etcd stops leading by its own clock; the standby takes over within the bound', async () => {
		a = start('a')
		await until('a active', async () => (await role(a))?.role === 'active', 30_000, a.output)
		b = start('b')
		await until('b following a', async () => (await role(b))?.active === 'a', 30_000, b.output)
		await proxy.cut()
		const cutAt = Date.now()
		// by its own clock: its lease ran out (leaseMs − 500 ms after its last keep-alive was sent), nobody told it
		await until('a standby', async () => (await role(a))?.role === 'standby', 5000, a.output)
		// when it stood down by its own log's clock (the status poll above adds its own latency on a busy machine)
		expect(loggedAt(a.output(), 'standby now') - cutAt, a.output()).toBeLessThan(LEASE_MS)
		await until('b active', async () => (await role(b))?.role === 'active', 10_000, b.output)
		expect(loggedAt(b.output(), 'active now') - cutAt, b.output()).toBeLessThanOrEqual(LEASE_MS + 1000)
		expect(await role(a)).toMatchObject({ role: 'standby', active: null })
		await until('online true, b active', () => {
			const st = JSON.parse(retained.get('sigpath/hae/nodes/b/state') ?? '{}') as { role?: string }
			return st.role === 'active' && retained.get('sigpath/hae/online') === 'true'
		})
		expect(sim.routingLog).toHaveLength(0)
	}, 90_000)

	it('back in reach, the cut-off node follows the new active', async () => {
		await proxy.heal()
		await until('a following b', async () => (await role(a))?.active === 'b', 15_000, a.output)
		expect(await role(a)).toMatchObject({ role: 'standby', active: 'b' })
		expect(await role(b)).toMatchObject({ role: 'active', active: 'b' })
	}, 30_000)

	it('with all of etcd gone no node leads and the site is offline; when it is back one node leads again', async () => {
		const restarted = etcd.restart(LEASE_MS + 3000)
		await until('b standby', async () => (await role(b))?.role === 'standby', 10_000, b.output)
		await until('online false', () => retained.get('sigpath/hae/online') === 'false', 10_000)
		expect(await role(a)).toMatchObject({ role: 'standby' })
		await restarted
		await until(
			'one node active',
			async () => [await role(a), await role(b)].filter((n) => n?.role === 'active').length === 1,
			20_000,
		)
		await until('online true', () => retained.get('sigpath/hae/online') === 'true', 10_000)
		expect(sim.routingLog).toHaveLength(0)
	}, 60_000)
})
