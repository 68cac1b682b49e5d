// Reading a journal directory: every file in order, every line checked on its own and against the chain.
// Used by Journal.open (to find the tail and cut a torn one), `sigpath journal verify` and the readers.
//
// A scan may start from a position (a checkpoint, checkpoint.ts): a record already read and checked, the byte after
// its line and its line number. Files before it are not read, and the one it is in only from there on, so what a
// start reads does not grow with the journal.
//
// Retention (retention.ts) removes the oldest files and says so first, in a `retention` record: `from`, the seq the
// journal then starts at. A journal whose first record is not seq 1 verifies only if one of its retention records
// accounts for what is missing; without one, its oldest records were removed by someone else.
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { GENESIS, parseLine, type JournalRecord } from './record.ts'

/** journal-<seq of its first record, 12 digits>.jsonl: lexical order is chain order */
export const FILE_RE = /^journal-(\d{12})\.jsonl$/
export const fileName = (firstSeq: number): string => `journal-${String(firstSeq).padStart(12, '0')}.jsonl`

export interface Problem {
	file: string
	/** 1-based line in the file */
	line: number
	/** the record's seq when the line could be read */
	seq?: number
	/** byte offset of the line in the file */
	offset: number
	why: string
}

/** Where a scan starts: `record` (read and checked), whose line `line` of `file` ends at byte `offset`. */
export interface ScanFrom {
	file: string
	offset: number
	line: number
	record: JournalRecord
}

export interface ScanResult {
	dir: string
	files: string[]
	/** records that read as records (their own hash checks), chain problems or not (from a position: that record on) */
	records: number
	/** bytes read */
	bytes: number
	/** the last record that reads, in the last file that has one */
	last: JournalRecord | null
	/** where `last` is: its file, line and the byte after its newline */
	lastAt: { file: string; line: number; end: number } | null
	/** where appends go on: the end of the last file, less its torn tail, and the lines before it */
	end: { file: string; offset: number; line: number } | null
	/** the highest `from` of the retention records read: records before it were removed on purpose */
	retainedFrom: number
	/** unreadable lines at the end of the last file, with nothing readable after them: a write cut by a crash */
	torn: (Problem & { bytes: number; lines: number; mismatched: number }) | null
	/** every other problem, in order: unreadable lines followed by records, and breaks of the chain */
	broken: Problem[]
	/** the first problem anywhere (broken or torn), in file order */
	firstBad: Problem | null
}

export function listFiles(dir: string): string[] {
	let names: string[]
	try {
		names = readdirSync(dir)
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
		throw new Error(`cannot read the journal directory ${dir}`, { cause: err })
	}
	return names.filter((n) => FILE_RE.test(n)).sort()
}

interface LineResult {
	offset: number
	/** the byte after the line's newline */
	end: number
	line: number
	rec: JournalRecord | null
	why: string | null
}

/** Splits a file into lines with their byte offsets; a last line without its newline is reported as such. */
function readLines(buf: Buffer, key?: Buffer, base = 0, firstLine = 0): LineResult[] {
	const out: LineResult[] = []
	let start = 0
	let n = firstLine
	while (start < buf.length) {
		const nl = buf.indexOf(10, start)
		n++
		const offset = base + start
		if (nl < 0) {
			out.push({
				offset,
				end: base + buf.length,
				line: n,
				rec: null,
				why: 'incomplete last line (no newline): a torn write',
			})
			break
		}
		const text = buf.toString('utf8', start, nl)
		const r = parseLine(text, key)
		const end = base + nl + 1
		out.push(
			typeof r === 'string' ? { offset, end, line: n, rec: null, why: r } : { offset, end, line: n, rec: r, why: null },
		)
		start = nl + 1
	}
	return out
}

/** The bytes of FILE from `offset` to its end. */
export function readFrom(path: string, offset: number): Buffer {
	const fd = openSync(path, 'r')
	try {
		const size = fstatSync(fd).size
		const buf = Buffer.alloc(Math.max(0, size - offset))
		let got = 0
		while (got < buf.length) {
			const n = readSync(fd, buf, got, buf.length - got, offset + got)
			if (n === 0) break
			got += n
		}
		return buf.subarray(0, got)
	} finally {
		closeSync(fd)
	}
}

/**
 * Scans DIR. `onRecord` sees every record that reads, in chain order (including those after a break: a reader of an
 * audit log wants to see them, flagged by the scan's problems). `key`: the key of a keyed chain (record.ts).
 */
export function scanDir(
	dir: string,
	onRecord?: (r: JournalRecord, file: string, line: number) => void,
	key?: Buffer,
	from?: ScanFrom,
): ScanResult {
	const files = listFiles(dir)
	const res: ScanResult = {
		dir,
		files,
		records: from ? 1 : 0,
		bytes: 0,
		last: from?.record ?? null,
		lastAt: from ? { file: from.file, line: from.line, end: from.offset } : null,
		end: null,
		retainedFrom: 0,
		torn: null,
		broken: [],
		firstBad: null,
	}
	let prev: JournalRecord | null = from?.record ?? null
	let afterUnreadable = false
	/** the first record, when the journal does not start at seq 1 */
	let headless: Problem | null = null
	const first = from ? files.indexOf(from.file) : 0
	if (first < 0) throw new Error(`the journal file ${join(dir, from!.file)} is not there`)
	files.forEach((file, fi) => {
		if (fi < first) return
		const start = from && fi === first ? from : undefined
		let buf: Buffer
		try {
			buf = start ? readFrom(join(dir, file), start.offset) : readFileSync(join(dir, file))
		} catch (err) {
			throw new Error(`cannot read the journal file ${join(dir, file)}`, { cause: err })
		}
		res.bytes += buf.length
		const lines = readLines(buf, key, start?.offset ?? 0, start?.line ?? 0)
		let lastGood = -1
		lines.forEach((l, i) => {
			if (l.rec) lastGood = i
		})
		const isLastFile = fi === files.length - 1
		if (isLastFile) {
			const good = lines[lastGood]
			const at = lines[lastGood + 1]
			res.end = at
				? { file, offset: at.offset, line: at.line - 1 }
				: { file, offset: good?.end ?? start?.offset ?? 0, line: good?.line ?? start?.line ?? 0 }
		}
		lines.forEach((l, i) => {
			if (!l.rec) {
				if (isLastFile && i > lastGood) {
					if (!res.torn)
						res.torn = {
							file,
							line: l.line,
							offset: l.offset,
							why: l.why ?? 'unreadable',
							bytes: buf.length - l.offset,
							lines: lines.length - i,
							mismatched: 0,
						}
					// whole records whose hash alone is wrong: a crash does not make those (see Journal.open)
					if (l.why?.startsWith('hash does not match')) res.torn.mismatched++
				} else res.broken.push({ file, line: l.line, offset: l.offset, why: l.why ?? 'unreadable' })
				afterUnreadable = true
				return
			}
			const r = l.rec
			res.records++
			// After an unreadable line the chain cannot be followed through it: that line is the reported problem,
			// and the chain is picked up again at the next record.
			if (!afterUnreadable) {
				const expSeq = prev ? prev.seq + 1 : 1
				const expPrev = prev ? prev.hash : GENESIS
				if (prev === null && r.seq > 1) {
					// the oldest files were removed: by retention if a retention record says so (checked at the end)
					headless = { file, line: l.line, seq: r.seq, offset: l.offset, why: '' }
				} else if (r.seq !== expSeq)
					res.broken.push({
						file,
						line: l.line,
						seq: r.seq,
						offset: l.offset,
						why: `seq ${r.seq} where ${expSeq} was expected`,
					})
				else if (r.prev !== expPrev)
					res.broken.push({
						file,
						line: l.line,
						seq: r.seq,
						offset: l.offset,
						why: `prev does not match the hash of record ${prev?.seq ?? 'none (the first record)'}: the chain is broken`,
					})
			}
			afterUnreadable = false
			prev = r
			res.last = r
			res.lastAt = { file, line: l.line, end: l.end }
			if (r.kind === 'retention') {
				const f = (r.payload as { from?: unknown } | null)?.from
				if (Number.isSafeInteger(f) && (f as number) > res.retainedFrom) res.retainedFrom = f as number
			}
			onRecord?.(r, file, l.line)
		})
	})
	const h = headless as Problem | null
	if (h && h.seq! > res.retainedFrom)
		res.broken.unshift({
			...h,
			why: `the journal starts at seq ${h.seq}: records 1 to ${h.seq! - 1} are missing and no retention record says they were removed (its oldest files were deleted by hand, or cut off)`,
		})
	// the torn tail is at the end of the last file: after every other problem
	res.firstBad = res.broken[0] ?? res.torn
	return res
}

/**
 * Whether the torn tail is one that opening cuts. A crash or a power cut leaves partial lines and garbage; the whole
 * lines of a batch it cut are records. Whole records whose hashes alone do not match, several of them, or with no
 * record of the directory verifying, are not a torn write: a wrong or missing journal.key, or an edit. Cutting them
 * would destroy the audit trail, so Journal.open refuses them (one altered last record is still cut, as a torn write
 * would be).
 */
export function cuttable(r: ScanResult): boolean {
	const t = r.torn
	return t !== null && !(t.mismatched > 1 || (t.mismatched > 0 && r.records === 0))
}

export function describeProblem(p: Problem): string {
	return `${p.file} line ${p.line}${p.seq !== undefined ? ` (seq ${p.seq})` : ''}: ${p.why}`
}
