// The audit journal: append-only JSON lines in a directory, hash-chained (record.ts), durable on fdatasync.
//
// Group commit: append() stamps and chains the record at once (so seq order is call order) and returns a promise
// that resolves only when the record is on disk. Records appended while a write + fdatasync is in flight wait and
// go out together in the next one: one write and one fdatasync per batch, however many records.
//
// Rotation: before a batch, when the current file has reached rotateBytes, a new file is started (named by the seq
// of its first record) and the directory is fsynced; the chain continues across files (prev of the first record of
// a file is the hash of the last record of the one before). A file can pass rotateBytes by one batch.
//
// Open: the directory is scanned. Unreadable lines at the end of the last file (a write cut by a crash or a power
// cut: a partial line, bad JSON, a hash that does not match) are cut, and reported in `report.torn`; nothing that
// was acknowledged can be among them, since an append resolves only after its bytes are synced. A broken chain
// elsewhere is reported in `report.broken` and left as it is: an audit log is never silently repaired.
import { closeSync, fdatasync, fsyncSync, mkdirSync, openSync, statSync, truncateSync, write } from 'node:fs'
import { join } from 'node:path'
import { monotonicMs } from '../clock.ts'
import { GENESIS, serialize } from './record.ts'
import { fileName, scanDir, type ScanResult } from './scan.ts'

export interface JournalClock {
	/** wall clock, for `wall` */
	wall: () => Date
	/** CLOCK_MONOTONIC ms, for `mono` */
	mono: () => number
}

/** The two calls on the hot path, injectable so that tests can make them fail or write short. */
export interface JournalIo {
	write: (fd: number, buf: Buffer, off: number, len: number, cb: (err: Error | null, written: number) => void) => void
	fdatasync: (fd: number, cb: (err: Error | null) => void) => void
}

const nodeIo: JournalIo = {
	write: (fd, buf, off, len, cb) => write(fd, buf, off, len, null, cb),
	fdatasync: (fd, cb) => fdatasync(fd, cb),
}

export interface JournalOptions {
	dir: string
	io?: JournalIo
	/** start a new file once the current one reaches this size (config journal.rotateBytes; default 64 MiB) */
	rotateBytes?: number
	clock?: JournalClock
}

export interface Appended {
	seq: number
	hash: string
}

interface Pending {
	seq: number
	hash: string
	data: string
	resolve: (a: Appended) => void
	reject: (e: Error) => void
}

const defaultClock: JournalClock = {
	wall: () => new Date(),
	mono: () => Math.floor(monotonicMs()),
}

export class JournalError extends Error {
	override name = 'JournalError'
}

export class Journal {
	/** what open found: the torn tail it cut, and any broken chain it left in place */
	readonly report: ScanResult
	private fd: number | null = null
	private size = 0
	private seq: number
	private prev: string
	private queue: Pending[] = []
	private flushing = false
	private scheduled = false
	private failed: Error | null = null
	private closed = false
	private idle: (() => void)[] = []
	/** group commit at work: batches written (one write + one fdatasync each) and the records in them */
	readonly stats = { batches: 0, records: 0, files: 0 }
	private readonly rotateBytes: number
	private readonly clock: JournalClock
	private readonly io: JournalIo

	private constructor(
		readonly dir: string,
		report: ScanResult,
		options: JournalOptions,
	) {
		this.report = report
		this.rotateBytes = options.rotateBytes ?? 64 * 1024 * 1024
		this.clock = options.clock ?? defaultClock
		this.io = options.io ?? nodeIo
		this.seq = report.last?.seq ?? 0
		this.prev = report.last?.hash ?? GENESIS
		const lastFile = report.files.at(-1)
		if (lastFile !== undefined) {
			const path = join(dir, lastFile)
			this.fd = openSync(path, 'a')
			this.size = statSync(path).size
		}
	}

	/** Opens (creating the directory when missing), cutting a torn tail. Synchronous: it runs once, at start. */
	static open(options: JournalOptions): Journal {
		try {
			mkdirSync(options.dir, { recursive: true })
		} catch (err) {
			throw new JournalError(`cannot create the journal directory ${options.dir}`, { cause: err })
		}
		const report = scanDir(options.dir)
		if (report.torn) {
			const t = report.torn
			const path = join(options.dir, t.file)
			try {
				truncateSync(path, t.offset)
				const fd = openSync(path, 'r+')
				try {
					fsyncSync(fd)
				} finally {
					closeSync(fd)
				}
			} catch (err) {
				throw new JournalError(`cannot cut the torn tail of ${path} at byte ${t.offset}`, { cause: err })
			}
		}
		return new Journal(options.dir, report, options)
	}

	/** The seq and hash of the last record appended (durable or not yet). */
	get head(): Appended {
		return { seq: this.seq, hash: this.prev }
	}

	/** Appends a record; resolves once it is durable (written and fdatasynced), rejects if that fails. */
	append(kind: string, payload: unknown): Promise<Appended> {
		if (this.closed) return Promise.reject(new JournalError('the journal is closed'))
		if (this.failed) return Promise.reject(new JournalError('the journal failed earlier', { cause: this.failed }))
		const seq = this.seq + 1
		const { line, hash } = serialize({
			seq,
			wall: this.clock.wall().toISOString(),
			mono: this.clock.mono(),
			kind,
			payload,
			prev: this.prev,
		})
		this.seq = seq
		this.prev = hash
		return new Promise<Appended>((resolve, reject) => {
			this.queue.push({ seq, hash, data: `${line}\n`, resolve, reject })
			this.schedule()
		})
	}

	/** Waits for every pending append, then closes the file. */
	async close(): Promise<void> {
		this.closed = true
		if (this.flushing || this.queue.length > 0) await new Promise<void>((r) => this.idle.push(r))
		if (this.fd !== null) {
			closeSync(this.fd)
			this.fd = null
		}
	}

	private schedule(): void {
		if (this.flushing || this.scheduled) return
		this.scheduled = true
		// a microtask lets the appends of one synchronous burst share the first write
		queueMicrotask(() => {
			this.scheduled = false
			void this.flush()
		})
	}

	private async flush(): Promise<void> {
		if (this.flushing) return
		this.flushing = true
		while (this.queue.length > 0) {
			const batch = this.queue
			this.queue = []
			try {
				if (this.fd === null || this.size >= this.rotateBytes) this.rotate(batch[0]!.seq)
				const buf = Buffer.from(batch.map((p) => p.data).join(''))
				await writeAll(this.io, this.fd!, buf)
				this.size += buf.length
				await new Promise<void>((res, rej) => this.io.fdatasync(this.fd!, (e) => (e ? rej(e) : res())))
			} catch (err) {
				// After a failed write or fdatasync, nothing later may be acknowledged: the file may hold a torn batch,
				// and after a failed fsync the page cache may no longer say what the disk holds.
				this.failed = err as Error
				const e = new JournalError(`journal write failed in ${this.dir}`, { cause: err })
				for (const p of [...batch, ...this.queue]) p.reject(e)
				this.queue = []
				break
			}
			this.stats.batches++
			this.stats.records += batch.length
			for (const p of batch) p.resolve({ seq: p.seq, hash: p.hash })
		}
		this.flushing = false
		for (const r of this.idle.splice(0)) r()
	}

	private rotate(firstSeq: number): void {
		if (this.fd !== null) closeSync(this.fd)
		this.fd = openSync(join(this.dir, fileName(firstSeq)), 'a')
		this.size = 0
		this.stats.files++
		// the new file's name must be durable too, or a crash could lose the whole file
		const dfd = openSync(this.dir, 'r')
		try {
			fsyncSync(dfd)
		} finally {
			closeSync(dfd)
		}
	}
}

function writeAll(io: JournalIo, fd: number, buf: Buffer): Promise<void> {
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
