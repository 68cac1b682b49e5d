// A host that stands still is not a silence (native stall.h). Measured on the VM these tests run on, the hypervisor
// stops every vCPU for up to ~50 ms now and then: sender and receiver stop together, and when they go on, the receiver's
// clock has moved past silenceMs with no packet, although nothing went silent while anything could watch. Here a
// whole host's stop is made exactly: SIGSTOP to the venue (a UDP feeder and srt-live-transmit) and to the receiver's
// process at once, SIGCONT 200 ms later (the venue 5 ms after the receiver: hostStop). The feeder drops the stopped time (as a live encoder on a
// frozen host would) instead of catching up. Two controls prove the receiver is not made blind:
//   - the venue alone stops for 200 ms while the receiver's host runs: a real silence, reported down then up;
//   - the receiver alone stops for 200 ms while the venue runs: its packets wait in the socket buffer, no down.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { freeUdpPort, killPeers, requireBinary, sleep, startPeer, waitFor, type Peer } from './helpers.ts'

let SLT = ''
const RT = spawnSync('chrt', ['-f', '2', 'true']).status === 0
const rt = (bin: string, args: string[]): [string, string[]] => (RT ? ['chrt', ['-f', '2', bin, ...args]] : [bin, args])
const CHILD = new URL('./receiver-child.ts', import.meta.url).pathname

beforeAll(() => {
	SLT = requireBinary('srt-live-transmit', 'srt-tools')
})

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
	for (const c of cleanups.splice(0).reverse()) await c()
	await killPeers()
})

interface Report {
	signal: string
	at: number
	cause: string
}

/** The receiver in its own process; its reports as they come. */
async function receiver(streamId: string): Promise<{ child: ChildProcess; port: number; reports: Report[] }> {
	const child = spawn(process.execPath, ['--import', 'tsx', CHILD, streamId, '50'], { stdio: ['pipe', 'pipe', 'pipe'] })
	cleanups.push(async () => {
		if (child.exitCode !== null || child.signalCode !== null) return
		child.kill('SIGCONT')
		const exited = new Promise((r) => child.once('exit', r))
		child.stdin?.end()
		await Promise.race([exited, sleep(3000)])
		if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
	})
	const reports: Report[] = []
	let port = 0
	let buf = ''
	let err = ''
	child.stderr?.on('data', (d: Buffer) => (err += d.toString()))
	child.stdout?.on('data', (d: Buffer) => {
		buf += d.toString()
		for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
			const line = JSON.parse(buf.slice(0, i)) as Report & { port?: number }
			buf = buf.slice(i + 1)
			if (line.port !== undefined) port = line.port
			else reports.push(line)
		}
	})
	await waitFor(
		'the receiver process bound',
		() => port > 0,
		20_000,
		10,
		() => err.slice(-300),
	)
	return { child, port, reports }
}

/** A live source at `mbps` into a UDP port: on time or not at all (a stopped process's time is dropped, not caught up). */
function feeder(port: number, mbps: number): ChildProcess {
	const src = `
const s = require('node:dgram').createSocket('udp4')
const every = ${(1316 * 8) / (mbps * 1e6)} * 1e3
const d = Buffer.alloc(1316, 0xff); for (let o = 0; o < 1316; o += 188) { d[o] = 0x47; d[o + 1] = 0x1f; d[o + 2] = 0xff; d[o + 3] = 0x10 }
let next = performance.now()
setInterval(() => {
	const now = performance.now()
	if (now - next > 20) next = now
	while (next <= now) { s.send(d, ${port}, '127.0.0.1'); next += every }
}, 1)`
	const [cmd, args] = rt(process.execPath, ['-e', src])
	const child = spawn(cmd, args, { stdio: 'ignore' })
	cleanups.push(() => {
		if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
	})
	return child
}

async function venue(rxPort: number, streamId: string): Promise<{ feed: ChildProcess; slt: Peer }> {
	const udp = await freeUdpPort()
	const feed = feeder(udp, 2)
	const [cmd, args] = rt(SLT, [
		'-q',
		`udp://127.0.0.1:${udp}`,
		`srt://127.0.0.1:${rxPort}?mode=caller&latency=120&streamid=${streamId}`,
	])
	return { feed, slt: startPeer(cmd, args) }
}

const pidOf = (c: ChildProcess): number => {
	if (c.pid === undefined) throw new Error('a process without a pid')
	return c.pid
}

/**
 * Runs a sequence of signals from one shell at SCHED_FIFO 99 where allowed: sent from this (busy, ordinary) test
 * process, two kill() calls can be tens of milliseconds apart on a loaded machine, and the stop would not be one.
 */
function signals(script: string): Promise<void> {
	const [cmd, args] = RT ? ['chrt', ['-f', '99', 'sh', '-c', script]] : ['sh', ['-c', script]]
	return new Promise((resolve, reject) => {
		const p = spawn(cmd, args, { stdio: 'ignore' })
		p.once('error', reject)
		p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${script}: exit ${code}`))))
	})
}

/** Stops the processes for `ms` and continues them. */
function standStill(pids: number[], ms: number): Promise<void> {
	return signals(`kill -STOP ${pids.join(' ')}; sleep ${ms / 1000}; kill -CONT ${pids.join(' ')}`)
}

/**
 * The whole host stops for `ms`: venue and receiver. When a host goes on, the receiver's threads run again at once,
 * while the venue needs a few milliseconds to send its next packet (here: continued 5 ms later), so the receiver's
 * first look after the stop finds no new packet.
 */
function hostStop(receiverPid: number, venuePids: number[], ms: number): Promise<void> {
	const venue = venuePids.join(' ')
	return signals(
		`kill -STOP ${venue} ${receiverPid}; sleep ${ms / 1000}; kill -CONT ${receiverPid}; sleep 0.005; kill -CONT ${venue}`,
	)
}

describe('a host that stands still is not a silence', () => {
	it('the whole host stops for 200 ms, five times: no down; the venue alone stops: down, then up', async () => {
		const rx = await receiver('cam')
		const v = await venue(rx.port, 'cam')
		await waitFor('the stream up', () => rx.reports.some((r) => r.signal === 'up'), 10_000)
		await sleep(500)
		const context = () => JSON.stringify(rx.reports)
		for (let i = 0; i < 5; i++) {
			await hostStop(pidOf(rx.child), [pidOf(v.feed), pidOf(v.slt.child)], 200)
			await sleep(600)
			expect(
				rx.reports.map((r) => r.signal),
				`host stop ${i + 1}: ${context()}`,
			).toEqual(['up'])
		}
		// the control: the venue stops while this host runs. That silence is real.
		await standStill([pidOf(v.feed), pidOf(v.slt.child)], 200)
		await waitFor('down, then up again', () => rx.reports.length >= 3, 5000, 10, context)
		expect(rx.reports.map((r) => r.signal)).toEqual(['up', 'down', 'up'])
		expect(rx.reports[1]!.cause).toBe('silence')
	}, 60_000)

	it('the receiver alone stops for 200 ms while the venue sends: its packets wait in the socket buffer, no down', async () => {
		const rx = await receiver('cam2')
		const v = await venue(rx.port, 'cam2')
		await waitFor('the stream up', () => rx.reports.some((r) => r.signal === 'up'), 10_000)
		await sleep(500)
		for (let i = 0; i < 3; i++) {
			await standStill([pidOf(rx.child)], 200)
			await sleep(600)
		}
		expect(
			rx.reports.map((r) => r.signal),
			JSON.stringify(rx.reports),
		).toEqual(['up'])
		expect(v.slt.child.exitCode).toBeNull()
	}, 60_000)
})
