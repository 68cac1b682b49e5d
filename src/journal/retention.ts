// Retention (config journal.retainDays [90], docs/contract.md §8): the oldest journal files go once every record in
// them is older than that, so the directory stays bounded.
//
// A file's age is the wall time of its last record. Files go oldest first and only while they are old: never the
// last file (the one being written), nor the one the checkpoint is in, nor anything after a file that is not old or
// whose last record does not read. Before any file is removed the journal records it: a `retention` record (`from`,
// the first seq of the oldest file kept; the files; the cut-off) is appended, and the files are removed only once it
// is durable. `journal verify` accepts a journal that starts at such a `from` (or later than seq 1 by no more than a
// retention record says), and still fails one whose oldest files were removed without one: the boundary is on the
// chain, so it cannot be claimed afterwards without breaking the chain (or, keyed, without the key).
import { closeSync, fstatSync, fsyncSync, openSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { readCheckpoint, lineEndingAt } from './checkpoint.ts'
import type { Journal } from './journal.ts'
import { parseLine } from './record.ts'
import { FILE_RE, listFiles } from './scan.ts'

const DAY_MS = 24 * 3600 * 1000

export interface RetentionResult {
	/** the files removed, oldest first */
	removed: string[]
	/** the seq the journal starts at now (when files were removed) */
	from?: number
	/** why retention stopped short of a file that may be old (its last record does not read; a failed removal) */
	problems: string[]
}

/**
 * The oldest files of DIR whose last record is older than `beforeMs`, oldest first, up to (not including) `keep`
 * and never the last file; and the first seq of the file after them.
 */
export function expiredFiles(
	dir: string,
	beforeMs: number,
	key?: Buffer,
	keep?: string,
): { files: string[]; from: number | null; problems: string[] } {
	const all = listFiles(dir)
	const files: string[] = []
	const problems: string[] = []
	for (const file of all.slice(0, -1)) {
		if (file === keep) break
		const age = lastWall(join(dir, file), key)
		if (typeof age === 'string') {
			problems.push(`${file}: ${age}; it and the files after it are kept`)
			break
		}
		if (age !== null && age >= beforeMs) break
		files.push(file)
	}
	const next = all[files.length]
	return { files, from: files.length > 0 && next ? Number(FILE_RE.exec(next)![1]) : null, problems }
}

/** The wall time (ms) of the last record of PATH; null for an empty file; why not, when it does not read. */
function lastWall(path: string, key?: Buffer): number | null | string {
	let size: number
	try {
		const fd = openSync(path, 'r')
		try {
			size = fstatSync(fd).size
		} finally {
			closeSync(fd)
		}
	} catch (err) {
		return `cannot read it (${(err as Error).message})`
	}
	if (size === 0) return null
	const line = lineEndingAt(path, size)
	if (line === null) return 'it does not end with a whole line'
	const r = parseLine(line, key)
	if (typeof r === 'string') return `its last record does not read (${r})`
	const t = Date.parse(r.wall)
	return Number.isNaN(t) ? `its last record's wall time ${r.wall} is not a time` : t
}

/**
 * Removes the files older than `retainDays` at `now`, after a durable `retention` record. Never throws: what went
 * wrong is in `problems` (a record the journal could not write leaves every file in place).
 */
export async function applyRetention(
	journal: Journal,
	o: { retainDays: number; now: Date; key?: Buffer },
): Promise<RetentionResult> {
	const before = o.now.getTime() - o.retainDays * DAY_MS
	const cp = readCheckpoint(journal.dir, o.key)
	let x: ReturnType<typeof expiredFiles>
	try {
		x = expiredFiles(journal.dir, before, o.key, cp.ok ? cp.checkpoint.file : undefined)
	} catch (err) {
		return { removed: [], problems: [(err as Error).message] }
	}
	if (x.files.length === 0 || x.from === null) return { removed: [], problems: x.problems }
	try {
		await journal.append('retention', {
			from: x.from,
			files: x.files,
			before: new Date(before).toISOString(),
			retainDays: o.retainDays,
		})
	} catch (err) {
		return {
			removed: [],
			problems: [...x.problems, `the retention record was not written (${(err as Error).message}): nothing removed`],
		}
	}
	const removed: string[] = []
	for (const f of x.files) {
		try {
			unlinkSync(join(journal.dir, f))
			removed.push(f)
		} catch (err) {
			// the files left are still covered by the record: the journal starts earlier than it says, which verifies
			x.problems.push(`cannot remove ${f}: ${(err as Error).message}`)
			break
		}
	}
	try {
		const d = openSync(journal.dir, 'r')
		try {
			fsyncSync(d)
		} finally {
			closeSync(d)
		}
	} catch (err) {
		x.problems.push(`cannot sync the directory: ${(err as Error).message}`)
	}
	return { removed, from: x.from, problems: x.problems }
}
