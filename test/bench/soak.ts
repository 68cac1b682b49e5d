// Soak: do the SRT sensors tell the truth on a busy edge server, for long? Real streams only.
//   - a real MPEG-TS (ffmpeg: 640x360 MPEG-2 video and MP2 audio, muxed at a constant 5 Mbit/s) is encoded once;
//   - N ffmpeg callers (default 16) send it in a loop (-re -stream_loop -1 -c copy: ffmpeg's own libsrt) into N SRT
//     listeners of one daemon (its real SrtSource receivers), each the primary path of a feed whose backup is up;
//   - another process keeps one core busy all along (a node busy loop);
//   1. soak, SOAK_S seconds (600; --quick 10): every `down` or `degraded` a receiver reports is false (the streams
//      never stop), and so is every switch. Goals: 0 and 0.
//   2. CYCLES cut/restore cycles (50; --quick 2) of a quarter of the streams: their ffmpeg killed (SIGKILL), each cut
//      must be reported down and failed over to the backup; restarted, each stream must come back up and be reverted
//      to after clearMs. Goals: every cut detected, every stream back.
// --quick: 4 streams, 10 s, 2 cycles; the zero-false-report goals are judged in full mode only (a few streams for a
// few seconds prove nothing either way); every cut detected and every stream back are judged in both.
// Run: node --import tsx test/bench/soak.ts [--quick]   (BENCH_STREAMS, BENCH_SOAK_S, BENCH_CYCLES to change counts)
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import type { SignalReport } from '../../drivers/types.ts'
import { parseConfigText } from '../../src/domain/load.ts'
import { silentLogger } from '../../src/log.ts'
import { createDrivers } from '../../src/runtime/adapters.ts'
import { Daemon } from '../../src/runtime/daemon.ts'
import { FakeSource } from '../support/fake-source.ts'
import { freePort, requireBinary, spawnPeer, type Peer } from '../support/peers.ts'
import { distribution, fixed, machine, main, parseArgs, sleep, table, waitFor, withTimeout } from './common.ts'

const { quick } = parseArgs({})
const STREAMS = Number(process.env['BENCH_STREAMS'] ?? (quick ? 4 : 16))
const SOAK_S = Number(process.env['BENCH_SOAK_S'] ?? (quick ? 10 : 600))
const CYCLES = Number(process.env['BENCH_CYCLES'] ?? (quick ? 2 : 50))
const MBPS = 5
const LOSS_MS = 300
const CLEAR_MS = 1000

main('soak', async (b) => {
	const ffmpeg = requireBinary('ffmpeg', 'ffmpeg')
	const dir = mkdtempSync(join(tmpdir(), 'sigpath-soak-'))
	b.defer('the scratch directory', () => rmSync(dir, { recursive: true, force: true }))
	console.log(`soak: ${STREAMS} real SRT streams of ${MBPS} Mbit/s, ${SOAK_S} s, then ${CYCLES} cut/restore cycles`)
	console.log(machine())

	// the stream: encoded once, sent by copy (no encoder per stream: the machine's cores are for the receivers)
	const ts = join(dir, 'feed.ts')
	await withTimeout(
		run(ffmpeg, [
			...['-hide_banner', '-loglevel', 'error', '-y'],
			...['-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=1000'],
			...['-t', '4', '-c:v', 'mpeg2video', '-b:v', '3M', '-maxrate', '3M', '-bufsize', '1M', '-g', '25'],
			...['-c:a', 'mp2', '-b:a', '192k', '-muxrate', `${MBPS * 1_000_000}`, '-f', 'mpegts', ts],
		]),
		120_000,
		'encoding the test stream',
	)

	// output i shows input i: each feed starts on its SRT path
	const sim = new VideohubSim({
		inputs: STREAMS * 2,
		outputs: STREAMS,
		routing: Array.from({ length: STREAMS }, (_, i) => i),
	})
	await sim.start({ host: '127.0.0.1', port: 0 })
	b.defer('the router simulator', () => sim.stop())
	const ports: number[] = []
	for (let i = 0; i < STREAMS; i++) ports.push(await freePort())
	const config = parseConfigText(`
site: { id: soak }
policy: { minPaths: 2, approvedMethods: [srt, satellite], discretePower: false }
devices:
  - { id: rtr, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${sim.port} },
      lineCards: [ { id: c1, inputs: [1, ${STREAMS}] }, { id: c2, inputs: [${STREAMS + 1}, ${STREAMS * 2}] } ] }
${ports.map((p, i) => `  - { id: srt-${i}, role: srt-receiver, driver: { type: srt, mode: listener, bind: 127.0.0.1, port: ${p}, streamId: s${i} } }\n  - { id: sat-${i}, role: ird }`).join('\n')}
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
	const reports: { device: string; state: SignalReport; at: number; phase: string }[] = []
	let phase = 'start'
	for (const s of drivers.sources)
		s.on('signal', (e) => reports.push({ device: s.deviceId, state: e.state, at: e.at, phase }))
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

	// each venue encoder: ffmpeg replaying the TS at a constant 5 Mbit/s (muxrate, and its UDP output paced by
	// `bitrate`), as a hardware encoder sends CBR, into srt-live-transmit, the SRT caller. ffmpeg's own SRT output
	// sends each frame's packets in one burst (after -c copy, without the null packets), 80 to 120 ms apart on a busy
	// machine: that is a stream that really stops for longer than silenceMs, not what a contribution encoder does.
	const slt = requireBinary('srt-live-transmit', 'srt-tools')
	// the senders run at real-time priority 2 where allowed (root), above our receive threads (1) and the busy loop:
	// then only the daemon can be starved, and a silence it reports is its own error, never the venue's. Without
	// that right the senders run as usual and a starved sender really stops: the run says which it was.
	const rt = spawnSync('chrt', ['-f', '2', 'true']).status === 0
	const prio = (cmd: string, args: string[]): [string, string[]] =>
		rt ? ['chrt', ['-f', '2', cmd, ...args]] : [cmd, args]
	console.log(`senders: ${rt ? 'SCHED_FIFO 2 (chrt)' : 'normal priority (no real-time rights here)'}`)
	const senders = new Map<number, Peer[]>()
	const startSender = async (i: number): Promise<void> => {
		const udp = await freePort()
		const caller = spawnPeer(
			...prio(slt, [
				'-q',
				`udp://127.0.0.1:${udp}`,
				`srt://127.0.0.1:${ports[i]}?mode=caller&latency=120&streamid=s${i}`,
			]),
		)
		const encoder = spawnPeer(
			...prio(ffmpeg, [
				...['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', ts, '-c', 'copy'],
				...['-muxrate', `${MBPS * 1_000_000}`, '-f', 'mpegts'],
				`udp://127.0.0.1:${udp}?pkt_size=1316&bitrate=${MBPS * 1_050_000}&fifo_size=100000`,
			]),
		)
		senders.set(i, [encoder, caller])
	}
	const stopSender = (i: number): void => {
		for (const p of senders.get(i) ?? []) p.child.kill('SIGKILL')
	}
	b.defer('the senders', () => Promise.all([...senders.values()].flat().map((p) => p.stop())))
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
	const t0 = reports.length
	while (performance.now() - soakStart < SOAK_S * 1000) {
		await sleep(1000)
		for (const [i, ps] of senders)
			for (const p of ps)
				if (p.child.exitCode !== null) throw new Error(`sender ${i} exited during the soak: ${p.output().slice(-300)}`)
	}
	const soakReports = reports.slice(t0)
	const falseReports = soakReports.filter((r) => r.state === 'down' || r.state === 'degraded')
	const spurious = daemon.takes.length - takesBefore
	console.log(
		`\nsoak: ${SOAK_S} s, ${STREAMS} streams: ${falseReports.length} false down/degraded reports, ${spurious} switches`,
	)
	for (const r of falseReports.slice(0, 10)) console.log(`  false ${r.state} from ${r.device}`)

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
		for (const i of which) await startSender(i)
		for (const i of which) {
			try {
				await waitFor(() => daemon.feedState(`ev/f${i}`).active === 'srt', CLEAR_MS + 10_000, `f${i} back on SRT`)
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
		enforce: 'full',
		digits: 0,
	})
	b.goal({
		what: 'spurious switches (soak)',
		measured: spurious,
		unit: '',
		op: '<=',
		target: 0,
		enforce: 'full',
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

function run(cmd: string, args: string[]): Promise<void> {
	return new Promise((resolve, reject) => {
		const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
		let err = ''
		p.stderr.on('data', (d: Buffer) => (err += d.toString()))
		p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err.slice(-300)}`))))
	})
}
