// `sigpath journal verify DIR [--json]`: check the hash chain, name the first bad record; exit 0 good, 1 bad, 2 usage.
// `sigpath journal timeline DIR --feed E/F [--from T] [--to T] [--run N] [--config FILE]`: a replay timeline of one
// feed, from one daemon run (default the last), with the engine's t and `at` unchanged.
import { existsSync, statSync } from 'node:fs'
import { loadConfigFile } from '../domain/load.ts'
import { buildModel, type FeedKey } from '../domain/model.ts'
import { describeProblem, extractTimeline, readRecords, scanDir } from '../journal/index.ts'
import { parse, UsageError, type CliIo, type Command } from './io.ts'

const USAGE =
	'sigpath journal verify DIR [--json] | sigpath journal timeline DIR --feed E/F [--from T] [--to T] [--run N] [--config FILE]'

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

function verify(argv: string[], io: CliIo): number {
	const { values, positionals } = parse(argv, { json: { type: 'boolean' } }, USAGE)
	const dir = dirArg(positionals)
	const r = scanDir(dir)
	const ok = r.firstBad === null
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
			})}\n`,
		)
		return ok ? 0 : 1
	}
	const summary = `${r.records} record${r.records === 1 ? '' : 's'} in ${r.files.length} file${r.files.length === 1 ? '' : 's'}`
	if (ok) {
		io.out(
			r.last
				? `${dir}: ok: ${summary}, seq ${r.last.seq}, the chain verifies (head ${r.last.hash})\n`
				: `${dir}: ok: no records\n`,
		)
		return 0
	}
	const lines = [`${dir}: BAD: first bad record: ${describeProblem(r.firstBad!)}`]
	if (r.torn && r.firstBad !== r.torn)
		lines.push(`also a torn tail: ${describeProblem(r.torn)} (${r.torn.bytes} bytes; opening the journal cuts it)`)
	else if (r.torn) lines.push(`it is a torn tail of ${r.torn.bytes} bytes: opening the journal cuts it`)
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
		},
		USAGE,
	)
	const dir = dirArg(positionals)
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
	const scan = scanDir(dir)
	if (scan.firstBad) io.err(`warning: ${describeProblem(scan.firstBad)} (run \`sigpath journal verify ${dir}\`)\n`)
	let x
	try {
		x = extractTimeline(readRecords(dir), {
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
