// The journal's head and retention in the running daemon (docs/contract.md §8), against a real mosquitto and a
// Videohub simulator: the head `{ seq, hash, at }` retained on `sigpath/<site>/journal/head` after a decision and at
// least every 10 s, and in `GET /status` as `journal`; `sigpath journal verify --head` with the head a keeper took
// from MQTT passes, and fails once the journal's tail is cut off. Retention runs at start on the daemon's (injected)
// clock.
import { mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import { main } from '../../src/cli/main.ts'
import { startStatus } from '../../src/cli/status-hook.ts'
import { monotonicMs } from '../../src/clock.ts'
import { listFiles, openJournal, readRecords } from '../../src/journal/index.ts'
import { silentLogger } from '../../src/log.ts'
import type { Daemon, DaemonOptions, StatusReport } from '../../src/runtime/daemon.ts'
import type { StatusServer } from '../../src/status/server.ts'
import { labConfig, startLabDaemon } from '../support/daemon-lab.ts'
import { PANEL_ACL, startMosquitto, type Mosquitto } from '../support/mosquitto.ts'

let broker: Mosquitto
let sim: VideohubSim
let dir: string
let daemon: Daemon | undefined
let http: StatusServer | undefined
const clients: MqttClient[] = []

beforeAll(async () => {
	broker = await startMosquitto({ sigpath: 'daemon-pw', keeper: 'keeper-pw' }, PANEL_ACL)
})
afterAll(async () => broker.close())
beforeEach(async () => {
	dir = mkdtempSync(join(tmpdir(), 'sigpath-head-'))
	// output 1 (wire 0) on input 1 (wire 0): fiber, the primary, is on air
	sim = new VideohubSim({ inputs: 16, outputs: 16, routing: [0] })
	await sim.start({ host: '127.0.0.1', port: 0 })
})
afterEach(async () => {
	for (const c of clients.splice(0)) await c.endAsync()
	await http?.stop()
	http = undefined
	await daemon?.stop()
	daemon = undefined
	await sim.stop()
	rmSync(dir, { recursive: true, force: true })
})

const journalDir = () => join(dir, 'journal')

async function startDaemon(options: Partial<DaemonOptions> = {}, journal?: string) {
	const config = labConfig({
		routerPort: sim.port,
		failover: { lossMs: 200, clearMs: 300 },
		mqtt: { url: broker.url },
		journalDir: journalDir(),
		...(journal ? { journal } : {}),
		extra: 'http: { listen: 127.0.0.1:0 }\n',
	})
	let url = ''
	const { d, src } = await startLabDaemon({
		config,
		options,
		readyTimeoutMs: 8000,
		created: async (d) => {
			daemon = d
			const status = await startStatus(d, config, silentLogger)
			http = status.server
			url = status.url
		},
	})
	return { d, src, url }
}

async function until(cond: () => boolean, timeoutMs = 8000): Promise<void> {
	const deadline = Date.now() + timeoutMs
	while (!cond()) {
		if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
		await new Promise((r) => setTimeout(r, 10))
	}
}

interface Head {
	seq: number
	hash: string
	at: string
}

/** A keeper of the head: an MQTT user that may read it (the ACL's `pattern read sigpath/+/journal/head`). */
async function keeper(): Promise<{ heads: Head[]; retained: boolean[] }> {
	const client = await mqtt.connectAsync(broker.url, {
		username: 'keeper',
		password: 'keeper-pw',
		protocolVersion: 5,
		reconnectPeriod: 0,
	})
	clients.push(client)
	const heads: Head[] = []
	const retained: boolean[] = []
	client.on('message', (_t, m, packet) => {
		heads.push(JSON.parse(m.toString()) as Head)
		retained.push(packet.retain)
	})
	const granted = await client.subscribeAsync('sigpath/lab/journal/head', { qos: 1 })
	expect(granted[0]?.qos).toBe(1)
	return { heads, retained }
}

async function verify(...argv: string[]): Promise<{ code: number; out: string }> {
	let out = ''
	const code = await main(['journal', 'verify', journalDir(), ...argv], {
		out: (t) => (out += t),
		err: (t) => (out += t),
	})
	return { code, out }
}

describe('the journal head', () => {
	it('is retained on MQTT after a failover and in /status; verify --head with it passes, and fails once the tail is cut', async () => {
		// the periodic publication far off: what arrives after the failover is published because of it
		const { d, src, url } = await startDaemon({ journalHeadEveryMs: 600_000 })
		const k = await keeper()
		for (const s of Object.values(src)) s.report('up')
		await until(() => d.feedState('ev/pgm').paths['sat']?.state === 'healthy')
		src['rx-fiber']!.report('down')
		await until(() => sim.routingTable()[0] === 4)
		// the decision and its confirmed take are on disk, and a head at or past them has been published
		await until(() =>
			readRecords(journalDir()).some(
				(r) => r.kind === 'take' && (r.payload as { result: string }).result === 'confirmed',
			),
		)
		const decision = readRecords(journalDir()).find((r) => r.kind === 'decision')!
		expect(decision.payload).toMatchObject({ from: 'fiber', to: 'sat', cause: 'failover' })
		await until(() => k.heads.some((h) => h.seq >= decision.seq))
		const published = k.heads.at(-1)!
		expect(Object.keys(published)).toEqual(['seq', 'hash', 'at'])
		expect(Number.isNaN(Date.parse(published.at))).toBe(false)
		const onDisk = readRecords(journalDir()).find((r) => r.seq === published.seq)
		expect(onDisk?.hash).toBe(published.hash)

		// a keeper that connects later gets it from the broker (retained)
		const late = await keeper()
		await until(() => late.heads.length > 0)
		expect(late.retained[0]).toBe(true)
		expect(late.heads[0]!.seq).toBeGreaterThanOrEqual(published.seq)

		// GET /status: the head and the journal's health
		const status = (await (await fetch(`${url}/status`)).json()) as StatusReport
		expect(status.journal).toMatchObject({ ok: true, queued: 0, dropped: 0 })
		const head = status.journal!
		expect(readRecords(journalDir()).find((r) => r.seq === head.seq)?.hash).toBe(head.hash)
		expect(head.seq!).toBeGreaterThanOrEqual(published.seq)

		await http!.stop()
		http = undefined
		await d.stop()
		daemon = undefined
		const arg = `${published.seq}:${published.hash}`
		const ok = await verify('--head', arg)
		expect(ok.out).toContain(`it holds the head, seq ${published.seq}`)
		expect(ok.code).toBe(0)

		// the tail cut off at a record boundary, from the decision on: the chain alone still verifies, the head does not
		const file = join(journalDir(), listFiles(journalDir()).at(-1)!)
		const text = readFileSync(file, 'utf8')
		const cut = text.indexOf(`{"seq":${decision.seq},`)
		expect(cut).toBeGreaterThan(0)
		truncateSync(file, Buffer.byteLength(text.slice(0, cut)))
		expect((await verify()).code).toBe(0)
		const bad = await verify('--head', arg)
		expect(bad.code).toBe(1)
		expect(bad.out).toContain(
			`BAD: truncated: the head is seq ${published.seq} but the journal ends at seq ${decision.seq - 1}`,
		)
	})

	it('is published again at least as often as it is due, with nothing written', async () => {
		const { d } = await startDaemon({ journalHeadEveryMs: 200 })
		const k = await keeper()
		await until(() => d.journalHead() !== null)
		await until(() => k.heads.length >= 4)
		// the same head, over and over: the keeper can tell a quiet journal from a daemon that went silent
		const last = k.heads.at(-1)!
		expect(last).toEqual(d.journalHead())
		expect(k.retained.slice(1).every((r) => !r)).toBe(true)
	})
})

describe('journal.retainDays in the daemon', () => {
	it("removes the files older than retainDays at start, on the daemon's clock, and verify accepts the journal", async () => {
		const T0 = Date.parse('2026-01-01T00:00:00.000Z')
		const DAY = 24 * 3600 * 1000
		let wall = T0
		// 40 days of an earlier run, a file a day
		const before = openJournal({
			dir: journalDir(),
			rotateBytes: 4096,
			clock: { wall: () => new Date(wall), mono: () => wall - T0 },
		})
		for (let day = 0; day < 40; day++) {
			wall = T0 + day * DAY
			await Promise.all(
				Array.from({ length: 20 }, (_, i) =>
					before.journal.append('observation', { t: i, device: 'ird', state: 'up', pad: 'x'.repeat(200) }),
				),
			)
		}
		await before.journal.close()
		await before.checkpointer.close()
		const files = listFiles(journalDir())
		expect(files.length).toBeGreaterThan(30)
		// the daemon starts 100 days after the first of them, with 90 days kept
		await startDaemon({ clock: { monotonicMs, wallMs: () => T0 + 100 * DAY } }, 'rotateBytes: 65536, retainDays: 90')
		await until(() => readRecords(journalDir()).some((r) => r.kind === 'retention'))
		const rec = readRecords(journalDir()).find((r) => r.kind === 'retention')!
		const payload = rec.payload as { from: number; files: string[]; before: string }
		expect(payload.before).toBe(new Date(T0 + 10 * DAY).toISOString())
		expect(payload.files).toEqual(files.slice(0, payload.files.length))
		expect(payload.files.length).toBeGreaterThanOrEqual(9)
		await until(() => !listFiles(journalDir()).includes(files[0]!))
		expect(readRecords(journalDir())[0]!.seq).toBe(payload.from)
		expect((await verify()).code).toBe(0)
	})
})
