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
// Open: the directory is scanned (from a checkpoint's record on, when given one: checkpoint.ts). Unreadable lines at
// the end of the last file (a write cut by a crash or a power cut: a partial line, bad JSON, a hash that does not
// match) are cut, and reported in `report.torn`; nothing that was acknowledged can be among them, since an append
// resolves only after its bytes are synced. A broken chain elsewhere is reported in `report.broken` and left as it
// is: an audit log is never silently repaired. Each durable batch is announced (`durable`) for the checkpoint.
//
// Faults (docs/contract.md §8): a disk that refuses a write (ENOSPC, EIO, EROFS, EACCES...) never stops the journal
// from taking records, because the daemon must go on controlling. The records are already stamped and chained, so
// they wait in memory in order (the queue), and the journal retries on a timer with backoff. Before every retry the
// file is cut back to `size`, the bytes known to be synced: a partial line left by the failed write (ENOSPC after a
// short write) or a batch whose fdatasync failed is never left in front of the records that follow, so the chain
// on disk is the chain in memory, with no gap. After a failed fdatasync the page cache may no longer say what the
// disk holds; cutting the file and writing the batch again dirties those pages anew, so the next fdatasync that
// succeeds does cover them. A record is acknowledged (its promise resolves) only once a write and fdatasync of it
// have both succeeded, as always.
//
// The queue is bounded (`maxQueued` records, `maxQueuedBytes` bytes). A record that does not fit is dropped
// before it is stamped: it takes no seq and the chain does not see it, so what is written stays a valid chain. Its
// promise rejects with JournalDropped; the drops are counted, and the first batch written afterwards ends with a
// `dropped` record (count, kinds, first and last wall time, reason), chained like any other, so the gap is itself
// on the record.
import { EventEmitter } from 'node:events'
import { close, closeSync, fstatSync, fsyncSync, mkdirSync, openSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import { monotonicMs } from '../clock.ts'
import {
	defaultClock,
	describe,
	isWriteFault,
	JournalDropped,
	JournalError,
	nodeIo,
	writeAll,
	type Appended,
	type Dropped,
	type JournalClock,
	type JournalDurable,
	type JournalHead,
	type JournalHealth,
	type JournalIo,
	type JournalOptions,
	type JournalRecovered,
	type Pending,
} from './journal-types.ts'
import { GENESIS, serialize } from './record.ts'

export { JournalDropped, JournalError } from './journal-types.ts'
export type {
	Appended,
	JournalClock,
	JournalDurable,
	JournalHead,
	JournalHealth,
	JournalIo,
	JournalOptions,
	JournalRecovered,
} from './journal-types.ts'
import { cuttable, fileName, scanDir, type ScanResult } from './scan.ts'

export class Journal extends EventEmitter<{
	fault: [JournalHealth]
	recovered: [JournalRecovered]
	durable: [JournalDurable]
}> {
	/** what open found: the torn tail it cut, and any broken chain it left in place */
	readonly report: ScanResult
	private fd: number | null = null
	/** bytes of the current file known to be synced: the file is cut back to this before a retry */
	private size = 0
	/** the file may hold bytes past `size` (a write or fdatasync failed, or is in flight) */
	private dirty = false
	/** the file being appended to (the last one); after a fault it is opened again by this name */
	private file: string | undefined
	/** `size` is the synced size of `file` (false until it is first opened at start: then its size on disk is) */
	private sizeKnown = false
	/** a torn tail found at open that could not be cut then: cut before anything is written */
	private uncut: { file: string; offset: number } | null = null
	private seq: number
	private prev: string
	private durable: JournalHead | null
	/** stamped and chained, not yet durable, in seq order (the batch in flight is not in it) */
	private queue: Pending[] = []
	private queuedBytes = 0
	private inflight = 0
	private inflightBytes = 0
	private flushing = false
	private scheduled = false
	private fault: { reason: string; since: string; sinceMono: number } | null = null
	private dropped: Dropped | null = null
	/** the drop count carried into the next `recovered` event */
	private droppedInEpisode = 0
	private retryTimer: NodeJS.Timeout | undefined
	private retryMs: number
	private closed = false
	private idle: (() => void)[] = []
	/** callers of heldOrWritten waiting for a fault */
	private faultWaiters = new Set<() => void>()
	/** group commit at work: batches written (one write + one fdatasync each) and the records in them */
	readonly stats = { batches: 0, records: 0, files: 0, failures: 0, dropped: 0, closeErrors: 0 }
	private readonly rotateBytes: number
	private readonly clock: JournalClock
	private readonly io: Required<JournalIo>
	private readonly maxQueued: number
	private readonly maxQueuedBytes: number
	private readonly retryMinMs: number
	private readonly retryMaxMs: number
	private readonly stallMs: number
	private readonly key: Buffer | undefined

	private constructor(
		readonly dir: string,
		report: ScanResult,
		options: JournalOptions,
	) {
		super()
		this.report = report
		this.rotateBytes = options.rotateBytes ?? 64 * 1024 * 1024
		this.clock = options.clock ?? defaultClock
		this.io = { ...nodeIo, ...options.io }
		this.maxQueued = options.maxQueued ?? 10_000
		this.maxQueuedBytes = options.maxQueuedBytes ?? 16 * 1024 * 1024
		this.retryMinMs = options.retryMinMs ?? 250
		this.retryMaxMs = options.retryMaxMs ?? 5000
		this.stallMs = options.stallMs ?? 5000
		this.retryMs = this.retryMinMs
		this.key = options.key
		this.durable = report.last ? { seq: report.last.seq, hash: report.last.hash, at: report.last.wall } : null
		this.seq = report.last?.seq ?? 0
		this.prev = report.last?.hash ?? GENESIS
		this.file = report.files.at(-1)
	}

	/**
	 * Opens (creating the directory when missing), cutting a torn tail. Synchronous: it runs once, at start. A
	 * directory that cannot be read throws (the chain cannot be continued without its head); one that can be read
	 * but not written (read-only, full, EACCES) opens faulted: `health.ok` is false and appends wait in memory until
	 * the disk takes them.
	 */
	static open(options: JournalOptions): Journal {
		let writeFault: Error | null = null
		try {
			mkdirSync(options.dir, { recursive: true })
		} catch (err) {
			if (!isWriteFault(err))
				throw new JournalError(`cannot create the journal directory ${options.dir}`, { cause: err })
			writeFault = err as Error
		}
		const report = scanDir(options.dir, options.onRecord, options.key, options.from)
		const j = new Journal(options.dir, report, options)
		if (report.torn) {
			const t = report.torn
			if (!cuttable(report))
				throw new JournalError(
					`${join(options.dir, t.file)} ends with ${t.lines} unreadable line(s) from line ${t.line} (${t.why}): not a torn write; is journal.key right? Not cutting them: check with sigpath journal verify`,
				)
			j.uncut = { file: t.file, offset: t.offset }
		}
		if (writeFault === null) {
			try {
				j.openCurrent()
			} catch (err) {
				if (!isWriteFault(err)) throw err
				writeFault = err as Error
			}
		}
		if (writeFault) j.enterFault(writeFault)
		return j
	}

	/** The seq and hash of the last record appended (durable or not yet). */
	get head(): Appended {
		return { seq: this.seq, hash: this.prev }
	}

	/** The last durable record (null for an empty journal); `head` is the last one appended. */
	get written(): JournalHead | null {
		return this.durable
	}

	get health(): JournalHealth {
		return {
			ok: this.fault === null,
			...(this.fault ? { reason: this.fault.reason, since: this.fault.since } : {}),
			queued: this.queue.length + this.inflight,
			queuedBytes: this.queuedBytes + this.inflightBytes,
			maxQueued: this.maxQueued,
			maxQueuedBytes: this.maxQueuedBytes,
			dropped: this.dropped?.count ?? 0,
		}
	}

	/**
	 * Appends a record; resolves once it is durable (written and fdatasynced). While the disk refuses writes the
	 * promise waits (the record is held in memory and written when the disk takes it); it rejects with JournalDropped
	 * when the memory queue is full or the journal closes with the record unwritten.
	 */
	append(kind: string, payload: unknown): Promise<Appended> {
		if (this.closed) return Promise.reject(new JournalDropped('the journal is closed'))
		const { wall, hash, data, bytes } = this.next(kind, payload)
		const held = this.queue.length + this.inflight
		if (held >= this.maxQueued || this.queuedBytes + this.inflightBytes + bytes > this.maxQueuedBytes) {
			// not stamped: the chain goes on from the last record kept, and the `dropped` record says what is missing
			this.drop(kind, wall)
			return Promise.reject(
				new JournalDropped(
					`journal queue full (${held} records, ${this.queuedBytes + this.inflightBytes} bytes held): ${kind} record dropped`,
				),
			)
		}
		this.seq++
		this.prev = hash
		return new Promise<Appended>((resolve, reject) => {
			this.queue.push({ seq: this.seq, hash, kind, payload, data, bytes, resolve, reject })
			this.queuedBytes += bytes
			this.schedule()
		})
	}

	/**
	 * Resolves with 'written' once `p` (an append's promise, or several) has resolved, 'queued' as soon as the
	 * journal is faulted (the records wait in memory; nobody should wait for a failing disk), 'dropped' if it rejected.
	 */
	writtenOrQueued(p: Promise<unknown>): Promise<'written' | 'queued' | 'dropped'> {
		if (this.fault) return Promise.resolve('queued')
		return new Promise((resolve) => {
			const onFault = (): void => resolve('queued')
			this.faultWaiters.add(onFault)
			p.then(
				() => resolve('written'),
				() => resolve('dropped'),
			).finally(() => this.faultWaiters.delete(onFault))
		})
	}

	/**
	 * Waits for every pending append, then closes the file. A faulted journal gets one last try, then gives up; a
	 * write still hung after `stallMs` is left to itself (a stop must not hang on the disk either).
	 */
	async close(): Promise<void> {
		this.closed = true
		clearTimeout(this.retryTimer)
		this.retryTimer = undefined
		if (this.flushing) {
			let timer: NodeJS.Timeout | undefined
			const idle = await Promise.race([
				new Promise<boolean>((r) => this.idle.push(() => r(true))),
				new Promise<boolean>((r) => (timer = setTimeout(() => r(false), this.stallMs))),
			])
			clearTimeout(timer)
			if (!idle) {
				const e = new JournalDropped(`the journal closed with a write hung and ${this.queue.length} records unwritten`)
				for (const p of this.queue.splice(0)) p.reject(e)
				this.queuedBytes = 0
				return
			}
		}
		if (this.queue.length > 0 || this.dropped) await this.flush()
		if (this.queue.length > 0) {
			const e = new JournalDropped(`the journal closed with ${this.queue.length} records unwritten`)
			for (const p of this.queue.splice(0)) p.reject(e)
			this.queuedBytes = 0
		}
		if (this.fd !== null) {
			closeSync(this.fd)
			this.fd = null
		}
	}

	private drop(kind: string, wall: string): void {
		this.stats.dropped++
		this.droppedInEpisode++
		const d = (this.dropped ??= { count: 0, first: wall, last: wall, kinds: {} })
		d.count++
		d.last = wall
		d.kinds[kind] = (d.kinds[kind] ?? 0) + 1
	}

	private schedule(): void {
		// while faulted the retry timer drives the writes: a new append must not hammer a failing disk
		if (this.flushing || this.scheduled || this.fault || this.closed) return
		this.scheduled = true
		// a microtask lets the appends of one synchronous burst share the first write
		queueMicrotask(() => {
			this.scheduled = false
			void this.flush()
		})
	}

	/** Writes batches until the queue is empty or a write fails (then the retry timer takes over). Never rejects. */
	private async flush(): Promise<void> {
		if (this.flushing) return
		this.flushing = true
		while (this.queue.length > 0 || this.dropped) {
			const batch = this.queue
			this.queue = []
			this.queuedBytes = 0
			if (this.dropped) batch.push(this.droppedRecord(this.dropped))
			this.dropped = null
			const bytes = batch.reduce((n, p) => n + p.bytes, 0)
			this.inflight = batch.length
			this.inflightBytes = bytes
			let err: unknown = null
			// A write that neither completes nor fails (a hung disk, a hard NFS mount) is a fault as well: nothing can
			// abort it, but the alarm is raised and commands stop waiting; it ends when the write does.
			const stall = setTimeout(
				() => this.enterFault(new Error(`a write to ${this.dir} has not completed in ${this.stallMs} ms`), true),
				this.stallMs,
			)
			stall.unref()
			try {
				await this.writeBatch(batch, bytes)
			} catch (e) {
				err = e
			} finally {
				clearTimeout(stall)
			}
			this.inflight = 0
			this.inflightBytes = 0
			if (err !== null) {
				// back to the front of the queue, in order: the retry writes them first
				this.queue = [...batch, ...this.queue]
				this.queuedBytes += bytes
				this.stats.failures++
				this.enterFault(err as Error)
				break
			}
			this.stats.batches++
			this.stats.records += batch.length
			const last = batch.at(-1)!
			this.durable = { seq: last.seq, hash: last.hash, at: this.clock.wall().toISOString() }
			for (const p of batch) p.resolve({ seq: p.seq, hash: p.hash })
			this.emit('durable', { records: batch, file: this.file!, end: this.size })
			if (this.fault) this.leaveFault(batch.length)
		}
		this.flushing = false
		for (const r of this.idle.splice(0)) r()
	}

	/** The next record, serialized and hashed on the chain as it stands (not yet taken: seq and prev unchanged). */
	private next(kind: string, payload: unknown): { wall: string; hash: string; data: string; bytes: number } {
		const wall = this.clock.wall().toISOString()
		const rec = { seq: this.seq + 1, wall, mono: this.clock.mono(), kind, payload, prev: this.prev }
		const { line, hash } = serialize(rec, this.key)
		const data = `${line}\n`
		return { wall, hash, data, bytes: Buffer.byteLength(data) }
	}

	/** The `dropped` record, stamped now: it follows the last record kept, which is the last one stamped. */
	private droppedRecord(d: Dropped): Pending {
		const reason = this.fault?.reason ?? 'the journal queue was full (the disk was slower than the records)'
		const payload = { dropped: d.count, first: d.first, last: d.last, kinds: d.kinds, reason }
		const { hash, data, bytes } = this.next('dropped', payload)
		this.seq++
		this.prev = hash
		return { seq: this.seq, hash, kind: 'dropped', payload, data, bytes, resolve: noop, reject: noop }
	}

	private async writeBatch(batch: Pending[], bytes: number): Promise<void> {
		if (this.fd === null) {
			mkdirSync(this.dir, { recursive: true })
			this.openCurrent()
		}
		if (this.fd === null || this.size >= this.rotateBytes) this.rotate(batch[0]!.seq)
		const fd = this.fd!
		if (this.dirty) {
			// whatever a failed write or sync left past the synced bytes goes, or the next record would follow a
			// partial line
			await new Promise<void>((res, rej) => this.io.ftruncate(fd, this.size, (e) => (e ? rej(e) : res())))
			this.dirty = false
		}
		const buf = Buffer.from(batch.map((p) => p.data).join(''))
		this.dirty = true
		await writeAll(this.io, fd, buf)
		await new Promise<void>((res, rej) => this.io.fdatasync(fd, (e) => (e ? rej(e) : res())))
		this.dirty = false
		this.size += bytes
	}

	/** Opens the current file for append (at start: cutting its torn tail first; after a fault: again, by name). */
	private openCurrent(): void {
		if (this.uncut) {
			const path = join(this.dir, this.uncut.file)
			try {
				truncateSync(path, this.uncut.offset)
				const fd = openSync(path, 'r+')
				try {
					fsyncSync(fd)
				} finally {
					closeSync(fd)
				}
			} catch (err) {
				if (isWriteFault(err)) throw err
				throw new JournalError(`cannot cut the torn tail of ${path} at byte ${this.uncut.offset}`, { cause: err })
			}
			this.uncut = null
		}
		if (this.file === undefined) return
		const fd = openSync(join(this.dir, this.file), 'a')
		const onDisk = fstatSync(fd).size
		if (!this.sizeKnown) {
			this.size = onDisk
			this.sizeKnown = true
		} else if (onDisk !== this.size) this.dirty = true // a failed write left bytes past the synced ones
		this.fd = fd
	}

	private rotate(firstSeq: number): void {
		// the new file is opened before the old one is closed, so that a failure leaves the journal as it was
		const fd = openSync(join(this.dir, fileName(firstSeq)), 'a')
		try {
			// the new file's name must be durable too, or a crash could lose the whole file
			const dfd = openSync(this.dir, 'r')
			try {
				fsyncSync(dfd)
			} finally {
				closeSync(dfd)
			}
		} catch (err) {
			closeSync(fd)
			throw err
		}
		if (this.fd !== null) closeSync(this.fd)
		this.fd = fd
		this.file = fileName(firstSeq)
		this.size = 0
		this.sizeKnown = true
		// a file named after a record not yet written can hold only bytes of an earlier failed try: cut them
		this.dirty = fstatSync(fd).size > 0
		this.stats.files++
	}

	/** `stalled`: the write is still in flight; it ends the fault or fails in its own time (no retry timer). */
	private enterFault(err: Error, stalled = false): void {
		const reason = describe(err)
		const first = this.fault === null
		// the file is opened again by name for the retry: a descriptor that saw EIO (or a stale NFS handle) may never
		// work again, and a remounted filesystem is only reached through a new one
		if (this.fd !== null && !stalled) {
			const fd = this.fd
			this.fd = null
			close(fd, (e) => {
				if (e) this.stats.closeErrors++
			})
		}
		if (first) {
			this.fault = { reason, since: this.clock.wall().toISOString(), sinceMono: monotonicMs() }
			this.retryMs = this.retryMinMs
			for (const w of [...this.faultWaiters]) w()
			this.faultWaiters.clear()
		} else {
			this.fault!.reason = reason
			if (!stalled) this.retryMs = Math.min(this.retryMaxMs, this.retryMs * 2)
		}
		if (stalled) {
			if (first) this.emit('fault', this.health)
			return
		}
		if (this.closed) return
		clearTimeout(this.retryTimer)
		this.retryTimer = setTimeout(() => {
			this.retryTimer = undefined
			void this.flush()
		}, this.retryMs)
		// the retry must not keep a stopping process alive; the daemon's own handles do that while it runs
		this.retryTimer.unref()
		if (first) this.emit('fault', this.health)
	}

	private leaveFault(written: number): void {
		const f = this.fault!
		this.fault = null
		this.retryMs = this.retryMinMs
		const dropped = this.droppedInEpisode
		this.droppedInEpisode = 0
		this.emit('recovered', { written, dropped, downMs: Math.round(monotonicMs() - f.sinceMono) })
	}
}

const noop = (): void => {}
