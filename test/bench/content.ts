// Content checks and FACS, measured with real ffmpeg (docs/contract.md §10):
//   1. CPU per watched stream: one analyser (black, freeze and silence on, the production command line) reading an
//      SD stream (720x576 MPEG-2, 4 Mbit/s, MP2) and an HD stream (1920x1080 H.264, 8 Mbit/s, AAC), each replayed at
//      its real rate over UDP (ffmpeg -re -c copy); the analyser's ffmpeg CPU time over a window, in % of one core.
//   2. Detection time: a live ffmpeg sender puts black, a frozen picture and silence in turn into a moving picture
//      with a tone, through a tap in this process that forwards each datagram to the analyser and notes when each
//      PES (by its PTS) passed. Detection time = when the condition stood (the analyser's event) minus when the
//      first faulty frame or sound passed the tap, against the configured ms (1000): what an operator waits, on
//      top of the feed's lossMs, for a fault to fail a path. (A frozen source counts as still to freezedetect only
//      once the encoder has stopped refining the picture: a few hundred ms more for freeze.)
//   3. The FACS tour of a four-path feed: one encode of the flash-and-beep pattern teed to four SRT listeners of a
//      daemon (SRT latencies 120, 220, 320, 420 ms), the Videohub simulator; the tour's length against 4 × dwellMs,
//      its QC takes, and the delays it measured (0, 100, 200, 300 ms expected).
// --quick: short windows, one fault of each kind, one tour with dwellMs 1000 and no A/V test (which needs a dwell
// of 3 s at least); the tight goals are judged in full mode only. Run: node --import tsx test/bench/content.ts [--quick]
import { spawnSync } from 'node:child_process'
import dgram from 'node:dgram'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ContentAnalyser, type ContentCondition } from '../../drivers/content/analyser.ts'
import { udpInput } from '../../drivers/content/ffmpeg.ts'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import { monotonicMs } from '../../src/clock.ts'
import { parseConfigText } from '../../src/domain/load.ts'
import { silentLogger } from '../../src/log.ts'
import { Daemon } from '../../src/runtime/daemon.ts'
import { senderArgs, srtUrl, udpUrl, type Window } from '../support/ffmpeg.ts'
import { freePort, requireBinary, spawnPeer } from '../support/peers.ts'
import { freeUdpPort } from '../drivers/srt/helpers.ts'
import { distribution, fixed, machine, main, parseArgs, sleep, table, waitFor, withTimeout } from './common.ts'

const { quick } = parseArgs({})
const CPU_WINDOW_S = quick ? 4 : 20
const FAULTS_PER_KIND = quick ? 1 : 8
const MS = 1000
const DWELL_MS = quick ? 1000 : 5000
const TOURS = quick ? 1 : 3
const CHECKS = {
	black: { ms: MS, pictureRatio: 0.98, pixelThreshold: 0.1 },
	freeze: { ms: MS, noiseDb: -60 },
	silence: { ms: MS, dbfs: -50 },
}
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100

/** user + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15) */
function cpuSeconds(pid: number): number {
	const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
	const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
	return (Number(f[11]) + Number(f[12])) / TICK
}

function run(bin: string, args: string[]): Promise<void> {
	const p = spawnPeer(bin, args)
	return new Promise((resolve, reject) =>
		p.child.once('exit', (code) =>
			code === 0 ? resolve() : reject(new Error(`${bin} exited ${code}: ${p.output().slice(-300)}`)),
		),
	)
}

main('content', async (b) => {
	const ffmpeg = requireBinary('ffmpeg', 'ffmpeg')
	const dir = mkdtempSync(join(tmpdir(), 'sigpath-content-bench-'))
	b.defer('the scratch directory', () => rmSync(dir, { recursive: true, force: true }))
	console.log(
		`content: CPU per stream (${CPU_WINDOW_S} s), detection (${FAULTS_PER_KIND} of each fault, ms ${MS}), ${TOURS} FACS tour(s) of 4 paths (dwell ${DWELL_MS} ms)`,
	)
	console.log(machine())

	// ---- 1. CPU per watched stream ----
	const kinds = [
		{
			name: 'SD 720x576 MPEG-2 4 Mb/s',
			size: '720x576',
			v: ['-c:v', 'mpeg2video', '-b:v', '4M', '-g', '12'],
			a: ['-c:a', 'mp2', '-b:a', '192k'],
			goal: 15,
			enforce: 'always' as const,
		},
		{
			name: 'HD 1920x1080 H.264 8 Mb/s',
			size: '1920x1080',
			v: ['-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '8M', '-g', '50'],
			a: ['-c:a', 'aac', '-b:a', '192k'],
			goal: 60,
			enforce: 'full' as const,
		},
	]
	const cpuRows: (string | number)[][] = []
	for (const k of kinds)
		await b.scope(async (defer) => {
			const ts = join(dir, `${k.size}.ts`)
			await withTimeout(
				run(ffmpeg, [
					...['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${k.size}:rate=25`],
					...['-f', 'lavfi', '-i', 'sine=f=440:r=48000', '-t', quick ? '4' : '10', ...k.v, ...k.a, '-f', 'mpegts', ts],
				]),
				120_000,
				`encoding the ${k.name} clip`,
			)
			const port = await freeUdpPort()
			const a = new ContentAnalyser(
				{ input: udpInput('127.0.0.1', port), stallMs: 30_000, flowing: () => true, ...CHECKS },
				{ log: silentLogger },
			)
			a.start()
			defer('the analyser', () => a.stop())
			const replay = spawnPeer(ffmpeg, [
				'-hide_banner',
				'-loglevel',
				'error',
				'-re',
				'-stream_loop',
				'-1',
				'-i',
				ts,
				'-c',
				'copy',
				'-f',
				'mpegts',
				udpUrl(port),
			])
			defer('the replay', () => replay.stop())
			await waitFor(() => a.state === 'running', 20_000, `the ${k.name} analyser decoding`, 50)
			await sleep(1000)
			const pid = a.pid!
			const c0 = cpuSeconds(pid)
			const t0 = performance.now()
			await sleep(CPU_WINDOW_S * 1000)
			const pct = ((cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000)) * 100
			cpuRows.push([
				k.name,
				fixed(pct, 1),
				a.standing().length === 0
					? 'none'
					: a
							.standing()
							.map((s) => s.kind)
							.join(', '),
			])
			b.sane(
				`${k.name}: the analyser decodes, no false condition`,
				a.standing().length === 0 && a.failure === null,
				`standing ${a.standing().length}, failure ${a.failure?.reason ?? 'none'}`,
			)
			b.goal({
				what: `CPU per watched stream, ${k.name}`,
				measured: pct,
				unit: '% of a core',
				op: '<',
				target: k.goal,
				enforce: k.enforce,
				digits: 1,
			})
		})
	console.log(
		'\nCPU of one analyser (its ffmpeg: decode, scale to 320 wide, blackdetect, freezedetect, silencedetect):',
	)
	console.log(table(['stream', 'CPU % of a core', 'conditions'], cpuRows))

	// ---- 2. detection time ----
	await b.scope(async (defer) => {
		const order = ['black', 'freeze', 'silence'] as const
		const T0 = 5
		const D = MS / 1000 + 2
		const P = D + 2.5
		const injected = Array.from({ length: FAULTS_PER_KIND * 3 }, (_, i) => ({ kind: order[i % 3]!, from: T0 + i * P }))
		const win = (kind: string): Window[] => injected.filter((f) => f.kind === kind).map((f) => [f.from, f.from + D])
		const [tapPort, port] = [await freeUdpPort(), await freeUdpPort()]
		const tap = new TsTap(port)
		await tap.start(tapPort)
		defer('the tap', () => tap.stop())
		const a = new ContentAnalyser(
			{ input: udpInput('127.0.0.1', port), stallMs: 30_000, flowing: () => true, ...CHECKS },
			{ log: silentLogger },
		)
		const conditions: ContentCondition[] = []
		a.on('condition', (c) => conditions.push(c))
		a.start()
		defer('the analyser', () => a.stop())
		await sleep(300)
		const sender = spawnPeer(
			ffmpeg,
			senderArgs(udpUrl(tapPort), {
				black: win('black'),
				freeze: win('freeze'),
				silence: win('silence'),
				seconds: T0 + injected.length * P + 1,
			}),
		)
		defer('the sender', () => sender.stop())
		await withTimeout(
			new Promise((r) => sender.child.once('exit', r)),
			(T0 + injected.length * P + 30) * 1000,
			'the sender',
		)
		await sleep(1500)
		const rows: (string | number)[][] = []
		for (const kind of order) {
			const mine = injected.filter((f) => f.kind === kind)
			const found = conditions.filter((c) => c.kind === kind && c.active)
			const times: number[] = []
			for (const f of mine) {
				const relayAt = tap.passed(kind === 'silence' ? 'audio' : 'video', f.from)
				const c = found.find((x) => relayAt !== null && x.at > relayAt)
				if (relayAt !== null && c) times.push(c.at - relayAt)
			}
			const d = distribution(times)
			rows.push([
				kind,
				`${times.length}/${mine.length}`,
				found.length,
				fixed(d.p50, 0),
				fixed(d.p99, 0),
				fixed(d.max, 0),
				fixed(d.p50 - MS, 0),
			])
			b.sane(
				`${kind}: every fault detected once, nothing else`,
				times.length === mine.length && found.length === mine.length,
				`${times.length} of ${mine.length} detected, ${found.length} reported`,
			)
			// a frozen source is still to freezedetect only once the encoder stops refining it (a few hundred ms)
			const settle = kind === 'freeze' ? 400 : 0
			b.goal({
				what: `${kind} detection p50 (ms ${MS})`,
				measured: d.p50,
				unit: 'ms',
				op: '<=',
				target: MS + 300 + settle,
				enforce: 'always',
				digits: 0,
			})
			b.goal({
				what: `${kind} detection p99 (ms ${MS})`,
				measured: d.p99,
				unit: 'ms',
				op: '<=',
				target: MS + 500 + settle,
				enforce: 'full',
				digits: 0,
			})
		}
		console.log(
			`\ndetection: from the first faulty frame or sound through the tap to the condition standing (configured ms ${MS}):`,
		)
		console.log(table(['fault', 'detected', 'reported', 'p50 ms', 'p99 ms', 'max ms', 'p50 beyond ms'], rows))
	})

	// ---- 3. a FACS tour of a four-path feed ----
	await b.scope(async (defer) => {
		const sim = new VideohubSim({ inputs: 8, outputs: 8, routing: [0, 1, 2, 3, 4, 5, 6, 6] })
		await sim.start({ host: '127.0.0.1', port: 0 })
		defer('the router simulator', () => sim.stop())
		const ports = await Promise.all([0, 1, 2, 3].map(() => freeUdpPort()))
		const relays = await Promise.all([0, 1, 2, 3].map(() => freeUdpPort()))
		const methods = ['fiber', 'satellite', 'internet', 'srt']
		const dir2 = join(dir, 'journal')
		const config = parseConfigText(`
site: { id: bench }
devices:
  - { id: rtr, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${sim.port} } }
${ports.map((p, i) => `  - { id: rx-${i}, role: srt-receiver, driver: { type: srt, mode: listener, bind: 127.0.0.1, port: ${p}, streamId: s${i}, silenceMs: 400, latencyMs: ${120 + i * 100}, relayTo: "udp://127.0.0.1:${relays[i]}" } }`).join('\n')}
events:
  - id: ev
    tier: yellow
    facs: { qcOutput: { router: rtr, output: 8 }, dwellMs: ${DWELL_MS}, avSync: ${!quick}, maxDelayMs: 1000 }
    feeds:
      - id: pgm
        output: { router: rtr, output: 1 }
        paths:
${ports.map((_, i) => `          - { id: p${i}, method: ${methods[i]}, via: [rx-${i}], input: { router: rtr, input: ${i + 1} } }`).join('\n')}
broker: { listen: 127.0.0.1:${await freePort()} }
journal: { dir: ${dir2} }
`)
		const d = new Daemon({ config, log: silentLogger, firstSyncTimeoutMs: 5000 })
		await d.start()
		defer('the daemon', () => d.stop())
		await waitFor(() => d.isReady(), 10_000, 'the daemon ready', 20)
		const args = senderArgs('-', { flashBeep: { audioOffsetMs: 0 } }).slice(0, -3)
		const tee = ports.map((p, i) => `[f=mpegts]${srtUrl(p, `s${i}`)}`).join('|')
		const sender = spawnPeer(ffmpeg, [...args, '-map', '0:v', '-map', '1:a', '-f', 'tee', tee])
		defer('the sender', () => sender.stop())
		await waitFor(
			() => ports.every((_, i) => d.feedState('ev/pgm').paths[`p${i}`]?.signal === 'up'),
			20_000,
			'four paths up',
			20,
		)
		const lengths: number[] = []
		const takes: number[] = []
		const delays: (number | null)[][] = []
		for (let t = 0; t < TOURS; t++) {
			const r = await d.facs.run({ event: 'ev', operator: 'bench', via: 'bench' })
			if (!r.ok) throw new Error(`the tour was refused: ${r.error}`)
			lengths.push(r.report.durationMs)
			for (const p of r.report.feeds[0]!.paths) if (p.take.ms !== undefined) takes.push(p.take.ms)
			delays.push(r.report.feeds[0]!.paths.map((p) => p.delayMs))
			b.sane(
				`tour ${t + 1}: 4 paths, all pass, QC output put back`,
				r.report.pass && r.report.feeds[0]!.paths.length === 4 && sim.routingTable()[7] === 6,
				r.report.failed.join('; ') || 'pass',
			)
		}
		const len = distribution(lengths)
		const tk = distribution(takes)
		const over = len.p50 - 4 * DWELL_MS
		console.log(
			`\nFACS tour of a four-path feed (dwell ${DWELL_MS} ms; each tour starts its own analysers on the four relays):`,
		)
		console.log(
			table(
				['tours', 'length p50 ms', 'max ms', '4 × dwell ms', 'overhead p50 ms', 'QC take p50 ms', 'QC take max ms'],
				[
					[
						lengths.length,
						fixed(len.p50, 0),
						fixed(len.max, 0),
						4 * DWELL_MS,
						fixed(over, 0),
						fixed(tk.p50, 1),
						fixed(tk.max, 1),
					],
				],
			),
		)
		console.log(`delays measured by PTS (expected 0, 100, 200, 300 ms): ${delays.map((x) => x.join(', ')).join(' | ')}`)
		const ok = delays.every((x) => x.every((v, i) => v !== null && Math.abs(v - i * 100) <= 60))
		b.sane('delays by PTS within 60 ms of the SRT latency differences', ok, delays.map((x) => x.join('/')).join(' '))
		b.goal({
			what: 'FACS tour overhead beyond 4 × dwell (p50)',
			measured: over,
			unit: 'ms',
			op: '<=',
			target: 6000,
			enforce: 'always',
			digits: 0,
		})
	})
})

/**
 * A UDP tap: forwards each datagram to the analyser's port and notes, for the video (PID 0x100) and audio (0x101)
 * PES of ffmpeg's MPEG-TS, the monotonic ms each PES start (with its PTS) passed. passed(kind, t) is when the PES
 * at t seconds of the sender's stream time (its first PTS + t) passed.
 */
class TsTap {
	readonly #socket = dgram.createSocket('udp4')
	readonly #pes = { video: [] as { pts: number; at: number }[], audio: [] as { pts: number; at: number }[] }

	constructor(private readonly to: number) {}

	async start(port: number): Promise<void> {
		this.#socket.on('message', (m) => {
			this.#socket.send(m, this.to, '127.0.0.1')
			const at = monotonicMs()
			for (let o = 0; o + 188 <= m.length; o += 188) {
				if (m[o] !== 0x47 || (m[o + 1]! & 0x40) === 0) continue
				const pid = ((m[o + 1]! & 0x1f) << 8) | m[o + 2]!
				const kind = pid === 0x100 ? 'video' : pid === 0x101 ? 'audio' : null
				if (!kind) continue
				let p = o + 4
				if ((m[o + 3]! & 0x20) !== 0) p += 1 + m[p]!
				if (m[p] !== 0 || m[p + 1] !== 0 || m[p + 2] !== 1 || (m[p + 7]! & 0x80) === 0) continue
				const b = m.subarray(p + 9, p + 14)
				const pts = (b[0]! & 0x0e) * 2 ** 29 + b[1]! * 2 ** 22 + (b[2]! >> 1) * 2 ** 15 + b[3]! * 2 ** 7 + (b[4]! >> 1)
				this.#pes[kind].push({ pts: pts / 90_000, at })
			}
		})
		await new Promise<void>((r) => this.#socket.bind(port, '127.0.0.1', r))
	}

	passed(kind: 'video' | 'audio', t: number): number | null {
		const list = this.#pes[kind]
		if (list.length === 0) return null
		const target = list[0]!.pts + t - 0.001
		// the PES holding the stream time t: the last one starting at or before it (audio PES hold several frames)
		let hit: { pts: number; at: number } | null = null
		for (const x of list) if (x.pts <= target + 0.002) hit = x
		return hit?.at ?? null
	}

	async stop(): Promise<void> {
		await new Promise<void>((r) => this.#socket.close(() => r()))
	}
}
