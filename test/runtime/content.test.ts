// Content failover end to end (docs/contract.md §10): real ffmpeg senders (SD MPEG-2 + MP2, SRT callers) into the
// daemon's SRT listeners, each watched by an ffmpeg analyser on its relay, and the Videohub simulator as the router.
// Path a's sender goes black, frozen or silent for a window of its stream time: the device reports degraded with
// the cause, the feed fails over to b (healthy), /status, the alarms and the journal name the cause; when the
// picture or sound is back the alarm clears and the feed reverts after clearMs. A cut stream still fails over at
// lossMs: the analysis adds nothing to loss detection. The receiver's own TS check (content.tsErrors) raises and
// clears its ts-errors alarm (the SRT simulator's continuity errors). (silenceMs 400: ffmpeg -re sends a frame's
// packets in one burst every 40 ms, late by tens of ms on a busy machine.)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SrtSim } from '../../drivers/srt/sim.ts'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import type { Alarm } from '../../src/control/payloads.ts'
import { parseConfigText } from '../../src/domain/load.ts'
import { readRecords } from '../../src/journal/index.ts'
import { silentLogger } from '../../src/log.ts'
import { Daemon } from '../../src/runtime/daemon.ts'
import { startSender, srtUrl, type SenderOptions } from '../support/ffmpeg.ts'
import { freePort, type Peer } from '../support/peers.ts'
import { freeUdpPort, waitFor } from '../drivers/srt/helpers.ts'

let dir: string
let router: VideohubSim
let daemon: Daemon | undefined
let senders: Peer[] = []

beforeEach(async () => {
	dir = mkdtempSync(join(tmpdir(), 'sigpath-content-'))
	router = new VideohubSim({ inputs: 8, outputs: 8, routing: [0] })
	await router.start({ host: '127.0.0.1', port: 0 })
})
afterEach(async () => {
	for (const s of senders) await s.stop()
	senders = []
	await daemon?.stop()
	daemon = undefined
	await router.stop()
	rmSync(dir, { recursive: true, force: true })
})

const LOSS_MS = 300
const CLEAR_MS = 3000

async function lab(faultA: SenderOptions) {
	const [portA, portB, relayA, relayB] = await Promise.all([freeUdpPort(), freeUdpPort(), freeUdpPort(), freeUdpPort()])
	const mqttPort = await freePort()
	const content = `{ black: { ms: 1500 }, freeze: { ms: 1500 }, silence: { ms: 1500 }, tsErrors: {} }`
	const config = parseConfigText(`
site: { id: lab }
devices:
  - { id: rtr, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${router.port} } }
  - id: rx-a
    role: srt-receiver
    driver: { type: srt, mode: listener, bind: 127.0.0.1, port: ${portA}, streamId: a, silenceMs: 400, relayTo: "udp://127.0.0.1:${relayA}", content: ${content} }
  - id: rx-b
    role: srt-receiver
    driver: { type: srt, mode: listener, bind: 127.0.0.1, port: ${portB}, streamId: b, silenceMs: 400, relayTo: "udp://127.0.0.1:${relayB}", content: ${content} }
events:
  - id: ev
    tier: yellow
    feeds:
      - id: pgm
        output: { router: rtr, output: 1 }
        failover: { lossMs: ${LOSS_MS}, clearMs: ${CLEAR_MS} }
        paths:
          - { id: a, method: internet, via: [rx-a], input: { router: rtr, input: 1 } }
          - { id: b, method: srt, via: [rx-b], input: { router: rtr, input: 5 } }
broker: { listen: 127.0.0.1:${mqttPort} }
journal: { dir: ${dir} }
`)
	daemon = new Daemon({ config, log: silentLogger, firstSyncTimeoutMs: 5000 })
	const alarms: Alarm[] = []
	daemon.events.on('alarm', (a) => alarms.push(a))
	await daemon.start()
	await waitFor('the first sync', () => daemon!.isReady(), 8000)
	senders.push(startSender(srtUrl(portA, 'a'), { size: '640x360', ...faultA }))
	senders.push(startSender(srtUrl(portB, 'b'), { size: '640x360' }))
	const d = daemon
	const path = (id: string) => d.feedState('ev/pgm').paths[id]
	await waitFor('both paths up', () => path('a')?.signal === 'up' && path('b')?.signal === 'up', 15_000, 20)
	return { d, alarms, path }
}

const device = (d: Daemon, id: string) => d.status().devices.find((x) => x.id === id)!

async function contentFailover(kind: 'black' | 'freeze' | 'silence') {
	const { d, alarms, path } = await lab({ [kind]: [9, 17] })
	expect(router.routingTable()[0]).toBe(0)
	// the fault stands for its ms: rx-a degraded with the cause, the feed on b
	await waitFor(`rx-a degraded by ${kind}`, () => path('a')?.signal === 'degraded', 25_000, 20)
	expect(device(d, 'rx-a')).toMatchObject({
		health: 'degraded',
		cause: expect.stringMatching(new RegExp(`${kind}: `)) as string,
	})
	await waitFor('the failover to b', () => router.routingTable()[0] === 4, 3000, 10)
	await waitFor('the take confirmed', () => d.takes.length === 1, 3000)
	expect(d.takes[0]).toMatchObject({ from: 'a', to: 'b', cause: 'failover' })
	const raised = alarms.find((a) => a.code === kind && a.severity !== 'cleared')
	expect(raised).toMatchObject({
		device: 'rx-a',
		severity: 'major',
		message: expect.stringMatching(new RegExp(`^rx-a: ${kind}: \\d+\\.\\d s \\(`)) as string,
	})
	expect(d.deviceState('rx-a')?.detail['content']).toMatchObject({
		analyser: 'running',
		standing: expect.arrayContaining([expect.objectContaining({ kind })]) as unknown,
	})
	// the picture or sound is back: the alarm clears, the path comes up and, clean for clearMs, is taken back
	await waitFor('the alarm cleared', () => alarms.some((a) => a.code === kind && a.severity === 'cleared'), 20_000, 50)
	await waitFor('path a up', () => path('a')?.signal === 'up', 5000, 20)
	expect(device(d, 'rx-a').cause).toBeUndefined()
	await waitFor('the revert to a', () => router.routingTable()[0] === 0, CLEAR_MS + 5000, 20)
	// path b, watched all along, was never taken for a content fault; the analysers never failed
	expect(alarms.filter((a) => a.device === 'rx-b')).toEqual([])
	expect(alarms.filter((a) => a.code === 'content-analyser-failed')).toEqual([])
	// the journal names the cause: the alarm raised and cleared beside the device's reports
	await d.stop()
	daemon = undefined
	const records = readRecords(dir)
	const journaled = records
		.filter((r) => r.kind === 'alarm' && (r.payload as { alarm: string }).alarm === kind)
		.map((r) => r.payload as { active: boolean; message: string })
	expect(journaled.map((a) => a.active)).toEqual([true, false])
	expect(journaled[0]!.message).toMatch(new RegExp(`^rx-a: ${kind}: \\d+\\.\\d s`))
	const reports = records
		.filter((r) => r.kind === 'observation' && (r.payload as { device?: string }).device === 'rx-a')
		.map((r) => (r.payload as { state: string }).state)
	expect(reports).toEqual(['up', 'degraded', 'up'])
}

describe('content checks fail a path over (real ffmpeg senders, Videohub simulator)', () => {
	it('black', () => contentFailover('black'))
	it('a frozen picture', () => contentFailover('freeze'))
	it('silence', () => contentFailover('silence'))

	it('a cut stream still fails over at lossMs (the analysis never delays loss detection)', async () => {
		const { d } = await lab({})
		await waitFor('rx-a analysed', () => d.deviceState('rx-a')?.detail['content'] !== undefined, 5000)
		const cutAt = performance.now()
		await senders[0]!.stop()
		await waitFor('the failover to b', () => router.routingTable()[0] === 4, 3000, 5)
		expect(performance.now() - cutAt).toBeLessThan(LOSS_MS + 1000)
		expect(d.feedState('ev/pgm').paths['a']?.signal).toBe('down')
	})
})

describe("the receiver's own TS check (content.tsErrors) has its alarm", () => {
	it('continuity errors: ts-errors raised on the device with the counts, cleared after a clean interval', async () => {
		const [port, mqttPort] = [await freeUdpPort(), await freePort()]
		const config = parseConfigText(`
site: { id: lab }
devices:
  - { id: rtr, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${router.port} } }
  - id: rx-t
    role: srt-receiver
    driver: { type: srt, mode: listener, bind: 127.0.0.1, port: ${port}, streamId: t, statsIntervalMs: 250, content: { tsErrors: {} } }
events:
  - id: ev
    tier: grey
    feeds:
      - id: pgm
        output: { router: rtr, output: 1 }
        paths: [ { id: t, method: srt, via: [rx-t], input: { router: rtr, input: 1 } } ]
broker: { listen: 127.0.0.1:${mqttPort} }
journal: { dir: ${dir} }
`)
		daemon = new Daemon({ config, log: silentLogger, firstSyncTimeoutMs: 5000 })
		const alarms: Alarm[] = []
		daemon.events.on('alarm', (a) => alarms.push(a))
		await daemon.start()
		const tx = new SrtSim({ mode: 'caller', host: '127.0.0.1', port, streamId: 't', bitrate: 4_000_000, psi: true })
		await tx.start()
		try {
			const d = daemon
			await waitFor('up', () => d.feedState('ev/pgm').paths['t']?.signal === 'up', 8000)
			tx.setCcErrors(50) // 2% of the payload packets
			await waitFor('the ts-errors alarm', () => alarms.some((a) => a.code === 'ts-errors'), 5000)
			expect(alarms.find((a) => a.code === 'ts-errors')).toMatchObject({
				device: 'rx-t',
				severity: 'major',
				message: expect.stringMatching(/^rx-t: ts-errors: \d+ continuity errors in \d+ packets$/) as string,
			})
			expect(d.status().devices.find((x) => x.id === 'rx-t')?.cause).toMatch(/^ts-errors: /)
			tx.setCcErrors(0)
			await waitFor('cleared', () => alarms.some((a) => a.code === 'ts-errors' && a.severity === 'cleared'), 5000)
			expect(alarms.filter((a) => a.code === 'ts-errors').map((a) => a.severity)).toEqual(['major', 'cleared'])
		} finally {
			await tx.stop()
		}
	})
})
