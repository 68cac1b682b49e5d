// The checkpoint (src/journal/checkpoint.ts, restore.ts): a start restores each feed's mode, lock and active path from
// the checkpoint and the records after it, the same state a full scan gives, reading only those records; a missing,
// corrupt, forged or stale checkpoint is not trusted: the whole journal is scanned instead, with a warning.
import { appendFileSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
	CHECKPOINT_FILE,
	listFiles,
	openJournal,
	readCheckpoint,
	readRecords,
	recoverFeeds,
	sha256,
	type FeedState,
	type Restored,
} from '../../src/journal/index.ts'

const root = mkdtempSync(join(tmpdir(), 'sigpath-checkpoint-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let n = 0
const fresh = () => join(root, `j${n++}`)

const start = (feed: string, active: string) => ({
	kind: 'start',
	payload: { t: 0, feed, active, mode: 'auto', locked: false },
})
const command = (feed: string, c: string, path?: string) => ({
	kind: 'command',
	payload: { t: 1, feed, command: c, ...(path ? { path } : {}), operator: 'tco', result: 'accepted' },
})
const decision = (feed: string, from: string, to: string, cause = 'failover') => ({
	kind: 'decision',
	payload: { t: 2, feed, from, to, cause },
})
/** a path report: most of a journal, and nothing a restore needs */
const noise = (i: number) => ({
	kind: 'observation',
	payload: { t: i, path: 'ev/pgm/fiber', signal: i % 2 ? 'up' : 'down', pad: 'x'.repeat(200) },
})

async function append(r: Restored, entries: { kind: string; payload: unknown }[]): Promise<void> {
	await Promise.all(entries.map((e) => r.journal.append(e.kind, e.payload)))
}

/** closes as a clean stop does: the journal, then the last checkpoint */
async function stop(r: Restored): Promise<void> {
	await r.journal.close()
	await r.checkpointer.close()
}

const strip = (m: ReadonlyMap<string, FeedState>) =>
	Object.fromEntries([...m].map(([k, v]) => [k, { active: v.active, mode: v.mode, locked: v.locked }]))

/** what a full scan of the whole journal gives: the reference for every restore */
const fullScan = (dir: string, key?: Buffer) => strip(recoverFeeds(readRecords(dir, key)))

/** A journal of several files: feeds started, commanded and switched, in between a lot of path reports. */
async function history(dir: string, o: { key?: Buffer; everyBytes?: number } = {}): Promise<void> {
	const r = openJournal({
		dir,
		rotateBytes: 64 * 1024,
		...(o.key ? { key: o.key } : {}),
		checkpointEveryBytes: o.everyBytes ?? 1 << 30,
	})
	await append(r, [start('ev/pgm', 'fiber'), start('ev/iso', 'sat'), start('ev/b', 'fiber')])
	for (let i = 0; i < 600; i++) await append(r, [noise(i)])
	await append(r, [command('ev/pgm', 'lock'), decision('ev/iso', 'sat', 'srt', 'take'), command('ev/b', 'manual')])
	await stop(r)
}

describe('the checkpoint', () => {
	it('a clean stop writes it; the next start reads it and only the records after it, and restores the same state', async () => {
		const dir = fresh()
		await history(dir)
		expect(listFiles(dir).length).toBeGreaterThan(2)
		const cp = readCheckpoint(dir)
		expect(cp.ok).toBe(true)
		const expected = {
			'ev/pgm': { active: 'fiber', mode: 'auto', locked: true },
			'ev/iso': { active: 'srt', mode: 'manual', locked: false },
			'ev/b': { active: 'fiber', mode: 'manual', locked: false },
		}
		expect(fullScan(dir)).toEqual(expected)

		const r = openJournal({ dir, rotateBytes: 64 * 1024 })
		expect(r.from).toBe('checkpoint')
		expect(r.warnings).toEqual([])
		// the checkpoint's own record only: nothing after it
		expect(r.records).toBe(1)
		expect(r.bytes).toBe(0)
		expect(strip(r.feeds)).toEqual(expected)
		// the chain goes on from the checkpoint's record
		const a = await r.journal.append('command', command('ev/pgm', 'unlock').payload)
		expect(a.seq).toBe(cp.ok ? cp.checkpoint.seq + 1 : -1)
		await stop(r)
	})

	it('records written after it (a crash: no checkpoint at the stop) are folded on top of it', async () => {
		const dir = fresh()
		await history(dir)
		const r = openJournal({ dir, rotateBytes: 64 * 1024, checkpointEveryBytes: 1 << 30 })
		// past a rotation, so that the records after the checkpoint are in more than one file
		for (let i = 0; i < 400; i++) await append(r, [noise(i)])
		await append(r, [command('ev/pgm', 'unlock'), decision('ev/pgm', 'fiber', 'sat'), command('ev/iso', 'auto')])
		await append(r, [{ kind: 'observation', payload: { t: 9, feed: 'ev/b', external: 'srt' } }])
		await append(r, [
			{ kind: 'tally', payload: { t: 10, router: 'rtr', output: 2, input: 9, feed: 'ev/iso', path: 'srt' } },
		])
		const files = listFiles(dir).length
		// no checkpoint: the journal closes, the checkpointer does not get to write (as if killed)
		await r.journal.close()
		expect(listFiles(dir).length).toBe(files)

		const again = openJournal({ dir, rotateBytes: 64 * 1024 })
		expect(again.from).toBe('checkpoint')
		expect(again.records).toBe(1 + 405)
		const expected = {
			'ev/pgm': { active: 'sat', mode: 'auto', locked: false },
			'ev/iso': { active: 'srt', mode: 'auto', locked: false },
			'ev/b': { active: 'srt', mode: 'manual', locked: false },
		}
		expect(strip(again.feeds)).toEqual(expected)
		expect(fullScan(dir)).toEqual(expected)
		await stop(again)
	})

	it('is written as records are made durable (every N bytes), so the records a start reads stay few', async () => {
		const dir = fresh()
		await history(dir, { everyBytes: 16 * 1024 })
		const size = listFiles(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0)
		const r = openJournal({ dir, rotateBytes: 64 * 1024, checkpointEveryBytes: 16 * 1024 })
		for (let i = 0; i < 300; i++) await append(r, [noise(i)])
		expect(r.checkpointer.stats.written).toBeGreaterThan(2)
		await append(r, [command('ev/iso', 'lock')])
		await r.journal.close() // a crash: no checkpoint at the stop
		const again = openJournal({ dir, rotateBytes: 64 * 1024 })
		expect(again.from).toBe('checkpoint')
		// what it read: at most the bytes between two checkpoints, and one batch
		expect(again.bytes).toBeLessThan(20 * 1024)
		expect(again.bytes).toBeLessThan(size / 4)
		expect(strip(again.feeds)['ev/iso']).toEqual({ active: 'srt', mode: 'manual', locked: true })
		expect(strip(again.feeds)).toEqual(fullScan(dir))
		await stop(again)
	})

	it('a torn tail after it is cut as before', async () => {
		const dir = fresh()
		await history(dir)
		const last = join(dir, listFiles(dir).at(-1)!)
		const size = statSync(last).size
		appendFileSync(last, '{"seq":99999,"wall":"2026-11-21T00:00:00.000Z","mono":1,"kind":"obs')
		const r = openJournal({ dir, rotateBytes: 64 * 1024 })
		expect(r.from).toBe('checkpoint')
		expect(r.journal.report.torn).toMatchObject({ offset: size })
		expect(statSync(last).size).toBe(size)
		expect(strip(r.feeds)).toEqual(fullScan(dir))
		await stop(r)
	})

	describe('is not trusted, and the whole journal is scanned instead, with a warning', () => {
		const cases: [string, (dir: string) => void, RegExp][] = [
			[
				'missing',
				(dir) => rmSync(join(dir, CHECKPOINT_FILE)),
				/^journal: no checkpoint; mode and lock restored from a full scan of the journal \(\d+ records, [\d.]+ MiB\)$/,
			],
			[
				'corrupt (a byte changed)',
				(dir) => {
					const f = join(dir, CHECKPOINT_FILE)
					writeFileSync(f, readFileSync(f, 'utf8').replace('"locked":true', '"locked":fals'))
				},
				/the checkpoint checkpoint\.json is not used: its mac does not match \(altered\)/,
			],
			['torn (cut short)', (dir) => truncateSync(join(dir, CHECKPOINT_FILE), 40), /is not used: no mac at its end/],
			[
				'stale: the journal was cut back before its record',
				(dir) => {
					const last = join(dir, listFiles(dir).at(-1)!)
					truncateSync(last, statSync(last).size - 1)
				},
				/is not used: journal-\d+\.jsonl has no whole line ending at byte \d+/,
			],
			[
				'naming a file no longer there',
				(dir) => {
					for (const f of listFiles(dir).slice(1)) rmSync(join(dir, f))
				},
				/is not used: its file journal-\d+\.jsonl is no longer in the journal/,
			],
		]
		for (const [what, spoil, warning] of cases)
			it(what, async () => {
				const dir = fresh()
				await history(dir)
				spoil(dir)
				const r = openJournal({ dir, rotateBytes: 64 * 1024 })
				expect(r.from).toBe('scan')
				expect(r.warnings).toHaveLength(1)
				expect(r.warnings[0]).toMatch(warning)
				expect(strip(r.feeds)).toEqual(fullScan(dir))
				// a new checkpoint is written at once, so the next start does not scan again
				await r.checkpointer.close()
				const next = openJournal({ dir, rotateBytes: 64 * 1024 })
				expect(next.from).toBe('checkpoint')
				expect(strip(next.feeds)).toEqual(fullScan(dir))
				await r.journal.close()
				await stop(next)
			})
	})

	it('keyed: a checkpoint re-made without the key (edited feeds, a sha256 mac) is refused', async () => {
		const key = Buffer.from('the journal key')
		const dir = fresh()
		await history(dir, { key })
		const f = join(dir, CHECKPOINT_FILE)
		const text = readFileSync(f, 'utf8').trimEnd()
		const body = `${text.slice(0, text.lastIndexOf(',"mac":'))}}`.replace('"locked":true', '"locked":false')
		writeFileSync(f, `${body.slice(0, -1)},"mac":"${sha256(body)}"}\n`)
		const r = openJournal({ dir, rotateBytes: 64 * 1024, key })
		expect(r.from).toBe('scan')
		expect(r.warnings[0]).toMatch(/its mac does not match \(altered, or another key\)/)
		expect(strip(r.feeds)['ev/pgm']).toEqual({ active: 'fiber', mode: 'auto', locked: true })
		await stop(r)
	})

	it('an empty directory: nothing to restore, no warning', async () => {
		const r = openJournal({ dir: fresh() })
		expect(r.from).toBe('empty')
		expect(r.warnings).toEqual([])
		expect(r.feeds.size).toBe(0)
		await stop(r)
	})
})
