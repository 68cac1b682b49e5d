// The daemon's journal (docs/contract.md §8): opened at start with each feed's restore state (from the checkpoint,
// src/journal/restore.ts), every record the daemon writes (never rejecting, never waiting for the disk),
// journal-failed raised and cleared, the head published after every decision and at least every 10 s, retention
// applied at start and every hour, the last checkpoint at a clean stop.
import type { Logger } from 'pino'
import type { Clock } from '../clock.ts'
import type { JournalHeadState } from '../control/payloads.ts'
import type { Config } from '../domain/config.ts'
import { resolveSecret } from '../domain/secrets.ts'
import {
	applyRetention,
	JournalDropped,
	openJournal,
	type Checkpointer,
	type Entry,
	type FeedState,
	type Journal,
	type JournalDurable,
	type JournalHead,
	type JournalHealth,
} from '../journal/index.ts'

/** The records after which the head is published at once: a decision, its take, an operator's command. */
const HEAD_KINDS: ReadonlySet<string> = new Set(['decision', 'take', 'command'])

export interface JournalingDeps {
	config: Config['journal']
	dir: string
	env: NodeJS.ProcessEnv
	log: Logger
	clock: Clock
	/** raises (true) or clears journal-failed, with its message */
	failed: (active: boolean, message: string) => void
	/** where the head goes out (the publisher) */
	publishHead: (head: JournalHeadState) => void
	/** the head at least this often (default 10 s) */
	headEveryMs?: number
	/** retention this often (default 1 h) */
	retentionEveryMs?: number
}

/** The status of the journal in `/status` as `journal`: the head (null fields before any record) and its health. */
export type JournalStatus = { seq: number | null; hash: string | null; at: string | null } & JournalHealth

export class Journaling {
	private journal: Journal | undefined
	private checkpointer: Checkpointer | undefined
	private keyBytes: Buffer | undefined
	private timers: NodeJS.Timeout[] = []
	private retaining = false
	/** a record was dropped (the journal's memory queue was full) and said so in the log, in this fault */
	private dropLogged = false

	/** the journal's key once opened (journal.key), undefined for an unkeyed journal */
	get key(): Buffer | undefined {
		return this.keyBytes
	}

	constructor(private readonly d: JournalingDeps) {}

	/**
	 * Opens the journal and returns each feed's state as it last knew it. Throws SecretError for a key whose variable
	 * is not set, and when the directory cannot be read. A directory that can be read but not written opens faulted:
	 * the daemon starts and controls all the same, and the journal writes once the disk takes writes.
	 */
	open(): Map<string, FeedState> {
		const cfg = this.d.config
		this.keyBytes = cfg?.key ? Buffer.from(resolveSecret(cfg.key, this.d.env), 'utf8') : undefined
		const r = openJournal({
			dir: this.d.dir,
			...(cfg?.rotateBytes ? { rotateBytes: cfg.rotateBytes } : {}),
			...(this.keyBytes ? { key: this.keyBytes } : {}),
			onCheckpointError: (err) =>
				this.d.log.warn({ err: err.message }, 'journal: a checkpoint could not be written (the previous one holds)'),
		})
		this.journal = r.journal
		this.checkpointer = r.checkpointer
		const rep = r.journal.report
		for (const w of r.warnings) this.d.log.warn(w)
		this.d.log.info({ from: r.from, records: r.records, bytes: r.bytes }, 'journal: opened, mode and lock restored')
		if (rep.torn) this.d.log.warn({ torn: rep.torn }, 'journal: a torn tail was found at start (cut before writing)')
		if (rep.broken.length > 0) this.d.log.error({ broken: rep.broken.slice(0, 5) }, 'journal: the chain is broken')
		r.journal.on('fault', (h) => this.fault(h))
		r.journal.on('recovered', (x) => {
			this.dropLogged = false
			const message = `journal: writing again to ${this.d.dir}: ${x.written} held records written after ${x.downMs} ms${x.dropped > 0 ? `, ${x.dropped} dropped (counted in a dropped record)` : ''}`
			this.d.log[x.dropped > 0 ? 'warn' : 'info']({ ...x }, message)
			this.d.failed(false, message)
		})
		r.journal.on('durable', (b) => this.durable(b))
		return r.feeds
	}

	/**
	 * Once MQTT is connected: journal-failed if the journal opened faulted (so that it is published as well as
	 * logged), the head now and every 10 s, retention now and every hour.
	 */
	start(): void {
		const j = this.journal
		if (!j) return
		if (!j.health.ok) this.fault(j.health)
		this.publishHead()
		this.timers.push(setInterval(() => this.publishHead(), this.d.headEveryMs ?? 10_000))
		void this.retain()
		this.timers.push(setInterval(() => void this.retain(), this.d.retentionEveryMs ?? 3600_000))
	}

	/** The last record on disk `{ seq, hash, at }`, for `journal verify --head`. */
	head(): JournalHead | null {
		return this.journal?.written ?? null
	}

	health(): JournalHealth | undefined {
		return this.journal?.health
	}

	status(): JournalStatus | null {
		const h = this.journal?.health
		if (!h) return null
		const head = this.head()
		return { seq: head?.seq ?? null, hash: head?.hash ?? null, at: head?.at ?? null, ...h }
	}

	/** See Journal.writtenOrQueued: a reply waits for its records while the journal is healthy, never for a failing disk. */
	writtenOrQueued(p: Promise<unknown>): Promise<'written' | 'queued' | 'dropped'> {
		return this.journal ? this.journal.writtenOrQueued(p) : Promise.resolve('written')
	}

	/**
	 * Journals records; resolves once they are durable. Never rejects: it is called without waiting (`void`) from
	 * every part of the daemon, and a disk fault must neither kill the process nor hold up a decision. While the disk
	 * refuses writes the journal holds the records (journal-failed is raised); a record it cannot hold is dropped and
	 * counted, and said here once per fault.
	 */
	write(entries: readonly Entry[]): Promise<void> {
		const j = this.journal
		if (!j || entries.length === 0) return Promise.resolve()
		return Promise.all(
			entries.map((e) =>
				j.append(e.kind, e.payload).then(
					() => undefined,
					(err: unknown) => this.lost(err, e.kind),
				),
			),
		).then(() => undefined)
	}

	/**
	 * The `shutdown` record, then the journal closed (one last try on a failing disk, no wait on a hung write past
	 * its stall limit) and the last checkpoint (bounded likewise).
	 */
	async close(reason: string): Promise<void> {
		for (const t of this.timers.splice(0)) clearInterval(t)
		if (!this.journal) return
		// not awaited: on a failing disk it would wait for ever; close gives up what it cannot write
		void this.write([{ kind: 'shutdown', payload: { reason } }])
		await this.journal.close()
		await this.checkpointer?.close()
	}

	private publishHead(): void {
		const h = this.head()
		if (h) this.d.publishHead(h)
	}

	/** Called inside the journal's write loop: it must not throw there. */
	private durable(b: JournalDurable): void {
		try {
			if (b.records.some((r) => HEAD_KINDS.has(r.kind))) this.publishHead()
		} catch (err) {
			this.d.log.error({ err }, 'journal: the head could not be published')
		}
	}

	private async retain(): Promise<void> {
		const j = this.journal
		if (!j || this.retaining) return
		this.retaining = true
		try {
			const retainDays = this.d.config?.retainDays ?? 90
			const r = await applyRetention(j, {
				retainDays,
				now: new Date(this.d.clock.wallMs()),
				...(this.keyBytes ? { key: this.keyBytes } : {}),
			})
			if (r.removed.length > 0)
				this.d.log.info(
					{ removed: r.removed, from: r.from },
					`journal: ${r.removed.length} file(s) older than ${retainDays} days removed; the journal starts at seq ${r.from}`,
				)
			for (const p of r.problems) this.d.log.warn(`journal retention: ${p}`)
		} finally {
			this.retaining = false
		}
	}

	private lost(err: unknown, kind: string): void {
		if (!(err instanceof JournalDropped)) {
			this.d.log.error({ err, kind }, 'journal: a record could not be written')
			return
		}
		if (this.dropLogged) return
		this.dropLogged = true
		this.d.log.error(
			{ err: err.message, kind, health: this.journal?.health },
			'journal: records are being dropped (the memory queue is full or the journal closed); they are counted in a dropped record',
		)
	}

	private fault(h: JournalHealth): void {
		const message = `journal: cannot write to ${this.d.dir} (${h.reason ?? 'unknown'}); the daemon goes on controlling, its records are held in memory (${h.queued} now, up to ${h.maxQueued}) and written when the disk takes them`
		this.d.log.error({ health: h }, message)
		this.d.failed(true, message)
	}
}
