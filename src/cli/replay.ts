// `sigpath replay FILE TIMELINE [--json] [--until T] [--explain]`: the failover engine over a recorded timeline, in
// virtual time, no I/O beyond reading the two files (docs/contract.md §1, §4). Exit 0; 2 invalid config or timeline.
import { readFileSync } from 'node:fs'
import { loadConfigFile } from '../domain/load.ts'
import { buildModel } from '../domain/model.ts'
import {
	jsonLine,
	mergeByTime,
	parseTimeline,
	powerJsonLine,
	powerTextLine,
	replay,
	replayPower,
	textLine,
	TimelineError,
} from '../engine/index.ts'
import { parse, UsageError, type Command } from './io.ts'

const USAGE = 'sigpath replay FILE TIMELINE [--json] [--until T] [--explain]'

export const command: Command = async (argv, io) => {
	const { values, positionals } = parse(
		argv,
		{ json: { type: 'boolean' }, until: { type: 'string' }, explain: { type: 'boolean' } },
		USAGE,
	)
	if (positionals.length !== 2) throw new UsageError(`expected FILE and TIMELINE\nusage: ${USAGE}`)
	let until: number | undefined
	if (values.until !== undefined) {
		if (!/^\d+$/.test(values.until)) throw new UsageError(`--until must be an integer number of ms\nusage: ${USAGE}`)
		until = Number(values.until)
	}
	const model = buildModel(loadConfigFile(positionals[0]!))
	const file = positionals[1]!
	let text: string
	try {
		text = readFileSync(file, 'utf8')
	} catch (err) {
		io.err(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`)
		return 2
	}
	try {
		const records = parseTimeline(text, model, file)
		const options = until !== undefined ? { until } : {}
		// the engine's decisions, alarms and refusals, and the power monitor's alarms from the UPS records
		const outputs = mergeByTime(replay(model, records, options), replayPower(model, records, options))
		const verbose = values.explain === true
		const lines: string[] = []
		for (const o of outputs) {
			const l =
				o.kind === 'power'
					? values.json
						? powerJsonLine(o)
						: powerTextLine(o)
					: values.json
						? jsonLine(o, verbose)
						: textLine(o, verbose)
			if (l !== undefined) lines.push(l)
		}
		if (!values.json && lines.length === 0) lines.push('no decisions, alarms or refusals')
		io.out(lines.length > 0 ? `${lines.join('\n')}\n` : '')
		return 0
	} catch (err) {
		if (err instanceof TimelineError) {
			io.err(`${file}:${err.line}: ${err.problem}\n`)
			return 2
		}
		throw err
	}
}
