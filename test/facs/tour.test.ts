// FACS end to end (docs/contract.md §10): the daemon with the Videohub simulator and two SRT listeners carrying ONE
// encode of the flash-and-beep pattern (ffmpeg's tee muxer to two SRT callers). Path b's receiver has 500 ms more
// SRT latency than a's: the same PTS arrive 500 ms later on b, a delay known in advance. The pattern's sound is sent
// a known number of ms after its picture. Path a is watched by the content checks' analyser, b by one the tour
// starts itself. The tour is asked through `sigpath facs` (the CLI, over HTTP) and through MQTT; it takes only the
// QC output, puts it back, and journals what it did.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Block } from '../../drivers/videohub/codec.ts'
import { main } from '../../src/cli/main.ts'
import type { FacsReport } from '../../src/facs/report.ts'
import { readRecords } from '../../src/journal/index.ts'
import { captureIo, openFacsRig, type FacsRig } from '../support/facs-rig.ts'
import { senderArgs, srtUrl } from '../support/ffmpeg.ts'
import { startMosquitto, type Mosquitto } from '../support/mosquitto.ts'
import { freePort, requireBinary, spawnPeer, type Peer } from '../support/peers.ts'
import { freeUdpPort, waitFor } from '../drivers/srt/helpers.ts'

let rig: FacsRig
let sender: Peer | undefined
let broker: Mosquitto | undefined

beforeEach(async () => {
	rig = await openFacsRig()
})
afterEach(async () => {
	await sender?.stop()
	sender = undefined
	await rig.close()
	await broker?.close()
	broker = undefined
})

const ADDED_DELAY_MS = 500

async function lab(o: { audioOffsetMs: number; maxDelayMs: number; qcOutput?: number }) {
	const [portA, portB, relayA, relayB, httpPort] = await Promise.all([
		freeUdpPort(),
		freeUdpPort(),
		freeUdpPort(),
		freeUdpPort(),
		freePort(),
	])
	// the BOC's broker with the production ACL (config/mosquitto.acl): the daemon and one panel user
	broker = await startMosquitto(
		{ sigpath: 'daemon-pw', 'desk-1': 'desk-pw' },
		readFileSync('config/mosquitto.acl', 'utf8'),
	)
	const file = join(rig.dir, 'sigpath.yaml')
	writeFileSync(
		file,
		`
site: { id: lab }
devices:
  - { id: rtr, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${rig.router.port} } }
  - id: rx-a
    role: srt-receiver
    driver: { type: srt, mode: listener, bind: 127.0.0.1, port: ${portA}, streamId: a, silenceMs: 400, relayTo: "udp://127.0.0.1:${relayA}", content: { black: { ms: 3000 } } }
  - id: rx-b
    role: srt-receiver
    driver: { type: srt, mode: listener, bind: 127.0.0.1, port: ${portB}, streamId: b, silenceMs: 400, latencyMs: ${120 + ADDED_DELAY_MS}, relayTo: "udp://127.0.0.1:${relayB}" }
events:
  - id: ev
    tier: yellow
    facs: { qcOutput: { router: rtr, output: ${o.qcOutput ?? 8} }, dwellMs: 4000, avSync: true, maxAvOffsetMs: 40, maxDelayMs: ${o.maxDelayMs} }
    feeds:
      - id: pgm
        output: { router: rtr, output: 1 }
        paths:
          - { id: a, method: internet, via: [rx-a], input: { router: rtr, input: 1 } }
          - { id: b, method: srt, via: [rx-b], input: { router: rtr, input: 5 } }
mqtt: { url: "${broker.url}", username: sigpath, password: { env: FACS_TEST_MQTT_PW } }
http: { listen: 127.0.0.1:${httpPort}, token: { env: FACS_TEST_TOKEN } }
journal: { dir: ${join(rig.dir, 'journal')} }
`,
	)
	process.env['FACS_TEST_TOKEN'] = 'facs-test-token'
	process.env['FACS_TEST_MQTT_PW'] = 'daemon-pw'
	const { daemon: d } = await rig.serve(file, 5000)
	// one encode of the pattern, to both paths (ffmpeg's tee muxer: the same PTS on both)
	const args = senderArgs('-', { flashBeep: { audioOffsetMs: o.audioOffsetMs } })
	const tee = `[f=mpegts]${srtUrl(portA, 'a')}|[f=mpegts]${srtUrl(portB, 'b')}`
	sender = spawnPeer(requireBinary('ffmpeg', 'ffmpeg'), [
		...args.slice(0, -3),
		'-map',
		'0:v',
		'-map',
		'1:a',
		'-f',
		'tee',
		tee,
	])
	const path = (id: string) => d.feedState('ev/pgm').paths[id]
	await waitFor('both paths up', () => path('a')?.signal === 'up' && path('b')?.signal === 'up', 20_000, 20)
	return { d, file, mqttUrl: broker.url }
}

/** the routing requests the simulator received, as 1-based [output, input] */
const requests = (): [number, number][] =>
	rig.router.received
		.filter((b): b is Extract<Block, { kind: 'routing' }> => b.kind === 'routing' && b.entries.length > 0)
		.flatMap((b) => b.entries.map((e): [number, number] => [e.output + 1, e.input + 1]))

describe('FACS tour (Videohub simulator, real ffmpeg and SRT)', () => {
	it(
		'`sigpath facs`: each path on the QC output in rank order, the QC output put back, a known delay and A/V offset measured and judged',
		{ timeout: 90_000 },
		async () => {
			const { file } = await lab({ audioOffsetMs: 120, maxDelayMs: 300 })
			const c = captureIo()
			const code = await main(['facs', file, '--event', 'ev', '--operator', 'bco-1'], c.io)
			expect(c.err()).toBe('')
			expect(code).toBe(1)
			// only the QC output was routed: path a's input, path b's, then back to input 7
			expect(requests()).toEqual([
				[8, 1],
				[8, 5],
				[8, 7],
			])
			expect(rig.router.routingTable()[0]).toBe(0)
			expect(rig.router.routingTable()[7]).toBe(6)
			const table = c.out()
			expect(table).toMatch(/^FACS ev: FAIL/)
			expect(table).toContain('QC output put back to input 7')
			// the same report, kept: GET /events/ev/facs
			const res = await fetch(`${rig.server!.address!.url}/events/ev/facs`)
			expect(res.status).toBe(200)
			const report = (await res.json()) as FacsReport
			expect(report).toMatchObject({ event: 'ev', operator: 'bco-1', via: 'http', pass: false })
			const [a, b] = report.feeds[0]!.paths
			expect(report.feeds[0]).toMatchObject({
				qcOutput: { router: 'rtr', output: 8 },
				restored: { ok: true, input: 7 },
			})
			const ctx = JSON.stringify(report.feeds[0]!.paths)
			expect(a, ctx).toMatchObject({
				path: 'a',
				rank: 1,
				take: { ok: true },
				signal: 'up',
				class: 'healthy',
				analysed: 'rx-a',
			})
			expect(b, ctx).toMatchObject({
				path: 'b',
				rank: 2,
				take: { ok: true },
				signal: 'up',
				class: 'healthy',
				analysed: 'rx-b',
			})
			// SRT figures over the dwell, from the receivers' stats
			for (const p of [a!, b!]) {
				expect(p.srt, ctx).toMatchObject({ lossRate: 0, ccErrors: 0, syncErrors: 0 })
				expect(p.srt!.mbps, ctx).toBeGreaterThan(0.5)
				expect(p.srt!.rttMs, ctx).toBeGreaterThanOrEqual(0)
				expect(p.srt!.intervals, ctx).toBeGreaterThanOrEqual(3)
			}
			// delay by PTS: the primary is the reference; b is 500 ms later (SRT latency 620 vs 120)
			expect(a!.delayMs, ctx).toBe(0)
			expect(b!.delayMs!, ctx).toBeGreaterThan(ADDED_DELAY_MS - 100)
			expect(b!.delayMs!, ctx).toBeLessThan(ADDED_DELAY_MS + 100)
			// the pattern's sound 120 ms late, on both paths (one encode)
			for (const p of [a!, b!]) {
				expect(p.avOffsetMs!, ctx).toBeGreaterThan(120 - 20)
				expect(p.avOffsetMs!, ctx).toBeLessThan(120 + 20)
			}
			expect(a!.failures, ctx).toEqual([`A/V offset ${a!.avOffsetMs} ms beyond 40 ms`])
			expect(b!.failures, ctx).toEqual([
				`delay ${b!.delayMs} ms beyond 300 ms`,
				`A/V offset ${b!.avOffsetMs} ms beyond 40 ms`,
			])
			expect(report.failed).toEqual([
				`ev/pgm/a: A/V offset ${a!.avOffsetMs} ms beyond 40 ms`,
				`ev/pgm/b: delay ${b!.delayMs} ms beyond 300 ms; A/V offset ${b!.avOffsetMs} ms beyond 40 ms`,
			])
			expect(table).toContain(`b: FAIL: delay ${b!.delayMs} ms beyond 300 ms`)
			// the journal: the tour's start, each path, the restore and the end with the whole report
			await rig.daemon!.stop()
			rig.daemon = undefined
			const facs = readRecords(join(rig.dir, 'journal'))
				.filter((r) => r.kind === 'facs')
				.map((r) => r.payload as { phase: string; path?: string; input?: number; pass?: boolean; operator?: string })
			expect(facs.map((f) => [f.phase, f.path ?? f.input ?? null, f.pass ?? null])).toEqual([
				['start', null, null],
				['path', 'a', false],
				['path', 'b', false],
				['restore', 7, true],
				['end', null, false],
			])
			expect(facs[0]).toMatchObject({ operator: 'bco-1', via: 'http' })
		},
	)

	it(
		'over MQTT (mosquitto, the production ACL): a panel asks, gets its reply in its own space, the report retained; in sync and within the delay, it passes',
		{ timeout: 90_000 },
		async () => {
			const { mqttUrl } = await lab({ audioOffsetMs: 0, maxDelayMs: 1000 })
			const opts = { protocolVersion: 5 as const, reconnectPeriod: 0, username: 'desk-1', password: 'desk-pw' }
			const panel = await mqtt.connectAsync(mqttUrl, opts)
			try {
				const seen: { topic: string; body: Record<string, unknown>; correlation?: string }[] = []
				panel.on('message', (topic, m, packet) =>
					seen.push({
						topic,
						body: JSON.parse(m.toString()) as Record<string, unknown>,
						...(packet.properties?.correlationData
							? { correlation: packet.properties.correlationData.toString() }
							: {}),
					}),
				)
				const replies = 'sigpath/lab/replies/desk-1/facs'
				await panel.subscribeAsync(['sigpath/lab/events/ev/facs', replies], { qos: 1 })
				await panel.publishAsync('sigpath/lab/panels/desk-1/events/ev/facs', JSON.stringify({ operator: 'tco-2' }), {
					qos: 1,
					properties: { responseTopic: replies, correlationData: Buffer.from('tour-1') },
				})
				await waitFor('the reply', () => seen.some((s) => s.topic === replies), 60_000, 50)
				const reply = seen.find((s) => s.topic === replies)!
				const states = seen.filter((s) => s.topic === 'sigpath/lab/events/ev/facs').map((s) => s.body)
				expect(states.map((s) => s['state'])).toEqual(['running', 'done'])
				const report = states[1]!['report'] as FacsReport
				expect(reply.body, JSON.stringify(report.feeds[0]?.paths)).toEqual({ ok: true, pass: true, failed: [] })
				expect(reply.correlation).toBe('tour-1')
				expect(report).toMatchObject({ operator: 'tco-2', via: 'mqtt:desk-1', pass: true })
				for (const p of report.feeds[0]!.paths) expect(Math.abs(p.avOffsetMs!)).toBeLessThan(20)
				// retained: a panel that connects later gets the last report
				const late = await mqtt.connectAsync(mqttUrl, opts)
				const got = new Promise<Record<string, unknown>>((r) =>
					late.on('message', (_t, m) => r(JSON.parse(m.toString()) as Record<string, unknown>)),
				)
				await late.subscribeAsync('sigpath/lab/events/ev/facs', { qos: 1 })
				expect(await got).toMatchObject({ state: 'done', report: { pass: true } })
				await late.endAsync()
				// a bad payload changes nothing and is answered; without a response topic, on the command's /result
				seen.length = 0
				await panel.subscribeAsync('sigpath/lab/panels/desk-1/events/ev/facs/result', { qos: 1 })
				await panel.publishAsync('sigpath/lab/panels/desk-1/events/ev/facs', '{"feed":"nope","x":1}', { qos: 1 })
				await waitFor('the refusal', () => seen.some((s) => s.topic.endsWith('/facs/result')), 5000)
				expect(seen.find((s) => s.topic.endsWith('/facs/result'))!.body).toMatchObject({ ok: false })
			} finally {
				await panel.endAsync()
			}
		},
	)
})
