// Soak: do the SRT sensors tell the truth on a busy edge server, for long? Real streams only.
//   - a real MPEG-TS (ffmpeg: 640x360 MPEG-2 video and MP2 audio, muxed at a constant 5 Mbit/s) is encoded once, as
//     long as the run, and played out by N venues (test/support/venue.ts: multicat paced by the PCRs, into
//     srt-live-transmit, the SRT caller) into N SRT listeners of one daemon (its real SrtSource receivers), each the
//     primary path of a feed whose backup is up, with the TS checks on (TR 101 290 priority 1, content.tsErrors);
//   - another process keeps one core busy all along (a node busy loop);
//   1. soak, SOAK_S seconds (600; --quick 10): every `down` or `degraded` a receiver reports is false (the streams
//      never stop), and so is every switch. Goals: 0 and 0.
//   2. CYCLES cut/restore cycles (50; --quick 2) of a quarter of the streams: their venue killed (SIGKILL), each cut
//      must be reported down and failed over to the backup; restarted, each stream must come back up and be reverted
//      to after clearMs. Goals: every cut detected, every stream back.
// --quick: 4 streams, 10 s, 2 cycles; every goal is judged in both modes (one false report in 10 s is one too many).
// Run: node --import tsx test/bench/soak.ts [--quick]   (BENCH_STREAMS, BENCH_SOAK_S, BENCH_CYCLES to change counts)
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import type { SignalReport } from '../../drivers/types.ts'
import { parseConfigText } from '../../src/domain/load.ts'
import { monotonicMs } from '../../src/clock.ts'
import { silentLogger } from '../../src/log.ts'
import { createDrivers } from '../../src/runtime/adapters.ts'
import { Daemon } from '../../src/runtime/daemon.ts'
import { FakeSource } from '../support/fake-source.ts'
import { freeUdpPort } from '../../drivers/snmp/traps.ts'
import { freePort } from '../support/peers.ts'
import { encodeProgramme, realtimeAllowed, startVenue, type VenueSender } from '../support/venue.ts'
import { distribution, fixed, machine, main, parseArgs, sleep, table, waitFor, withTimeout } from './common.ts'

const { quick } = parseArgs({})
const STREAMS = Number(process.env['BENCH_STREAMS'] ?? (quick ? 4 : 16))
const SOAK_S = Number(process.env['BENCH_SOAK_S'] ?? (quick ? 10 : 600))
const CYCLES = Number(process.env['BENCH_CYCLES'] ?? (quick ? 2 : 50))
const MBPS = 5
const LOSS_MS = 300
const CLEAR_MS = 1000

main('soak', async (b) => {
	const dir = mkdtempSync(join(tmpdir(), 'sigpath-soak-'))
	b.defer('the scratch directory', () => rmSync(dir, { recursive: true, force: true }))
	console.log(`soak: ${STREAMS} real SRT streams of ${MBPS} Mbit/s, ${SOAK_S} s, then ${CYCLES} cut/restore cycles`)
	console.log(machine())

	// the programme: encoded once at a constant 5 Mbit/s, long enough that no sender ever loops it (see venue.ts)
	const programme = await withTimeout(encodeProgramme(dir, SOAK_S + 90, MBPS), 300_000, 'encoding the test programme')

	// output i shows input i: each feed starts on its SRT path
	const sim = new VideohubSim({
		inputs: STREAMS * 2,
		outputs: STREAMS,
		routing: Array.from({ length: STREAMS }, (_, i) => i),
	})
	await sim.start({ host: '127.0.0.1', port: 0 })
	b.defer('the router simulator', () => sim.stop())
	const ports: number[] = []
	// SRT and the venues' UDP legs are UDP: their ports must be free for UDP (a TCP-free port can be an SRT socket's)
	for (let i = 0; i < STREAMS; i++) ports.push(await freeUdpPort('127.0.0.1'))
	const config = parseConfigText(`
site: { id: soak }
policy: { minPaths: 2, approvedMethods: [srt, satellite], discretePower: false }
devices:
  - { id: rtr, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${sim.port} },
      lineCards: [ { id: c1, inputs: [1, ${STREAMS}] }, { id: c2, inputs: [${STREAMS + 1}, ${STREAMS * 2}] } ] }
${ports.map((p, i) => `  - { id: srt-${i}, role: srt-receiver, driver: { type: srt, mode: listener, bind: 127.0.0.1, port: ${p}, streamId: s${i}, content: { tsErrors: { rate: 0.001 } } } }\n  - { id: sat-${i}, role: ird }`).join('\n')}
events:
  - id: ev
    tier: yellow
    feeds:
${ports
	.map(
		(_, i) => `      - id: f${i}
        output: { router: rtr, output: ${i + 1} }
        failover: { lossMs: ${LOSS_MS}, clearMs: ${CLEAR_MS}, preference: primary }
        paths:
          - { id: srt, method: srt, via: [srt-${i}], input: { router: rtr, input: ${i + 1} } }
          - { id: sat, method: satellite, via: [sat-${i}], input: { router: rtr, input: ${STREAMS + i + 1} } }`,
	)
	.join('\n')}
broker: { listen: "127.0.0.1:${await freePort()}" }
journal: { dir: ${join(dir, 'journal')} }
`)
	// the real SRT receivers of the config, and always-up backups (their reports are not what is measured)
	const drivers = createDrivers(config, { log: silentLogger, env: process.env })
	const backups = ports.map((_, i) => new FakeSource(`sat-${i}`))
	const reports: { device: string; state: SignalReport; at: number; phase: string; reason: string; seen: number }[] = []
	let phase = 'start'
	for (const s of drivers.sources)
		s.on('signal', (e) =>
			reports.push({
				device: s.deviceId,
				state: e.state,
				at: e.at,
				phase,
				reason: e.reason ?? '',
				seen: performance.now(),
			}),
		)
	const daemon = new Daemon({
		config,
		log: silentLogger,
		signalSources: [...drivers.sources, ...backups],
		firstSyncTimeoutMs: 10_000,
	})
	b.defer('the daemon', () => daemon.stop())
	await withTimeout(daemon.start(), 15_000, 'the daemon starting')
	await waitFor(() => daemon.isReady(), 15_000, 'the daemon ready')
	for (const s of backups) s.report('up')

	const hog = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' })
	b.defer('the busy loop', () => hog.kill('SIGKILL'))

	// each venue: a constant-rate playout (multicat, paced by the PCRs) into srt-live-transmit, the SRT caller. They run
	// at real-time priority 2 where allowed (root), above our receive threads (1) and the busy loop: then only the
	// daemon can be starved, and a silence it reports is its own error, never the venue's. Without that right the
	// senders run as usual and a starved sender really stops: the run says which it was.
	const rt = realtimeAllowed()
	console.log(`SRT listener ports: ${ports.map((p, i) => `srt-${i} ${p}`).join(', ')}`)
	console.log(
		`senders: multicat + srt-live-transmit, ${rt ? 'SCHED_FIFO 2 (chrt)' : 'normal priority (no real-time rights here)'}`,
	)
	const senders = new Map<number, VenueSender>()
	const startSender = async (i: number): Promise<void> => {
		senders.set(
			i,
			startVenue(
				programme,
				await freeUdpPort('127.0.0.1'),
				`srt://127.0.0.1:${ports[i]}?mode=caller&latency=120&streamid=s${i}`,
				rt,
			),
		)
	}
	const stopSender = (i: number): void => senders.get(i)?.kill()
	b.defer('the senders', () => Promise.all([...senders.values()].map((v) => v.stop())))
	const up = (i: number): boolean => daemon.feedState(`ev/f${i}`).paths['srt']?.signal === 'up'
	for (let i = 0; i < STREAMS; i++) await startSender(i)
	await waitFor(() => ports.every((_, i) => up(i)), 30_000, 'every stream up')
	// the feeds start on the router's crosspoint (input 1.., the SRT paths): let every class settle
	await waitFor(() => ports.every((_, i) => daemon.feedState(`ev/f${i}`).active === 'srt'), 10_000, 'SRT on air')
	await sleep(CLEAR_MS + 500)

	// 1. soak
	phase = 'soak'
	const takesBefore = daemon.takes.length
	const soakStart = performance.now()
	const soakStartMono = monotonicMs()
	const t0 = reports.length
	while (performance.now() - soakStart < SOAK_S * 1000) {
		await sleep(1000)
		for (const [i, v] of senders) {
			const why = v.exited()
			if (why !== undefined) throw new Error(`sender ${i} stopped during the soak: ${why}`)
		}
	}
	const soakReports = reports.slice(t0)
	const falseReports = soakReports.filter((r) => r.state === 'down' || r.state === 'degraded')
	const spurious = daemon.takes.length - takesBefore
	console.log(
		`\nsoak: ${SOAK_S} s, ${STREAMS} streams: ${falseReports.length} false down/degraded reports, ${spurious} switches`,
	)
	// each false report with what a root cause needs: when, how long the silence was (the receiver's own stamps of
	// the last packet and of the next), how late it was reported, and which other streams went down within 1 s
	for (const r of falseReports.slice(0, 20)) {
		const next = soakReports.find((x) => x.device === r.device && x.at > r.at && x.state === 'up')
		const near = falseReports.filter((x) => x !== r && Math.abs(x.at - r.at) < 1000).map((x) => x.device)
		console.log(
			`  false ${r.state} from ${r.device} (${r.reason}) ${((r.at - soakStartMono) / 1000).toFixed(1)} s into the soak: silence ${next ? `${(next.at - r.at).toFixed(1)} ms` : 'not ended'}, reported ${(r.seen - r.at).toFixed(1)} ms after the last packet${near.length ? `; within 1 s: ${near.join(' ')}` : ''}`,
		)
	}

	// 2. cut/restore cycles of a quarter of the streams
	phase = 'cycles'
	const quarter = Math.max(1, Math.floor(STREAMS / 4))
	let cutsDetected = 0
	let streamsBack = 0
	const detectMs: number[] = []
	const backMs: number[] = []
	for (let c = 0; c < CYCLES; c++) {
		const which = Array.from({ length: quarter }, (_, k) => (c * quarter + k) % STREAMS)
		const cutAt = performance.now()
		for (const i of which) stopSender(i)
		for (const i of which) {
			try {
				await waitFor(() => daemon.feedState(`ev/f${i}`).active === 'sat', 5000, `f${i} on its backup`)
				cutsDetected++
				detectMs.push(performance.now() - cutAt)
			} catch (err) {
				console.log(`cycle ${c}: ${(err as Error).message}`)
			}
		}
		const restartAt = performance.now()
		const restartMono = monotonicMs()
		for (const i of which) await startSender(i)
		for (const i of which) {
			try {
				await waitFor(
					() => daemon.feedState(`ev/f${i}`).active === 'srt',
					CLEAR_MS + 10_000,
					`f${i} back on SRT`,
				).catch((err: unknown) => {
					// what a root cause needs: the path as the engine sees it, the receiver, the venue's own words
					const path = daemon.feedState(`ev/f${i}`).paths['srt']
					const rx = drivers.sources.find((x) => x.deviceId === `srt-${i}`)?.status()
					const since = reports.filter((x) => x.device === `srt-${i}` && x.at >= restartMono)
					console.log(`cycle ${c}: f${i} srt path ${JSON.stringify(path)}; receiver ${JSON.stringify(rx)}`)
					console.log(`  reports since the restart: ${JSON.stringify(since.map((x) => [x.state, x.reason]))}`)
					console.log(
						`  venue: ${senders.get(i)?.exited() ?? 'both running'}; ${senders
							.get(i)
							?.peers.map((p) => p.output().slice(-200))
							.join(' | ')}`,
					)
					throw err
				})
				streamsBack++
				backMs.push(performance.now() - restartAt)
			} catch (err) {
				console.log(`cycle ${c}: ${(err as Error).message}`)
			}
		}
	}
	const expected = CYCLES * quarter
	console.log(
		`\n${table(
			['measure', 'value'],
			[
				['false down/degraded reports in the soak', falseReports.length],
				['switches in the soak', spurious],
				['cuts detected and failed over', `${cutsDetected} / ${expected}`],
				['streams back and reverted to', `${streamsBack} / ${expected}`],
				[
					'cut -> backup on air, p50 / max (ms)',
					`${fixed(distribution(detectMs).p50, 0)} / ${fixed(distribution(detectMs).max, 0)}`,
				],
				[
					'restart -> back on SRT, p50 / max (ms)',
					`${fixed(distribution(backMs).p50, 0)} / ${fixed(distribution(backMs).max, 0)}`,
				],
			],
		)}`,
	)
	b.goal({
		what: 'false down/degraded reports (soak)',
		measured: falseReports.length,
		unit: '',
		op: '<=',
		target: 0,
		enforce: 'always',
		digits: 0,
	})
	b.goal({
		what: 'spurious switches (soak)',
		measured: spurious,
		unit: '',
		op: '<=',
		target: 0,
		enforce: 'always',
		digits: 0,
	})
	b.goal({
		what: 'cuts detected',
		measured: cutsDetected,
		unit: '',
		op: '>=',
		target: expected,
		enforce: 'always',
		digits: 0,
	})
	b.goal({
		what: 'streams back',
		measured: streamsBack,
		unit: '',
		op: '>=',
		target: expected,
		enforce: 'always',
		digits: 0,
	})
	b.sane(
		'every stream reported up before the soak',
		new Set(reports.filter((r) => r.state === 'up' && r.phase === 'start').map((r) => r.device)).size === STREAMS,
		`${reports.length} reports`,
	)
})
