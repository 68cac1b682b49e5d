// The checkpoint: what a start restores (each feed's active path, mode and lock, as recoverFeeds folds them) and the
// record of the chain that state includes, so that a start reads the checkpoint and the records after it instead of
// the whole journal (docs/contract.md §8: under 2 s with 1 GiB of journal).
//
// `checkpoint.json` in the journal directory (scans see only journal-*.jsonl files), one JSON object:
//   {"v":1,"seq":N,"hash":"<64 hex>","file":"journal-....jsonl","offset":B,"line":L,"wall":"ISO","feeds":{...},"mac":"<64 hex>"}
// - `feeds` is the fold of every record up to and including record `seq`, whose hash is `hash`; that record is line
//   `line` of `file` and its newline is the byte before `offset`;
// - `mac` is SHA-256 of the JSON without `mac` (HMAC-SHA256 with journal.key on a keyed chain): a torn or altered
//   checkpoint does not check, and without the key nobody can make one a keyed daemon accepts.
// It is written atomically (a temporary file, fsync, rename, fsync of the directory), off the event loop: after
// every `everyBytes` of records made durable (1 MiB), at least every `everyMs` while records are written (10 min),
// after a start that had to scan, and at a clean stop. A failed write changes nothing: the previous checkpoint still
// holds, only further back.
//
// A start uses it only if it checks and the journal still holds its record, at that place, with that hash (read back
// and checked like any record, with the key): otherwise the whole journal is scanned, with a warning (restore.ts).
import { closeSync, openSync, readFileSync, readSync } from 'node:fs'
import { open, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { monotonicMs } from '../clock.ts'
import type { Journal } from './journal.ts'
import type { JournalDurable } from './journal-types.ts'
import { chainHash, parseLine } from './record.ts'
import { foldFeed, type FeedState } from './recover.ts'
import { listFiles, type ScanFrom, type ScanResult } from './scan.ts'

export const CHECKPOINT_FILE = 'checkpoint.json'

export interface Checkpoint {
	v: 1
	seq: number
	hash: string
	file: string
	offset: number
	line: number
	/** when it was made */
	wall: string
	feeds: Record<string, FeedState>
}

export type CheckpointRead =
	{ ok: true; checkpoint: Checkpoint; from: ScanFrom } | { ok: false; missing: boolean; why: string }

const MAC_TAIL = /,"mac":"([0-9a-f]{64})"\}$/

/** The checkpoint's text: its JSON with the `mac` of everything before it. */
export function encodeCheckpoint(cp: Checkpoint, key?: Buffer): string {
	const body = JSON.stringify(cp)
	return `${body.slice(0, -1)},"mac":"${chainHash(body, key)}"}\n`
}

/** The checkpoint of DIR, checked (its mac, and its record against the journal), or why it cannot be used. */
export function readCheckpoint(dir: string, key?: Buffer): CheckpointRead {
	let text: string
	try {
		text = readFileSync(join(dir, CHECKPOINT_FILE), 'utf8').trimEnd()
	} catch (err) {
		const missing = (err as NodeJS.ErrnoException).code === 'ENOENT'
		return { ok: false, missing, why: missing ? 'no checkpoint' : `unreadable: ${(err as Error).message}` }
	}
	const bad = (why: string): CheckpointRead => ({ ok: false, missing: false, why })
	const m = MAC_TAIL.exec(text)
	if (!m) return bad('no mac at its end (torn, or not a checkpoint)')
	const body = `${text.slice(0, m.index)}}`
	if (chainHash(body, key) !== m[1])
		return bad(key ? 'its mac does not match (altered, or another key)' : 'its mac does not match (altered)')
	let cp: Checkpoint
	try {
		cp = JSON.parse(body) as Checkpoint
	} catch (err) {
		return bad(`bad JSON: ${(err as Error).message}`)
	}
	const why = checkShape(cp)
	if (why) return bad(why)
	if (!listFiles(dir).includes(cp.file)) return bad(`its file ${cp.file} is no longer in the journal`)
	const line = lineEndingAt(join(dir, cp.file), cp.offset)
	if (line === null)
		return bad(`${cp.file} has no whole line ending at byte ${cp.offset} (the file was cut or changed)`)
	const record = parseLine(line, key)
	if (typeof record === 'string') return bad(`its record, ${cp.file} line ${cp.line}, does not read: ${record}`)
	if (record.seq !== cp.seq || record.hash !== cp.hash)
		return bad(
			`${cp.file} line ${cp.line} holds seq ${record.seq} with hash ${record.hash}, not its seq ${cp.seq} with hash ${cp.hash}`,
		)
	return { ok: true, checkpoint: cp, from: { file: cp.file, offset: cp.offset, line: cp.line, record } }
}

function checkShape(cp: Checkpoint): string | undefined {
	if (typeof cp !== 'object' || cp === null || cp.v !== 1) return 'not a version 1 checkpoint'
	if (!Number.isSafeInteger(cp.seq) || cp.seq < 1) return 'seq is not a positive integer'
	if (typeof cp.hash !== 'string' || !/^[0-9a-f]{64}$/.test(cp.hash)) return 'hash is not 64 hex digits'
	if (typeof cp.file !== 'string') return 'file is not a string'
	if (!Number.isSafeInteger(cp.offset) || cp.offset < 1) return 'offset is not a positive integer'
	if (!Number.isSafeInteger(cp.line) || cp.line < 1) return 'line is not a positive integer'
	if (typeof cp.feeds !== 'object' || cp.feeds === null) return 'no feeds'
	for (const [k, f] of Object.entries(cp.feeds))
		if (
			typeof f !== 'object' ||
			f === null ||
			!(f.active === null || typeof f.active === 'string') ||
			(f.mode !== 'auto' && f.mode !== 'manual') ||
			typeof f.locked !== 'boolean' ||
			!Number.isSafeInteger(f.seq)
		)
			return `feed ${k} is not { active, mode, locked, seq }`
	return undefined
}

/** The line of PATH whose newline is the byte before `offset` (without it), or null. Reads back from there only. */
export function lineEndingAt(path: string, offset: number): string | null {
	let fd: number
	try {
		fd = openSync(path, 'r')
	} catch {
		return null
	}
	try {
		const chunk = 64 * 1024
		const parts: Buffer[] = []
		let pos = offset - 1
		// the newline itself
		const nl = Buffer.alloc(1)
		if (pos < 0 || readSync(fd, nl, 0, 1, pos) !== 1 || nl[0] !== 10) return null
		while (pos > 0) {
			const from = Math.max(0, pos - chunk)
			const buf = Buffer.alloc(pos - from)
			if (readSync(fd, buf, 0, buf.length, from) !== buf.length) return null
			const i = buf.lastIndexOf(10)
			if (i >= 0) {
				parts.unshift(buf.subarray(i + 1))
				break
			}
			parts.unshift(buf)
			pos = from
		}
		return Buffer.concat(parts).toString('utf8')
	} finally {
		closeSync(fd)
	}
}

/** Writes the checkpoint atomically: a temporary file, fsynced, renamed over the old one, the directory fsynced. */
export async function writeCheckpoint(dir: string, cp: Checkpoint, key?: Buffer): Promise<void> {
	const tmp = join(dir, `${CHECKPOINT_FILE}.tmp`)
	const f = await open(tmp, 'w')
	try {
		await f.writeFile(encodeCheckpoint(cp, key))
		await f.sync()
	} finally {
		await f.close()
	}
	await rename(tmp, join(dir, CHECKPOINT_FILE))
	const d = await open(dir, 'r')
	try {
		await d.sync()
	} finally {
		await d.close()
	}
}

export interface CheckpointerOptions {
	dir: string
	key?: Buffer
	/** the state the journal's records folded into at open (the checkpoint's and the records after it): kept up to date */
	feeds: Map<string, FeedState>
	/** what open read: where the journal ends, and where its last record is */
	report: ScanResult
	/** the seq of the checkpoint open restored from: not written again until there is more */
	written?: number
	/** a checkpoint once this many bytes of records have been made durable since the last one (default 1 MiB) */
	everyBytes?: number
	/** and at least this often while records are written (default 10 min) */
	everyMs?: number
	wall?: () => Date
	/** a checkpoint could not be written (the previous one still holds) */
	onError?: (err: Error) => void
}

/**
 * Keeps the checkpoint of an open journal: folds every durable batch into the restore state and writes the
 * checkpoint as it goes. Never throws into the journal: a failure goes to `onError`.
 */
export class Checkpointer {
	/** the last durable record and where it is: what the next checkpoint is taken at */
	private pos: { seq: number; hash: string; file: string; offset: number; line: number } | null = null
	/** the end of the journal's current file: its name, its size and its lines (to number the next records) */
	private end: { file: string; offset: number; line: number } | null
	private sinceBytes = 0
	private lastMono = monotonicMs()
	private writtenSeq = 0
	private writing: Promise<void> | null = null
	private again = false
	private readonly everyBytes: number
	private readonly everyMs: number
	/** checkpoints written, and failed */
	readonly stats = { written: 0, failed: 0 }

	constructor(
		journal: Journal,
		private readonly o: CheckpointerOptions,
	) {
		this.everyBytes = o.everyBytes ?? 1024 * 1024
		this.everyMs = o.everyMs ?? 10 * 60_000
		this.writtenSeq = o.written ?? 0
		const r = o.report
		this.end = r.end
		// the last record is a position only if it is where the journal goes on (the end of the last file)
		if (r.last && r.lastAt && r.end && r.lastAt.file === r.end.file && r.lastAt.end === r.end.offset)
			this.pos = { seq: r.last.seq, hash: r.last.hash, file: r.end.file, offset: r.end.offset, line: r.end.line }
		journal.on('durable', (b) => this.durable(b))
	}

	/** The restore state now (the fold of every durable record). */
	get feeds(): ReadonlyMap<string, FeedState> {
		return this.o.feeds
	}

	/** Writes a checkpoint at the last durable record, unless one is being written (then once that one is done). */
	save(): void {
		if (this.pos === null || this.pos.seq === this.writtenSeq) return
		if (this.writing) {
			this.again = true
			return
		}
		const cp: Checkpoint = {
			v: 1,
			...this.pos,
			wall: (this.o.wall ?? (() => new Date()))().toISOString(),
			feeds: Object.fromEntries(this.o.feeds),
		}
		this.sinceBytes = 0
		this.lastMono = monotonicMs()
		this.writing = writeCheckpoint(this.o.dir, cp, this.o.key).then(
			() => {
				this.stats.written++
				this.writtenSeq = cp.seq
			},
			(err: unknown) => {
				this.stats.failed++
				this.o.onError?.(err as Error)
			},
		)
		void this.writing.finally(() => {
			this.writing = null
			if (this.again) {
				this.again = false
				this.save()
			}
		})
	}

	/** The last checkpoint: written at the last durable record, waited for at most `timeoutMs` (a stop). */
	async close(timeoutMs = 5000): Promise<void> {
		let timer: NodeJS.Timeout | undefined
		const done = (async () => {
			await this.idle()
			this.save()
			await this.idle()
		})()
		await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))])
		clearTimeout(timer)
	}

	/** Resolves once no checkpoint is being written (one queued behind it included). */
	private async idle(): Promise<void> {
		for (let w = this.writing; w; w = this.writing) await w.then(() => new Promise<void>((r) => setImmediate(r)))
	}

	private durable(b: JournalDurable): void {
		try {
			for (const r of b.records) foldFeed(this.o.feeds, r)
			const same = this.end?.file === b.file
			// a batch that starts a file is the first thing in it (rotation happens before a batch)
			const line = (same ? this.end!.line : 0) + b.records.length
			this.sinceBytes += b.end - (same ? this.end!.offset : 0)
			this.end = { file: b.file, offset: b.end, line }
			const last = b.records.at(-1)!
			this.pos = { seq: last.seq, hash: last.hash, file: b.file, offset: b.end, line }
			if (this.sinceBytes >= this.everyBytes || monotonicMs() - this.lastMono >= this.everyMs) this.save()
		} catch (err) {
			this.stats.failed++
			this.o.onError?.(err as Error)
		}
	}
}
