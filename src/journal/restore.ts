// Opening the journal for a start: the chain's position and each feed's restore state (active path, mode, lock) in
// one read, from the checkpoint when it holds (checkpoint.ts), else from the whole journal.
//
// With a usable checkpoint, only the records after its record are read: the time a start takes does not grow with
// the journal. The torn tail is found and cut as always (it is at the end, which is read either way). A checkpoint
// that is missing, does not check, or names a record the journal no longer holds as it says, is not trusted: the
// whole journal is scanned instead, which gives the same state, only slower, and the reason is a warning; a new
// checkpoint is written as soon as the journal takes writes.
import { Checkpointer, CHECKPOINT_FILE, readCheckpoint } from './checkpoint.ts'
import { Journal } from './journal.ts'
import type { JournalOptions } from './journal-types.ts'
import { foldFeed, type FeedState } from './recover.ts'

export interface RestoreOptions extends Omit<JournalOptions, 'from' | 'onRecord'> {
	/** the checkpoint's cadence (Checkpointer): bytes of records, and time */
	checkpointEveryBytes?: number
	checkpointEveryMs?: number
	/** a checkpoint could not be written */
	onCheckpointError?: (err: Error) => void
}

export interface Restored {
	journal: Journal
	/** each feed's state as the journal last knew it (a copy: the checkpointer's own goes on changing) */
	feeds: Map<string, FeedState>
	checkpointer: Checkpointer
	/** 'checkpoint': the checkpoint and the records after it; 'scan': the whole journal; 'empty': nothing to read */
	from: 'checkpoint' | 'scan' | 'empty'
	/** records and bytes read */
	records: number
	bytes: number
	/** what an operator should know: why the checkpoint was not used */
	warnings: string[]
}

export function openJournal(o: RestoreOptions): Restored {
	const cp = readCheckpoint(o.dir, o.key)
	const feeds = new Map<string, FeedState>(cp.ok ? Object.entries(cp.checkpoint.feeds) : [])
	const journal = Journal.open({
		...o,
		...(cp.ok ? { from: cp.from } : {}),
		onRecord: (r) => foldFeed(feeds, r),
	})
	const report = journal.report
	const warnings: string[] = []
	const from = cp.ok ? 'checkpoint' : report.files.length > 0 ? 'scan' : 'empty'
	// a journal of files with no record in them (a crash right after a rotation) has nothing a checkpoint would save
	if (!cp.ok && report.files.length > 0 && (!cp.missing || report.records > 0))
		warnings.push(
			`journal: ${cp.missing ? 'no checkpoint' : `the checkpoint ${CHECKPOINT_FILE} is not used: ${cp.why}`}; mode and lock restored from a full scan of the journal (${report.records} records, ${(report.bytes / 2 ** 20).toFixed(1)} MiB)`,
		)
	const copy = new Map([...feeds].map(([k, v]) => [k, { ...v }]))
	const checkpointer = new Checkpointer(journal, {
		dir: o.dir,
		...(o.key ? { key: o.key } : {}),
		feeds,
		report,
		...(cp.ok ? { written: cp.checkpoint.seq } : {}),
		...(o.checkpointEveryBytes !== undefined ? { everyBytes: o.checkpointEveryBytes } : {}),
		...(o.checkpointEveryMs !== undefined ? { everyMs: o.checkpointEveryMs } : {}),
		...(o.clock ? { wall: o.clock.wall } : {}),
		...(o.onCheckpointError ? { onError: o.onCheckpointError } : {}),
	})
	// the next start should not scan again; a faulted journal's directory takes no checkpoint either (it is tried at
	// the next one)
	if (from === 'scan' && journal.health.ok) checkpointer.save()
	return { journal, feeds: copy, checkpointer, from, records: report.records, bytes: report.bytes, warnings }
}
