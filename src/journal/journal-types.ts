// The journal's types, errors and I/O helpers (src/journal/journal.ts holds the Journal itself).
import { fdatasync, ftruncate, write } from 'node:fs'
import { monotonicMs } from '../clock.ts'
import type { JournalRecord } from './record.ts'
import type { ScanFrom } from './scan.ts'

export interface JournalClock {
	/** wall clock, for `wall` */
	wall: () => Date
	/** CLOCK_MONOTONIC ms, for `mono` */
	mono: () => number
}

/** The calls on the hot path, injectable so that tests can make them fail or write short. */
export interface JournalIo {
	write: (fd: number, buf: Buffer, off: number, len: number, cb: (err: Error | null, written: number) => void) => void
	fdatasync: (fd: number, cb: (err: Error | null) => void) => void
	/** cuts the file back to its synced bytes before a retry (default: fs.ftruncate) */
	ftruncate?: (fd: number, len: number, cb: (err: Error | null) => void) => void
}

export const nodeIo: Required<JournalIo> = {
	write: (fd, buf, off, len, cb) => write(fd, buf, off, len, null, cb),
	fdatasync: (fd, cb) => fdatasync(fd, cb),
	ftruncate: (fd, len, cb) => ftruncate(fd, len, cb),
}

export interface JournalOptions {
	dir: string
	io?: JournalIo
	/** start a new file once the current one reaches this size (config journal.rotateBytes; default 64 MiB) */
	rotateBytes?: number
	clock?: JournalClock
	/** records held in memory while the disk refuses writes (default 10,000); beyond it they are dropped and counted */
	maxQueued?: number
	/** bytes held in memory likewise (default 16 MiB) */
	maxQueuedBytes?: number
	/** the first retry after a failed write (default 250 ms); each failed retry doubles it, up to `retryMaxMs` */
	retryMinMs?: number
	/** the longest wait between retries (default 5000 ms) */
	retryMaxMs?: number
	/** a write + fdatasync still in flight after this long is a fault too (a hung disk; default 5000 ms) */
	stallMs?: number
	/** the key of a keyed chain (HMAC-SHA256, config journal.key): every record is hashed and checked with it */
	key?: Buffer
	/** open reads from this record on (a checkpoint's position, checkpoint.ts) instead of from the first file */
	from?: ScanFrom
	/** every record open reads, in chain order */
	onRecord?: (r: JournalRecord) => void
}

export const defaultClock: JournalClock = {
	wall: () => new Date(),
	mono: () => Math.floor(monotonicMs()),
}

/** A batch just made durable: its records, in seq order, all in `file`, which they end at byte `end`. */
export interface JournalDurable {
	records: readonly Pick<Pending, 'seq' | 'hash' | 'kind' | 'payload'>[]
	file: string
	end: number
}

export interface Appended {
	seq: number
	hash: string
}

/** What the journal is going through, for the alarm and the status. */
export interface JournalHealth {
	/** false while the disk refuses writes (records are held in memory) */
	ok: boolean
	/** the last failure, `ENOSPC: no space left on device, write` */
	reason?: string
	/** wall time of the first failure of this episode */
	since?: string
	/** records stamped and not yet on disk */
	queued: number
	queuedBytes: number
	/** the bounds of the memory queue (records, bytes) */
	maxQueued: number
	maxQueuedBytes: number
	/** records dropped (queue full) not yet counted in a `dropped` record (which is made with the next batch) */
	dropped: number
}

/** The last record known to be on disk: what a head kept elsewhere holds (`journal verify --head SEQ:HASH`). */
export interface JournalHead {
	seq: number
	hash: string
	/** wall time when it was known durable (at open: its own `wall`) */
	at: string
}

export interface JournalRecovered {
	/** records that waited in memory and were written by the retry that succeeded */
	written: number
	/** records dropped during the fault (counted in the `dropped` record just written) */
	dropped: number
	/** how long the fault lasted */
	downMs: number
}

export interface Pending {
	seq: number
	hash: string
	kind: string
	payload: unknown
	data: string
	bytes: number
	resolve: (a: Appended) => void
	reject: (e: Error) => void
}

export interface Dropped {
	count: number
	first: string
	last: string
	kinds: Record<string, number>
}

/** errno codes that mean "the disk will not take this now", tolerated at open (anything else there is a setup error) */
export const WRITE_FAULTS = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EACCES', 'EPERM'])

export class JournalError extends Error {
	override name = 'JournalError'
}

/** A record refused because the memory queue was full (or the journal closed before it could be written). */
export class JournalDropped extends JournalError {
	override name = 'JournalDropped'
}

export function isWriteFault(err: unknown): boolean {
	const code = (err as NodeJS.ErrnoException | undefined)?.code
	return code !== undefined && WRITE_FAULTS.has(code)
}

export function describe(err: Error): string {
	const code = (err as NodeJS.ErrnoException).code
	return code !== undefined && !err.message.startsWith(code) ? `${code}: ${err.message}` : err.message
}

export function writeAll(io: JournalIo, fd: number, buf: Buffer): Promise<void> {
	return new Promise((resolve, reject) => {
		const step = (off: number) =>
			io.write(fd, buf, off, buf.length - off, (err, n) => {
				if (err) return reject(err)
				if (off + n < buf.length) step(off + n)
				else resolve()
			})
		step(0)
	})
}
