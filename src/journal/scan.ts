// Reading a journal directory: every file in order, every line checked on its own and against the chain.
// Used by Journal.open (to find the tail and cut a torn one), `sigpath journal verify` and the readers.
import { readdirSync, readFileSync } from 'node:fs'
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

export interface ScanResult {
	dir: string
	files: string[]
	/** records that read as records (their own hash checks), chain problems or not */
	records: number
	/** the last record that reads, in the last file that has one */
	last: JournalRecord | null
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
	line: number
	rec: JournalRecord | null
	why: string | null
}

/** Splits a file into lines with their byte offsets; a last line without its newline is reported as such. */
function readLines(buf: Buffer, key?: Buffer): LineResult[] {
	const out: LineResult[] = []
	let start = 0
	let n = 0
	while (start < buf.length) {
		const nl = buf.indexOf(10, start)
		n++
		if (nl < 0) {
			out.push({ offset: start, line: n, rec: null, why: 'incomplete last line (no newline): a torn write' })
			break
		}
		const text = buf.toString('utf8', start, nl)
		const r = parseLine(text, key)
		out.push(
			typeof r === 'string'
				? { offset: start, line: n, rec: null, why: r }
				: { offset: start, line: n, rec: r, why: null },
		)
		start = nl + 1
	}
	return out
}

/**
 * Scans DIR. `onRecord` sees every record that reads, in chain order (including those after a break: a reader of an
 * audit log wants to see them, flagged by the scan's problems). `key`: the key of a keyed chain (record.ts).
 */
export function scanDir(
	dir: string,
	onRecord?: (r: JournalRecord, file: string, line: number) => void,
	key?: Buffer,
): ScanResult {
	const files = listFiles(dir)
	const res: ScanResult = { dir, files, records: 0, last: null, torn: null, broken: [], firstBad: null }
	let prev: JournalRecord | null = null
	let afterUnreadable = false
	files.forEach((file, fi) => {
		let buf: Buffer
		try {
			buf = readFileSync(join(dir, file))
		} catch (err) {
			throw new Error(`cannot read the journal file ${join(dir, file)}`, { cause: err })
		}
		const lines = readLines(buf, key)
		let lastGood = -1
		lines.forEach((l, i) => {
			if (l.rec) lastGood = i
		})
		const isLastFile = fi === files.length - 1
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
					// the oldest files were removed (retention): the chain starts at this record
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
			onRecord?.(r, file, l.line)
		})
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
