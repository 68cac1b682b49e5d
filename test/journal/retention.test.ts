// Retention (journal.retainDays, src/journal/retention.ts) on an injected clock: the files whose records are all
// older than retainDays go, oldest first, after a durable `retention` record; `journal verify` accepts the journal
// that starts there, and still fails one whose oldest files were removed without such a record.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.ts'
import {
	applyRetention,
	listFiles,
	openJournal,
	readCheckpoint,
	readRecords,
	type JournalClock,
	type Restored,
} from '../../src/journal/index.ts'

const root = mkdtempSync(join(tmpdir(), 'sigpath-retention-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let n = 0
const DAY = 24 * 3600 * 1000
const T0 = Date.parse('2026-01-01T00:00:00.000Z')

/** A clock the test moves: the records' wall times. */
function clock(): JournalClock & { set: (ms: number) => void } {
	let now = T0
	return { wall: () => new Date(now), mono: () => now - T0, set: (ms) => (now = ms) }
}

async function verify(dir: string, ...argv: string[]): Promise<{ code: number; out: string }> {
	let out = ''
	const code = await main(['journal', 'verify', dir, ...argv], { out: (t) => (out += t), err: (t) => (out += t) })
	return { code, out }
}

/** One file a day for `days` days (rotation at 4 KiB, a file's worth of records a day), then the journal, open. */
async function daily(days: number, key?: Buffer): Promise<{ dir: string; r: Restored; c: ReturnType<typeof clock> }> {
	const dir = join(root, `j${n++}`)
	const c = clock()
	const r = openJournal({ dir, rotateBytes: 4096, clock: c, ...(key ? { key } : {}), checkpointEveryBytes: 1 << 30 })
	for (let d = 0; d < days; d++) {
		c.set(T0 + d * DAY)
		await Promise.all(
			Array.from({ length: 20 }, (_, i) =>
				r.journal.append('observation', { t: d * 100 + i, device: 'ird', state: 'up', pad: 'x'.repeat(200) }),
			),
		)
	}
	return { dir, r, c }
}

describe('journal.retainDays', () => {
	it('removes the files older than retainDays after a retention record; verify accepts the journal from there', async () => {
		const { dir, r, c } = await daily(120)
		// a head kept elsewhere long ago: its record is among those retention removes
		const old = readRecords(dir)[30]!
		const before = listFiles(dir)
		expect(before.length).toBeGreaterThan(100)
		const now = T0 + 125 * DAY
		c.set(now)
		const res = await applyRetention(r.journal, { retainDays: 90, now: new Date(now) })
		expect(res.problems).toEqual([])
		const after = listFiles(dir)
		// every record of a removed file is older than 90 days; the first file kept has one that is not
		expect(res.removed).toEqual(before.filter((f) => !after.includes(f)))
		expect(res.removed).toEqual(before.slice(0, res.removed.length))
		expect(res.removed.length).toBeGreaterThan(20)
		const recs = readRecords(dir)
		for (const f of res.removed) expect(f < after[0]!).toBe(true)
		expect(recs[0]!.seq).toBe(res.from)
		// the first file kept holds a record within the last 90 days (so it had to stay)
		const next = Number(/\d+/.exec(after[1]!)![0])
		const kept = recs.filter((x) => x.seq < next).map((x) => Date.parse(x.wall))
		expect(Math.max(...kept)).toBeGreaterThanOrEqual(now - 90 * DAY)
		const rec = recs.find((x) => x.kind === 'retention')
		expect(rec?.payload).toEqual({
			from: res.from,
			files: res.removed,
			before: new Date(now - 90 * DAY).toISOString(),
			retainDays: 90,
		})
		const v = await verify(dir)
		expect(v.out).toMatch(/: ok: /)
		expect(v.code).toBe(0)
		// a head older than the journal's start: what came after it is all there, which is what it can still show
		const h = await verify(dir, '--head', `${old.seq}:${old.hash}`)
		expect(h.out).toContain(
			`record ${old.seq} of the head was removed by retention (the journal starts at seq ${res.from})`,
		)
		expect(h.code).toBe(0)
		// and a head past the journal's end still catches a cut tail
		const last = recs.at(-1)!
		expect((await verify(dir, '--head', `${last.seq + 5}:${last.hash}`)).out).toContain('BAD: truncated')

		// a second run later removes more, and says so again; the journal still verifies from its new start
		c.set(now + 10 * DAY)
		const res2 = await applyRetention(r.journal, { retainDays: 90, now: new Date(now + 10 * DAY) })
		expect(res2.removed.length).toBeGreaterThan(5)
		expect(res2.from).toBeGreaterThan(res.from!)
		expect((await verify(dir)).code).toBe(0)
		await r.journal.close()
	})

	it('a journal whose oldest file was removed without a retention record fails verify, naming what is missing', async () => {
		const { dir, r } = await daily(10)
		await r.journal.close()
		expect((await verify(dir)).code).toBe(0)
		const second = listFiles(dir)[1]!
		rmSync(join(dir, listFiles(dir)[0]!))
		const first = Number(/\d+/.exec(second)![0])
		const v = await verify(dir)
		expect(v.code).toBe(1)
		expect(v.out).toContain(
			`BAD: first bad record: ${second} line 1 (seq ${first}): the journal starts at seq ${first}: records 1 to ${first - 1} are missing and no retention record says they were removed`,
		)
	})

	it('and one cut further back than its retention record says fails too', async () => {
		const { dir, r, c } = await daily(100)
		const now = T0 + 100 * DAY
		c.set(now)
		const res = await applyRetention(r.journal, { retainDays: 90, now: new Date(now) })
		await r.journal.close()
		expect((await verify(dir)).code).toBe(0)
		rmSync(join(dir, listFiles(dir)[0]!))
		const v = await verify(dir)
		expect(v.code).toBe(1)
		expect(v.out).toMatch(/the journal starts at seq \d+: records 1 to \d+ are missing/)
		expect(res.from).toBeLessThan(readRecords(dir)[0]!.seq)
	})

	it("keeps the last file and the checkpoint's file, whatever their age", async () => {
		const { dir, r, c } = await daily(30)
		await r.journal.close()
		await r.checkpointer.close()
		const cp = readCheckpoint(dir)
		expect(cp.ok && cp.checkpoint.file).toBe(listFiles(dir).at(-1))
		const again = openJournal({ dir, rotateBytes: 4096, clock: c })
		const now = T0 + 1000 * DAY
		const res = await applyRetention(again.journal, { retainDays: 90, now: new Date(now) })
		// the retention record itself may start a new file
		expect(listFiles(dir)[0]).toBe(cp.ok ? cp.checkpoint.file : '')
		expect(listFiles(dir).length).toBeLessThanOrEqual(2)
		expect(res.removed.length).toBeGreaterThan(10)
		expect((await verify(dir)).code).toBe(0)
		await again.journal.close()
	})

	it('keyed: the retention record is on the keyed chain; verify with the key accepts the start', async () => {
		const key = Buffer.from('retention key')
		process.env['SIGPATH_TEST_RETENTION_KEY'] = 'retention key'
		const { dir, r } = await daily(100, key)
		const res = await applyRetention(r.journal, { retainDays: 90, now: new Date(T0 + 100 * DAY), key })
		expect(res.removed.length).toBeGreaterThan(0)
		await r.journal.close()
		expect((await verify(dir, '--key-env', 'SIGPATH_TEST_RETENTION_KEY')).code).toBe(0)
		delete process.env['SIGPATH_TEST_RETENTION_KEY']
	})

	it('removes nothing when the retention record cannot be written (the journal closed)', async () => {
		const { dir, r } = await daily(100)
		await r.journal.close()
		const files = listFiles(dir)
		const res = await applyRetention(r.journal, { retainDays: 90, now: new Date(T0 + 100 * DAY) })
		expect(res.removed).toEqual([])
		expect(res.problems.join()).toMatch(
			/the retention record was not written \(the journal is closed\): nothing removed/,
		)
		expect(listFiles(dir)).toEqual(files)
		expect(readFileSync(join(dir, files[0]!), 'utf8').length).toBeGreaterThan(0)
	})

	it('nothing older than retainDays: nothing removed, no record', async () => {
		const { dir, r } = await daily(20)
		const res = await applyRetention(r.journal, { retainDays: 90, now: new Date(T0 + 30 * DAY) })
		expect(res).toEqual({ removed: [], problems: [] })
		expect(readRecords(dir).some((x) => x.kind === 'retention')).toBe(false)
		await r.journal.close()
	})
})
