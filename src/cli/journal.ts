// `sigpath journal verify DIR [--json] [--key-env NAME] [--head SEQ:HASH]`: check the hash chain (keyed: with the key
// in $NAME), name the first bad record; with --head, check that the journal still holds that record with that hash
// (a head kept elsewhere catches a journal cut short, which no chain can show by itself); exit 0 good, 1 bad, 2 usage.
// `sigpath journal timeline DIR --feed E/F [--from T] [--to T] [--run N] [--config FILE]`: a replay timeline of one
// feed, from one daemon run (default the last), with the engine's t and `at` unchanged.
import { existsSync, statSync } from 'node:fs'
import { loadConfigFile } from '../domain/load.ts'
import { buildModel, type FeedKey } from '../domain/model.ts'
import { cuttable, describeProblem, extractTimeline, readRecords, scanDir, type ScanResult } from '../journal/index.ts'
import { parse, UsageError, type CliIo, type Command } from './io.ts'

const USAGE =
	'sigpath journal verify DIR [--json] [--key-env NAME] [--head SEQ:HASH] | sigpath journal timeline DIR --feed E/F [--from T] [--to T] [--run N] [--config FILE] [--key-env NAME]'

export const command: Command = async (argv, io) => {
	const [sub, ...rest] = argv
	if (sub === 'verify') return verify(rest, io)
	if (sub === 'timeline') return timeline(rest, io)
	throw new UsageError(`expected "verify" or "timeline"\nusage: ${USAGE}`)
}

function dirArg(positionals: string[]): string {
	if (positionals.length !== 1) throw new UsageError(`expected one DIR\nusage: ${USAGE}`)
	const dir = positionals[0]!
	if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${dir}: no such directory`)
	return dir
}

/** The key of a keyed chain from the variable --key-env names; a name that is not set is a usage error. */
function keyArg(name: string | undefined): Buffer | undefined {
	if (name === undefined) return undefined
	const v = process.env[name]
	if (v === undefined || v === '')
		throw new UsageError(`--key-env ${name}: the environment variable ${name} is not set`)
	return Buffer.from(v, 'utf8')
}

interface HeadCheck {
	seq: number
	hash: string
	ok: boolean
	why?: string
	/** ok, but its record was removed by retention: only what came after it could be checked */
	note?: string
}

function headArg(v: string | undefined): { seq: number; hash: string } | undefined {
	if (v === undefined) return undefined
	const m = /^(\d+):([0-9a-f]{64})$/.exec(v)
	if (!m || Number(m[1]) < 1) throw new UsageError(`--head must be SEQ:HASH (a seq and 64 hex digits)\nusage: ${USAGE}`)
	return { seq: Number(m[1]), hash: m[2]! }
}

/** The head is a record the journal held once: it must still be there, with the same hash. */
function checkHead(
	head: { seq: number; hash: string },
	r: ScanResult,
	found: string | undefined,
	first: number | undefined,
): HeadCheck {
	const last = r.last?.seq ?? 0
	if (last < head.seq)
		return {
			...head,
			ok: false,
			why: `truncated: the head is seq ${head.seq} but the journal ends at seq ${last}: ${head.seq - last} record${head.seq - last === 1 ? '' : 's'} missing from its end`,
		}
	// older than the journal's start, which a retention record accounts for: what follows it is all there
	if (found === undefined && first !== undefined && head.seq < first && head.seq < r.retainedFrom)
		return {
			...head,
			ok: true,
			note: `record ${head.seq} of the head was removed by retention (the journal starts at seq ${first}); nothing after it is missing`,
		}
	if (found === undefined)
		return { ...head, ok: false, why: `record ${head.seq} of the head is not in the journal (removed)` }
	if (found !== head.hash)
		return {
			...head,
			ok: false,
			why: `record ${head.seq} has hash ${found}, not the head's ${head.hash}: the journal was rewritten from there on`,
		}
	return { ...head, ok: true }
}

function verify(argv: string[], io: CliIo): number {
	const { values, positionals } = parse(
		argv,
		{ json: { type: 'boolean' }, 'key-env': { type: 'string' }, head: { type: 'string' } },
		USAGE,
	)
	const dir = dirArg(positionals)
	const key = keyArg(values['key-env'])
	const head = headArg(values.head)
	let found: string | undefined
	let first: number | undefined
	const r = scanDir(
		dir,
		(rec) => {
			first ??= rec.seq
			if (head && rec.seq === head.seq && found === undefined) found = rec.hash
		},
		key,
	)
	const headCheck = head ? checkHead(head, r, found, first) : undefined
	const ok = r.firstBad === null && headCheck?.ok !== false
	if (values.json) {
		io.out(
			`${JSON.stringify({
				ok,
				files: r.files.length,
				records: r.records,
				lastSeq: r.last?.seq ?? 0,
				head: r.last?.hash ?? null,
				firstBad: r.firstBad,
				torn: r.torn,
				broken: r.broken,
				...(headCheck ? { headCheck } : {}),
			})}\n`,
		)
		return ok ? 0 : 1
	}
	const summary = `${r.records} record${r.records === 1 ? '' : 's'} in ${r.files.length} file${r.files.length === 1 ? '' : 's'}`
	const keyed = key ? ' (keyed)' : ''
	const headOk = headCheck
		? headCheck.note !== undefined
			? `; ${headCheck.note}`
			: `; it holds the head, seq ${headCheck.seq}`
		: ''
	if (ok) {
		io.out(
			r.last
				? `${dir}: ok: ${summary}, seq ${r.last.seq}, the chain verifies${keyed} (head ${r.last.hash})${headOk}\n`
				: `${dir}: ok: no records\n`,
		)
		return 0
	}
	if (r.firstBad === null) {
		io.out(`${dir}: BAD: ${headCheck!.why!}\n${summary}, the chain verifies${keyed} up to seq ${r.last?.seq ?? 0}\n`)
		return 1
	}
	const lines = [`${dir}: BAD: first bad record: ${describeProblem(r.firstBad)}`]
	if (headCheck && !headCheck.ok) lines.push(`and the head: ${headCheck.why!}`)
	const opening = cuttable(r)
		? 'opening the journal cuts it'
		: `${r.torn?.mismatched} whole records whose hashes do not match: not a torn write, opening the journal refuses it (is the key right?)`
	if (r.torn && r.firstBad !== r.torn)
		lines.push(`also a torn tail: ${describeProblem(r.torn)} (${r.torn.bytes} bytes; ${opening})`)
	else if (r.torn) lines.push(`it is a torn tail of ${r.torn.bytes} bytes: ${opening}`)
	if (r.broken.length > 1) lines.push(`${r.broken.length - 1} more problem${r.broken.length > 2 ? 's' : ''} after it`)
	lines.push(summary)
	io.out(`${lines.join('\n')}\n`)
	return 1
}

function int(v: string | undefined, name: string): number | undefined {
	if (v === undefined) return undefined
	if (!/^\d+$/.test(v)) throw new UsageError(`${name} must be a non-negative integer\nusage: ${USAGE}`)
	return Number(v)
}

function timeline(argv: string[], io: CliIo): number {
	const { values, positionals } = parse(
		argv,
		{
			feed: { type: 'string' },
			from: { type: 'string' },
			to: { type: 'string' },
			run: { type: 'string' },
			config: { type: 'string' },
			'key-env': { type: 'string' },
		},
		USAGE,
	)
	const dir = dirArg(positionals)
	const key = keyArg(values['key-env'])
	const feed = values.feed
	if (feed === undefined || !/^[^/]+\/[^/]+$/.test(feed))
		throw new UsageError(`--feed E/F is required\nusage: ${USAGE}`)
	const from = int(values.from, '--from')
	const to = int(values.to, '--to')
	const run = int(values.run, '--run')
	let devices: Set<string> | undefined
	if (values.config !== undefined) {
		const model = buildModel(loadConfigFile(values.config))
		const ref = model.feeds.get(feed as FeedKey)
		if (!ref) throw new UsageError(`feed ${feed} is not in ${values.config}`)
		devices = new Set(ref.ranked.flatMap((p) => [...p.via, p.input.router]))
		// and the UPS units that watch their power sources: their readings replay the feed's power alarms
		for (const d of [...devices])
			for (const src of model.devices.get(d)?.power ?? []) {
				const ups = model.powerSources.get(src)?.device
				if (ups !== undefined) devices.add(ups)
			}
	}
	const scan = scanDir(dir, undefined, key)
	if (scan.firstBad) io.err(`warning: ${describeProblem(scan.firstBad)} (run \`sigpath journal verify ${dir}\`)\n`)
	let x
	try {
		x = extractTimeline(readRecords(dir, key), {
			feed,
			...(from !== undefined ? { from } : {}),
			...(to !== undefined ? { to } : {}),
			...(run !== undefined ? { run } : {}),
			...(devices ? { devices } : {}),
		})
	} catch (err) {
		if (err instanceof RangeError) throw new UsageError(err.message)
		throw err
	}
	// stdout is the timeline alone (JSON lines); what a reader should know goes to stderr
	io.err(
		[
			`run ${run ?? x.runs} of ${x.runs}: ${x.timeline.length} records; replay with --until ${x.lastT} to cover the decisions journaled`,
			...x.notes,
		].join('\n') + '\n',
	)
	io.out(x.timeline.map((r) => `${JSON.stringify(r)}\n`).join(''))
	return 0
}
