// The tamper-evident audit journal: hash-chained JSON lines, group commit, rotation, recovery and extraction.
export {
	Journal,
	JournalDropped,
	JournalError,
	type Appended,
	type JournalHead,
	type JournalHealth,
	type JournalRecovered,
	type JournalClock,
	type JournalDurable,
	type JournalIo,
	type JournalOptions,
} from './journal.ts'
export { chainHash, GENESIS, parseLine, serialize, sha256, type JournalRecord } from './record.ts'
export {
	cuttable,
	describeProblem,
	fileName,
	listFiles,
	scanDir,
	type Problem,
	type ScanFrom,
	type ScanResult,
} from './scan.ts'
export {
	checkPayload,
	entriesFor,
	entriesForOutput,
	KINDS,
	Payloads,
	type Entry,
	type Kind,
	type Payload,
} from './kinds.ts'
export {
	extractTimeline,
	foldFeed,
	recoverFeeds,
	runs,
	type Extracted,
	type ExtractOptions,
	type FeedState,
} from './recover.ts'
export {
	Checkpointer,
	CHECKPOINT_FILE,
	encodeCheckpoint,
	readCheckpoint,
	writeCheckpoint,
	type Checkpoint,
	type CheckpointRead,
} from './checkpoint.ts'
export { openJournal, type RestoreOptions, type Restored } from './restore.ts'
export { applyRetention, expiredFiles, type RetentionResult } from './retention.ts'

import type { JournalRecord } from './record.ts'
import { scanDir } from './scan.ts'

/** Every record of DIR that reads, in chain order (see scanDir for the problems; `key` for a keyed chain). */
export function readRecords(dir: string, key?: Buffer): JournalRecord[] {
	const out: JournalRecord[] = []
	scanDir(dir, (r) => out.push(r), key)
	return out
}
