// End-to-end benchmarks of the daemon (issue #7), on loopback, in one process except mosquitto and the Videohub
// simulator (a process of its own, as a real router is another machine):
//   A. signal stop -> crosspoint confirmed on the router's own tally, with 1, 16 and 100 feeds failing at once.
//      The signal is a real SRT stream (our sender, our receiver): "stop" is the instant the sender's socket is cut,
//      "confirmed" the instant the Videohub driver read the router's tally showing the backup. Same monotonic clock.
//   B. panel command -> router tally confirmed -> state published, through mosquitto, at 100 commands/s.
//   C. RSS and event-loop delay p99 with 1,000 feeds configured.
// Run: node --import tsx test/bench/e2e.ts [--quick]   (BENCH_ROUNDS, BENCH_COMMANDS to change the counts;
//      BENCH_ONLY=A100,B to run only those parts)
// Full: A with 1 feed x 30 rounds and 16 feeds x 10 rounds on real SRT, 100 feeds x 10 rounds on device reports;
// B 1,000 commands; C 1,000 feeds for 10 s. --quick: A with 1 feed x 3 rounds and 16 feeds x 1 round on real SRT,
// B 100 commands, C 100 feeds for 2 s.
// Goals (A p99 <= lossMs + 10 ms, B p99 < 5 ms) are judged in full mode only: this shared 2-core machine misses
// them (SRT receivers' native threads and mosquitto compete for the cores). Sanity, both modes: every round timed
// every failover, every command answered, state messages seen, C measured.
// Every peer (SRT senders and receivers, the daemon, the router simulators, mosquitto, the MQTT panel) is stopped in
// a finally. That is what used to make this benchmark hang when it failed: an exception (say, "primaries on air"
// timing out) left the daemon's SRT receivers running, and exit() then blocked, for seconds to minutes, in
// libsrt's static destructors (pthread_cond_destroy of its global condition variable while the receivers' threads
// still waited on it in srt_epoll_uwait).
import { Socket } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { monotonicMs } from '../../src/clock.ts'
import { freeUdpPort } from '../../drivers/snmp/traps.ts'
import { SrtSim } from '../../drivers/srt/sim.ts'
import { Swp08Sim } from '../../drivers/swp08/sim.ts'
import type { FeedState } from '../../src/control/payloads.ts'
import { parseConfigText } from '../../src/domain/load.ts'
import { silentLogger } from '../../src/log.ts'
import { SrtSource } from '../../src/runtime/adapters.ts'
import { Daemon } from '../../src/runtime/daemon.ts'
import { FakeSource } from '../support/fake-source.ts'
import { manyFeedsConfig, receiver } from '../support/many-feeds.ts'
import { startRouterProcess } from './router-process.ts'
import { PANEL_ACL, startMosquitto } from '../support/mosquitto.ts'
import {
	distribution,
	fixed,
	machine,
	main,
	parseArgs,
	sleep,
	table,
	waitFor,
	withTimeout,
	type Bench,
	type Defer,
} from './common.ts'

const { quick } = parseArgs({})
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? (quick ? 3 : 10))
const COMMANDS = Number(process.env['BENCH_COMMANDS'] ?? (quick ? 100 : 1000))
const LOSS_MS = 300

/** starts the daemon, stopped at the end of the scope whatever happens (its SRT receivers' threads joined) */
async function startDaemon(defer: Defer, daemon: Daemon, readyMs: number): Promise<void> {
	defer('the daemon', () => daemon.stop())
	await withTimeout(daemon.start(), readyMs, 'the daemon starting')
	await waitFor(() => daemon.isReady(), readyMs, 'the daemon ready')
}

/** A: N feeds, each a primary on a real SRT stream and a backup reported up; cut every primary at once. */
async function signalStop(defer: Defer, feeds: number, rounds: number, realSrt: boolean) {
	const dir = mkdtempSync(join(tmpdir(), 'sigpath-bench-'))
	defer('the journal directory', () => rmSync(dir, { recursive: true, force: true }))
	// the router in a process of its own, as a real one is another machine: its work is not the daemon's
	const router = await startRouterProcess({
		inputs: feeds * 2,
		outputs: feeds,
		routing: Array.from({ length: feeds }, (_, i) => i * 2),
	})
	defer('the Videohub simulator', () => router.stop())
	const ports: number[] = []
	for (let i = 0; i < feeds; i++) ports.push(await freeUdpPort('127.0.0.1'))
	const config = manyFeedsConfig({
		site: 'bench',
		feeds,
		router: `driver: { type: videohub, host: 127.0.0.1, port: ${router.port} }`,
		primary: (i) => ({
			path: 'srt',
			id: `srt-${i}`,
			device: `{ id: srt-${i}, role: srt-receiver, driver: { type: srt, mode: listener, bind: 127.0.0.1, port: ${ports[i]}, silenceMs: 50 } }`,
		}),
		backup: (i) => receiver('backup', `bk-${i}`),
		failover: `{ lossMs: ${LOSS_MS}, clearMs: 400 }`,
		journalDir: dir,
	})
	// the real drivers for the SRT receivers; the backups are reported up by the bench
	const { createDrivers } = await import('../../src/runtime/adapters.ts')
	const backups = ports.map((_, i) => new FakeSource(`bk-${i}`))
	// the 100-feed row measures the engine and the router at scale: 100 senders and 100 receivers of 2 Mbit/s in this
	// one process (200 Mbit/s through libsrt twice) need more than two cores, so there the primaries' reports come
	// from the bench itself, stamped at the instant of the "cut"
	const fakePrimaries = realSrt ? [] : ports.map((_, i) => new FakeSource(`srt-${i}`))
	const primaries = realSrt ? createDrivers(config, { log: silentLogger, env: process.env }).sources : fakePrimaries
	// the daemon stops them; stopped again (a no-op then) in case the daemon never got to
	for (const p of primaries) defer(`signal source ${p.deviceId}`, () => p.stop())
	const daemon = new Daemon({
		config,
		log: silentLogger,
		signalSources: [...primaries, ...backups],
		firstSyncTimeoutMs: 5000,
	})
	// the instant each primary's signal stopped: the receiver's own timestamp of the stream's last packet (what the
	// engine counts lossMs from), or the cut for reported faults
	const stoppedAt = new Map<string, number>()
	for (const p of primaries) p.on('signal', (e) => e.state === 'down' && stoppedAt.set(p.deviceId, e.at))
	// where the time goes, per failover (real SRT): the watchdog's detection, its delivery to JS, the engine's
	// decision after lossMs, the router's confirmation; and per round what the host did meanwhile
	const detected = new Map<string, { detect: number; deliver: number }>()
	for (const p of primaries)
		if (p instanceof SrtSource)
			p.rx.on('signal', (o) => {
				if (o.signal === 'down')
					detected.set(p.deviceId, { detect: o.detectedAt - o.at, deliver: monotonicMs() - o.detectedAt })
			})
	const parts = { detect: [] as number[], deliver: [] as number[], decide: [] as number[], confirm: [] as number[] }
	const rounds_: Round[] = []
	await startDaemon(defer, daemon, 10_000)
	for (const b of backups) b.report('up')
	const samples: number[] = []
	for (let round = 0; round < rounds; round++) {
		const senders = realSrt
			? ports.map((port) => new SrtSim({ mode: 'caller', host: '127.0.0.1', port, bitrate: 2_000_000 }))
			: []
		for (const s of senders) defer('an SRT sender', () => s.stop())
		await Promise.all(senders.map((s) => s.start()))
		for (const f of fakePrimaries) f.report('up')
		const keys = ports.map((_, i) => `ev/f${i}` as const)
		// wait until every primary is on air and healthy again (the revert after clearMs, from round 2 on)
		const onAir = (k: (typeof keys)[number]) =>
			daemon.feedState(k).active === 'srt' && daemon.feedState(k).paths['srt']?.state === 'healthy'
		await waitFor(() => keys.every(onAir), 20_000, 'primaries on air').catch((e: unknown) => {
			const off = keys.filter((k) => !onAir(k))
			const st = daemon.feedState(off[0] ?? keys[0]!)
			const srt = st.paths['srt']
			throw new Error(
				`${feeds} feed${feeds > 1 ? 's' : ''}, round ${round + 1} of ${rounds}: ${off.length} not back on the primary (${off[0]}: active ${st.active}, srt path ${srt?.state ?? 'unknown'}, signal ${srt?.signal ?? 'none'})`,
				{ cause: e },
			)
		})
		await sleep(200)
		const before = daemon.takes.length
		detected.clear()
		const steal0 = stealMs()
		const eld = monitorEventLoopDelay({ resolution: 1 })
		eld.enable()
		const cutAt = monotonicMs()
		await Promise.all(senders.map((s) => s.cut()))
		for (const f of fakePrimaries) f.report('down', cutAt)
		await waitFor(
			() => daemon.takes.slice(before).filter((t) => t.cause === 'failover').length === feeds,
			10_000,
			`every failover confirmed (${feeds} feeds, round ${round + 1})`,
		)
		eld.disable()
		let worst = 0
		for (const t of daemon.takes.slice(before))
			if (t.cause === 'failover') {
				const dev = `srt-${t.feed.slice('ev/f'.length)}`
				const from = stoppedAt.get(dev) ?? cutAt
				samples.push(t.confirmedAt - from)
				worst = Math.max(worst, t.confirmedAt - from)
				const d = detected.get(dev)
				if (d) {
					parts.detect.push(d.detect)
					parts.deliver.push(d.deliver)
				}
				parts.decide.push(t.sentAt - from - LOSS_MS)
				parts.confirm.push(t.confirmedAt - t.sentAt)
			}
		rounds_.push({ worst, stealMs: stealMs() - steal0, eldMaxMs: eld.max / 1e6 })
		await Promise.all(senders.map((s) => s.stop()))
	}
	return { ...distribution(samples), parts, rounds: rounds_ }
}

interface Round {
	/** the round's slowest failover, ms */
	worst: number
	/** the hypervisor's steal time over the round, summed over the CPUs (/proc/stat), ms */
	stealMs: number
	/** the event loop's longest delay over the round, ms */
	eldMaxMs: number
}

/** steal time (the hypervisor ran something else on our vCPUs), all CPUs, ms; NaN where /proc/stat has none */
function stealMs(): number {
	try {
		const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/)
		return (Number(cpu[8]) * 1000) / 100 // USER_HZ is 100 on Linux
	} catch {
		return Number.NaN
	}
}

/** B: a v5 panel sends takes at 100/s through mosquitto; reply (after the tally confirmed) and state message timed. */
async function panelCommands(defer: Defer, count: number) {
	const dir = mkdtempSync(join(tmpdir(), 'sigpath-bench-'))
	defer('the journal directory', () => rmSync(dir, { recursive: true, force: true }))
	const broker = await startMosquitto({ sigpath: 'pw', panel1: 'pw1' }, PANEL_ACL)
	defer('mosquitto', () => broker.close())
	const router = await startRouterProcess({ inputs: 8, outputs: 8, routing: [0] })
	defer('the Videohub simulator', () => router.stop())
	const config = parseConfigText(`site: { id: bench }
devices:
  - { id: rtr, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${router.port} } }
  - { id: a-rx, role: receiver }
  - { id: b-rx, role: receiver }
events:
  - id: ev
    tier: grey
    feeds:
      - id: pgm
        output: { router: rtr, output: 1 }
        paths:
          - { id: a, method: fiber, via: [a-rx], input: { router: rtr, input: 1 } }
          - { id: b, method: satellite, via: [b-rx], input: { router: rtr, input: 2 } }
mqtt: { url: "${broker.url}", username: sigpath, password: pw }
journal: { dir: ${dir} }
`)
	const sources = [new FakeSource('a-rx'), new FakeSource('b-rx')]
	const daemon = new Daemon({ config, log: silentLogger, signalSources: sources })
	await startDaemon(defer, daemon, 10_000)
	for (const s of sources) s.report('up')
	// inside the daemon: a command's arrival to its reply being ready (its records durable, the take confirmed)
	const inside: number[] = []
	const command = daemon.command.bind(daemon)
	daemon.command = async (...a) => {
		const t0 = performance.now()
		const r = await command(...a)
		inside.push(performance.now() - t0)
		return r
	}
	const panel = await withTimeout(
		mqtt.connectAsync(broker.url, {
			username: 'panel1',
			password: 'pw1',
			protocolVersion: 5,
			reconnectPeriod: 0,
			connectTimeout: 10_000,
		}),
		15_000,
		'the panel connecting to mosquitto',
	)
	defer('the MQTT panel', () => panel.endAsync(true))
	// a panel that wants its answers fast turns Nagle off too (so does sigpath's own client)
	if (panel.stream instanceof Socket) panel.stream.setNoDelay(true)
	const replyTopic = 'sigpath/bench/replies/panel1/bench'
	const sent = new Map<string, number>()
	const replies: number[] = []
	const published: number[] = []
	let expectActive: string | null = null
	let sentAt = 0
	panel.on('message', (topic, msg, packet) => {
		const now = performance.now()
		if (topic === replyTopic) {
			const id = packet.properties?.correlationData?.toString() ?? ''
			const t = sent.get(id)
			if (t !== undefined) replies.push(now - t)
		} else if (topic.endsWith('/state')) {
			const st = JSON.parse(msg.toString()) as FeedState
			if (expectActive !== null && st.active === expectActive) {
				published.push(now - sentAt)
				expectActive = null
			}
		}
	})
	await withTimeout(
		panel.subscribeAsync([replyTopic, 'sigpath/bench/feeds/ev/pgm/state'], { qos: 1 }),
		10_000,
		'the panel subscribing',
	)
	await sleep(300)
	const interval = 10 // 100 commands per second
	const start = performance.now()
	for (let i = 0; i < count; i++) {
		const due = start + i * interval
		const wait = due - performance.now()
		if (wait > 0) await sleep(wait)
		const path = i % 2 === 0 ? 'b' : 'a'
		const id = String(i)
		sentAt = performance.now()
		sent.set(id, sentAt)
		expectActive = path
		await withTimeout(
			panel.publishAsync('sigpath/bench/panels/panel1/feeds/ev/pgm/set', JSON.stringify({ action: 'take', path }), {
				qos: 1,
				properties: { responseTopic: replyTopic, correlationData: Buffer.from(id) },
			}),
			10_000,
			`command ${i + 1} published`,
		)
	}
	await waitFor(() => replies.length >= count, 10_000, `every reply (${replies.length} of ${count} so far)`)
	const bare = await bareRoundTrip(defer, broker.url, count)
	return { reply: distribution(replies), state: distribution(published), inside: distribution(inside), bare }
}

/**
 * The peer's floor for B: a bare MQTT v5 round trip through the same mosquitto, at the same rate and QoS (a client
 * publishes, an echo client subscribed to it publishes the same payload back, the first receives it): the two hops
 * each way that any panel command and its reply take, with no controller in between.
 */
async function bareRoundTrip(defer: Defer, url: string, count: number) {
	const connect = (id: string) =>
		withTimeout(
			mqtt.connectAsync(url, {
				username: 'sigpath',
				password: 'pw',
				clientId: id,
				protocolVersion: 5,
				reconnectPeriod: 0,
				connectTimeout: 10_000,
			}),
			15_000,
			`the ${id} client connecting to mosquitto`,
		)
	const [a, echo] = await Promise.all([connect('bench-rtt'), connect('bench-echo')])
	defer('the round-trip clients', async () => {
		await a.endAsync(true)
		await echo.endAsync(true)
	})
	for (const c of [a, echo]) if (c.stream instanceof Socket) c.stream.setNoDelay(true)
	// an echo still waiting for its PUBACK when the clients end is no sample: its error is not the round trip's
	echo.on('message', (_t, msg) => echo.publish('sigpath/bench/rtt/out', msg, { qos: 1 }, () => undefined))
	await echo.subscribeAsync('sigpath/bench/rtt/in', { qos: 1 })
	const times: number[] = []
	const sent = new Map<string, number>()
	a.on('message', (_t, msg) => {
		const t = sent.get(msg.toString())
		if (t !== undefined) times.push(performance.now() - t)
	})
	await a.subscribeAsync('sigpath/bench/rtt/out', { qos: 1 })
	await sleep(200)
	const start = performance.now()
	for (let i = 0; i < count; i++) {
		const wait = start + i * 10 - performance.now()
		if (wait > 0) await sleep(wait)
		sent.set(String(i), performance.now())
		await withTimeout(a.publishAsync('sigpath/bench/rtt/in', String(i), { qos: 1 }), 10_000, `echo ${i + 1} published`)
	}
	await waitFor(() => times.length >= count, 10_000, `every echo (${times.length} of ${count} so far)`)
	return distribution(times)
}

/** C: 1,000 feeds configured on a SW-P-08 router: resident memory and event-loop delay while idle and reporting. */
async function scale(defer: Defer, feeds: number, seconds: number) {
	const dir = mkdtempSync(join(tmpdir(), 'sigpath-bench-'))
	defer('the journal directory', () => rmSync(dir, { recursive: true, force: true }))
	const router = new Swp08Sim({ inputs: feeds * 2, outputs: feeds })
	defer('the SW-P-08 simulator', () => router.stop())
	await router.start({ host: '127.0.0.1', port: 0 })
	const config = manyFeedsConfig({
		site: 'bench',
		feeds,
		router: `driver: { type: swp08, host: 127.0.0.1, port: ${router.port} }, size: { inputs: ${feeds * 2}, outputs: ${feeds} }`,
		primary: (i) => receiver('a', `a${i}`),
		backup: (i) => receiver('b', `b${i}`),
		journalDir: dir,
	})
	const sources = config.devices.filter((d) => d.role === 'receiver').map((d) => new FakeSource(d.id))
	const rssBefore = process.memoryUsage().rss
	const daemon = new Daemon({ config, log: silentLogger, signalSources: sources, firstSyncTimeoutMs: 20_000 })
	await startDaemon(defer, daemon, 30_000)
	for (const s of sources) s.report('up')
	const h = monitorEventLoopDelay({ resolution: 1 })
	h.enable()
	// every second, 1 % of the primaries flap (down, then up 500 ms later)
	for (let s = 0; s < seconds; s++) {
		for (let i = 0; i < feeds / 100; i++) sources[((s * 7 + i * 13) % feeds) * 2]!.report('down')
		await sleep(500)
		for (let i = 0; i < feeds / 100; i++) sources[((s * 7 + i * 13) % feeds) * 2]!.report('up')
		await sleep(500)
	}
	h.disable()
	const rss = process.memoryUsage().rss
	return {
		samples: h.count,
		rssMiB: rss / 2 ** 20,
		rssDeltaMiB: (rss - rssBefore) / 2 ** 20,
		eldP99: h.percentile(99) / 1e6,
		eldMax: h.max / 1e6,
	}
}

async function bench(b: Bench): Promise<void> {
	console.log('sigpath end-to-end benchmark (issue #7)')
	console.log(
		`command: node --import tsx test/bench/e2e.ts${quick ? ' --quick' : ''}   (BENCH_ROUNDS=${ROUNDS}, BENCH_COMMANDS=${COMMANDS}${process.env['BENCH_ONLY'] ? `, BENCH_ONLY=${process.env['BENCH_ONLY']}` : ''})`,
	)
	console.log(`machine: ${machine()}`)
	console.log('')
	// BENCH_ONLY=A100 (or A1, A16, B, C; comma-separated): only those parts, to profile one of them
	const only = process.env['BENCH_ONLY']?.split(',')
	const runs = (part: string) => only === undefined || only.includes(part)
	type RowA = [feeds: number, rounds: number, realSrt: boolean]
	const configsA = (
		quick
			? ([
					[1, ROUNDS, true],
					[16, 1, true],
				] satisfies RowA[])
			: ([
					[1, ROUNDS * 3, true],
					[16, ROUNDS, true],
					[100, ROUNDS, false],
				] satisfies RowA[])
	).filter(([n]) => runs(`A${n}`))
	const rowsA: (string | number)[][] = []
	const partsRows: (string | number)[][] = []
	const roundRows: (string | number)[][] = []
	for (const [n, rounds, real] of configsA) {
		const name = `${n} feed${n > 1 ? 's' : ''} at once ${real ? '(SRT cut)' : '(device reports)'}`
		const r = await b.scope((defer) => signalStop(defer, n, rounds, real))
		rowsA.push([name, r.n, fixed(r.p50, 1), fixed(r.p99, 1), fixed(r.max, 1), fixed(r.p99 - LOSS_MS, 1)])
		for (const [part, xs] of Object.entries(r.parts)) {
			if (xs.length === 0) continue // detect and deliver are the SRT receiver's: none on device reports
			const d = distribution(xs)
			partsRows.push([name, part, d.n, fixed(d.p50, 1), fixed(d.p99, 1), fixed(d.max, 1)])
		}
		if (real) {
			r.rounds.forEach((x, i) =>
				roundRows.push([name, i + 1, fixed(x.worst, 1), fixed(x.stealMs, 0), fixed(x.eldMaxMs, 1)]),
			)
		}
		b.sane(`A. ${name}: failovers timed`, r.n === n * rounds, `${r.n} of ${n * rounds}`)
		b.goal({
			what: `A. ${name} p99`,
			measured: r.p99,
			unit: 'ms',
			op: '<=',
			target: LOSS_MS + 10,
			enforce: 'full',
			digits: 1,
		})
	}
	if (configsA.length > 0) printA(rowsA, partsRows, roundRows)
	if (runs('B')) await partB(b)
	if (runs('C')) await partC(b)
}

function printA(rowsA: (string | number)[][], partsRows: (string | number)[][], roundRows: (string | number)[][]) {
	console.log(
		`A. signal stop -> backup confirmed on the router tally; lossMs ${LOSS_MS}. SRT cut: a real SRT sender's socket closed (silenceMs 50), measured from the receiver's timestamp of the stream's last packet; device reports: the primaries' devices report down, stamped at the cut (100 senders and receivers in one process need more than two cores)`,
	)
	console.log(table(['failing', 'samples', 'p50 ms', 'p99 ms', 'max ms', 'p99 - lossMs'], rowsA))
	console.log('')
	console.log(
		'A, where the time goes: detect = last packet -> native watchdog report (silenceMs 50); deliver = native report -> JS; decide = engine take sent - (last packet + lossMs); confirm = take sent -> tally read',
	)
	console.log(table(['failing', 'part', 'samples', 'p50 ms', 'p99 ms', 'max ms'], partsRows))
	console.log(
		"A, per round (real SRT rows): the slowest failover, the hypervisor steal time (/proc/stat, all CPUs) and the event loop's longest delay over the round",
	)
	console.log(table(['failing', 'round', 'slowest ms', 'steal ms', 'ELD max ms'], roundRows))
	console.log('')
}

async function partB(b: Bench): Promise<void> {
	const p = await b.scope((defer) => panelCommands(defer, COMMANDS))
	console.log(
		'B. panel take (MQTT v5 via mosquitto, 100 commands/s) -> router tally confirmed -> reply / state published',
	)
	const rowsB = [
		['publish -> reply (after the tally)', p.reply],
		['publish -> state message', p.state],
	] as const
	const whereB = [
		['inside the daemon: command -> reply ready (records durable, take confirmed)', p.inside],
		['bare mosquitto round trip (no controller), same rate and QoS', p.bare],
	] as const
	console.log(
		table(
			['measured', 'samples', 'p50 ms', 'p99 ms', 'max ms'],
			[...rowsB, ...whereB].map(([what, d]) => [what, d.n, fixed(d.p50), fixed(d.p99), fixed(d.max)]),
		),
	)
	console.log(
		'(inside the daemon, the reply waits for the journal to have the command on disk, write + fdatasync: docs/contract.md §8)',
	)
	b.sane('B. commands answered', p.reply.n === COMMANDS, `${p.reply.n} of ${COMMANDS}`)
	b.sane(
		'B. state messages seen',
		p.state.n > 0,
		`${p.state.n} for ${COMMANDS} takes (a state arriving after the next command is not counted)`,
	)
	for (const [what, d] of rowsB)
		b.goal({ what: `B. ${what} p99`, measured: d.p99, unit: 'ms', op: '<', target: 5, enforce: 'full' })
	console.log('')
}

async function partC(b: Bench): Promise<void> {
	const feedsC = quick ? 100 : 1000
	const secondsC = quick ? 2 : 10
	const c = await b.scope((defer) => scale(defer, feedsC, secondsC))
	console.log(
		`C. ${feedsC.toLocaleString('en')} feeds configured (SW-P-08 router, ${(feedsC * 2).toLocaleString('en')} inputs), 1 % of primaries flapping every second for ${secondsC} s; ELD: monitorEventLoopDelay over those ${secondsC} s`,
	)
	console.log(
		table(
			['RSS MiB', 'RSS added MiB', 'ELD p99 ms', 'ELD max ms'],
			[[c.rssMiB.toFixed(0), c.rssDeltaMiB.toFixed(0), fixed(c.eldP99), fixed(c.eldMax)]],
		),
	)
	b.sane(
		'C. event-loop delay measured',
		c.samples > 0 && c.rssMiB > 0,
		`${c.samples} ELD samples, RSS ${c.rssMiB.toFixed(0)} MiB`,
	)
}

main('e2e', bench)
