// The daemon on a journal that real filesystems refuse (docs/contract.md §8): a full tmpfs during a failover, a
// read-only directory at start, and a directory made read-only while it runs. In every case the failover is made
// and confirmed on the router's tally, the daemon stays up and healthy with journal-failed raised, a command is
// answered, and once the disk takes writes again the held records are written in order, the alarm clears, and
// `sigpath journal verify` passes. Mounting needs root: CI runs as root, and these tests say so rather than skip.
import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import { main } from '../../src/cli/main.ts'
import type { Alarm } from '../../src/control/payloads.ts'
import { Journal, readRecords, type JournalRecord } from '../../src/journal/index.ts'
import type { Daemon } from '../../src/runtime/daemon.ts'
import { labConfig, startLabDaemon, type LabDaemon } from '../support/daemon-lab.ts'
import { PANEL_ACL, startMosquitto, type Mosquitto } from '../support/mosquitto.ts'

let broker: Mosquitto
let sim: VideohubSim
let root: string
let daemon: Daemon | undefined
/** mount points to unmount after each test, innermost last */
const mounts: string[] = []
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => void unhandled.push(reason)

beforeAll(async () => {
	expect(process.getuid?.(), 'these tests mount tmpfs and read-only binds: run them as root (CI does)').toBe(0)
	broker = await startMosquitto({ sigpath: 'daemon-pw' }, PANEL_ACL)
})
afterAll(async () => broker?.close())
beforeEach(async () => {
	root = mkdtempSync(join(tmpdir(), 'sigpath-jfault-'))
	unhandled.length = 0
	process.on('unhandledRejection', onUnhandled)
	// output 1 (wire 0) on input 1 (wire 0): fiber, the primary, is on air
	sim = new VideohubSim({ inputs: 16, outputs: 16, routing: [0] })
	await sim.start({ host: '127.0.0.1', port: 0 })
})
afterEach(async () => {
	try {
		await daemon?.stop()
	} finally {
		daemon = undefined
		await sim.stop()
		for (const m of mounts.splice(0).reverse()) umount(m)
		process.off('unhandledRejection', onUnhandled)
		rmSync(root, { recursive: true, force: true })
	}
})

function mount(...args: string[]): void {
	execFileSync('mount', args, { stdio: 'pipe' })
}
function umount(dir: string): void {
	try {
		execFileSync('umount', [dir], { stdio: 'pipe' })
	} catch (err) {
		// a test that failed half way may not have mounted it yet; say so, a leftover mount would be worse
		process.stderr.write(`umount ${dir}: ${(err as Error).message}\n`)
	}
}
function tmpfs(dir: string, ...opts: string[]): void {
	mount('-t', 'tmpfs', '-o', ['size=256k', ...opts].join(','), 'tmpfs', dir)
	mounts.push(dir)
}

/** Writes FILE until the filesystem is full (ENOSPC): a real full disk. */
function fill(file: string): void {
	const fd = openSync(file, 'w')
	const chunk = Buffer.alloc(4096, 0x78)
	try {
		for (;;) writeSync(fd, chunk)
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
	} finally {
		closeSync(fd)
	}
}

async function startDaemon(journalDir: string, keyEnv?: string): Promise<LabDaemon> {
	const config = labConfig({
		routerPort: sim.port,
		failover: { lossMs: 200, clearMs: 300 },
		mqtt: { url: broker.url },
		journalDir,
		journal: `rotateBytes: 65536${keyEnv ? `, key: { env: ${keyEnv} }` : ''}`,
	})
	const r = await startLabDaemon({ config, readyTimeoutMs: 8000, created: (d) => void (daemon = d) })
	for (const s of Object.values(r.src)) s.report('up')
	// every path clean for clearMs: sat is a failover candidate
	await until(() => r.d.feedState('ev/pgm').paths['sat']?.state === 'healthy')
	return r
}

async function until(cond: () => boolean, timeoutMs = 8000): Promise<void> {
	const deadline = Date.now() + timeoutMs
	while (!cond()) {
		if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
		await new Promise((r) => setTimeout(r, 10))
	}
}

const journalAlarm = (alarms: Alarm[], severity: Alarm['severity']) =>
	alarms.find((a) => a.code === 'journal-failed' && a.severity === severity)

/** fiber fails: the daemon switches to sat, and the router's tally confirms it, whatever the journal does. */
async function failover(r: LabDaemon): Promise<void> {
	const takes = r.d.takes.length
	r.src['rx-fiber']!.report('down')
	await until(() => sim.routingTable()[0] === 4)
	await until(() => r.d.takes.length === takes + 1)
	expect(r.d.feedState('ev/pgm').active).toBe('sat') // from the router's own tally
}

/** While faulted: up, healthy (the watchdog is fed), and an operator's take answered ok and made. */
async function stillControlling(r: LabDaemon): Promise<void> {
	expect(r.d.healthy()).toBe(true)
	expect(r.d.journalHealth()).toMatchObject({ ok: false })
	const t0 = Date.now()
	expect(await r.d.command('ev/pgm', { action: 'take', path: 'srt' }, { name: 'tco-anna', via: 'test' })).toEqual({
		ok: true,
	})
	expect(Date.now() - t0).toBeLessThan(2000)
	expect(sim.routingTable()[0]).toBe(8)
}

/** After the disk is back: the alarm clears, every record is on disk in one valid chain, verify passes. */
async function recovered(r: LabDaemon, journalDir: string): Promise<JournalRecord[]> {
	await until(() => journalAlarm(r.alarms, 'cleared') !== undefined, 10_000)
	await until(() => r.d.journalHealth()?.ok === true && r.d.journalHealth()?.queued === 0)
	let out = ''
	const code = await main(['journal', 'verify', journalDir], { out: (t) => (out += t), err: (t) => (out += t) })
	expect(code, out).toBe(0)
	const recs = readRecords(journalDir)
	const seqs = recs.map((x) => x.seq)
	expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i))
	const alarm = recs.filter((x) => x.kind === 'alarm' && (x.payload as { alarm: string }).alarm === 'journal-failed')
	expect(alarm.map((x) => (x.payload as { active: boolean }).active)).toEqual([true, false])
	const take = recs.find((x) => x.kind === 'command' && (x.payload as { command: string }).command === 'take')
	expect(take?.payload).toMatchObject({ operator: 'tco-anna', result: 'accepted' })
	expect(unhandled).toEqual([])
	return recs
}

const decisions = (recs: JournalRecord[]) =>
	recs
		.filter((x) => x.kind === 'decision')
		.map((x) => x.payload as { from: string; to: string; cause: string })
		.map((p) => `${p.from}>${p.to}:${p.cause}`)

describe('the daemon on a journal the disk refuses', () => {
	it('a full filesystem during a failover: switched and confirmed, journal-failed, written in order once space is freed', async () => {
		const mnt = join(root, 'mnt')
		mkdirSync(mnt)
		tmpfs(mnt)
		const journalDir = join(mnt, 'journal')
		const r = await startDaemon(journalDir)
		fill(join(mnt, 'filler'))
		await failover(r)
		// the last page of the journal file may still take a few records: reports until the disk refuses one
		for (let i = 0; i < 400 && !journalAlarm(r.alarms, 'critical'); i++) {
			r.src['srt-rx']!.report('up')
			await new Promise((res) => setTimeout(res, 5))
		}
		const raised = journalAlarm(r.alarms, 'critical')
		expect(raised?.message).toMatch(/ENOSPC/)
		await stillControlling(r)
		rmSync(join(mnt, 'filler'))
		const recs = await recovered(r, journalDir)
		expect(decisions(recs)).toEqual(['fiber>sat:failover', 'sat>srt:take'])
		expect(
			recs.filter((x) => x.kind === 'take' && (x.payload as { result: string }).result === 'confirmed'),
		).toHaveLength(2)
	})

	it('a read-only directory at start: the daemon starts and controls, and writes once it is writable', async () => {
		const mnt = join(root, 'mnt')
		mkdirSync(mnt)
		tmpfs(mnt)
		const journalDir = join(mnt, 'journal')
		// a journal from an earlier run, which the chain must continue
		const before = Journal.open({ dir: journalDir })
		await before.append('shutdown', { reason: 'earlier run' })
		const head = before.head
		await before.close()
		mount('-o', 'remount,ro', mnt)
		const r = await startDaemon(journalDir)
		const raised = journalAlarm(r.alarms, 'critical')
		expect(raised?.message).toMatch(/EROFS/)
		await failover(r)
		await stillControlling(r)
		mount('-o', 'remount,rw', mnt)
		const recs = await recovered(r, journalDir)
		expect(recs[0]).toMatchObject({ seq: 1, hash: head.hash })
		expect(recs[1]).toMatchObject({ seq: 2, kind: 'boot', prev: head.hash })
		expect(decisions(recs)).toEqual(['fiber>sat:failover', 'sat>srt:take'])
	})

	it('a directory made read-only while it runs (a read-only bind over it): the same, from the next file on', async () => {
		const journalDir = join(root, 'journal')
		const r = await startDaemon(journalDir)
		mount('--bind', journalDir, journalDir)
		mounts.push(journalDir)
		mount('-o', 'remount,bind,ro', journalDir)
		// the open file still takes writes through the descriptor it was opened with; the next file (rotation at 64
		// KiB) must be created through the read-only path, and is refused
		for (let i = 0; i < 2000 && !journalAlarm(r.alarms, 'critical'); i++) {
			r.src['srt-rx']!.report('up')
			if (i % 20 === 0) await new Promise((res) => setTimeout(res, 1))
		}
		expect(journalAlarm(r.alarms, 'critical')?.message).toMatch(/EROFS/)
		await failover(r)
		await stillControlling(r)
		umount(mounts.pop()!)
		const recs = await recovered(r, journalDir)
		expect(decisions(recs)).toEqual(['fiber>sat:failover', 'sat>srt:take'])
	})

	it('a keyed chain (journal.key) across a fault: verify passes with the key, and only with it', async () => {
		const KEY = 'SIGPATH_TEST_DAEMON_JOURNAL_KEY'
		process.env[KEY] = 'a key for the daemon test'
		const mnt = join(root, 'mnt')
		mkdirSync(mnt)
		tmpfs(mnt)
		const journalDir = join(mnt, 'journal')
		const r = await startDaemon(journalDir, KEY)
		fill(join(mnt, 'filler'))
		await failover(r)
		for (let i = 0; i < 400 && !journalAlarm(r.alarms, 'critical'); i++) {
			r.src['srt-rx']!.report('up')
			await new Promise((res) => setTimeout(res, 5))
		}
		await stillControlling(r)
		rmSync(join(mnt, 'filler'))
		await until(() => journalAlarm(r.alarms, 'cleared') !== undefined, 10_000)
		await r.d.stop()
		const verify = async (...argv: string[]) =>
			main(['journal', 'verify', journalDir, ...argv], { out: () => {}, err: () => {} })
		expect(await verify('--key-env', KEY)).toBe(0)
		expect(await verify()).toBe(1)
		const head = r.d.journalHead()!
		expect(head.seq).toBeGreaterThan(10)
		expect(await verify('--key-env', KEY, '--head', `${head.seq}:${head.hash}`)).toBe(0)
	})
})
