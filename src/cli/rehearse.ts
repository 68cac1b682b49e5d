// `sigpath rehearse SCENARIO [--json]`: a rehearsal against the lab. 0 every expectation held; 1 one did not;
// 2 a bad scenario or config.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CORE_SCHEMA, load as loadYaml } from 'js-yaml'
import { pino } from 'pino'
import { loadConfigFile, zodProblems, formatProblem } from '../domain/load.ts'
import { LabError } from '../lab/errors.ts'
import { Lab } from '../lab/lab.ts'
import { onFreePorts } from '../lab/ports.ts'
import { rehearse, Scenario } from '../lab/rehearse.ts'
import { parse, UsageError, type Command } from './io.ts'

const USAGE = 'sigpath rehearse SCENARIO [--json]'

export const command: Command = async (argv, io) => {
	const { values, positionals } = parse(argv, { json: { type: 'boolean' } }, USAGE)
	if (positionals.length !== 1) throw new UsageError(`expected one SCENARIO file\nusage: ${USAGE}`)
	const file = positionals[0]!
	let raw: unknown
	try {
		raw = loadYaml(readFileSync(file, 'utf8'), { schema: CORE_SCHEMA })
	} catch (err) {
		throw new UsageError(`${file}: ${(err as Error).message.split('\n')[0]}`)
	}
	const parsed = Scenario.safeParse(raw)
	if (!parsed.success)
		throw new UsageError(`${file}: invalid scenario:\n${zodProblems(parsed.error).map(formatProblem).join('\n')}`)
	const scenario = parsed.data
	const base = loadConfigFile(scenario.config)
	// a rehearsal is a lab of its own: its scratch directory (journal, broker, serial ptys) and free ports, so it
	// runs beside a lab that holds the config's ports, and never mixes its journal with the lab's or a daemon's
	const dir = mkdtempSync(join(tmpdir(), 'sigpath-rehearsal-'))
	const t0 = Date.now()
	let results
	try {
		const moved = await onFreePorts(base, dir)
		const config = {
			...moved,
			journal: {
				dir: join(dir, 'journal'),
				rotateBytes: base.journal?.rotateBytes ?? 64 * 1024 * 1024,
				retainDays: base.journal?.retainDays ?? 90,
			},
		}
		const quiet = pino({ level: 'silent' })
		const lab = new Lab({ config, log: quiet, dir })
		io.err(`rehearsal: ${scenario.name}: starting the lab (${scenario.config})...\n`)
		try {
			await lab.start()
			const deadline = Date.now() + 20_000
			while (!lab.daemon!.isReady() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
			// the venue's SRT senders need a moment to connect: wait until every SRT path is up
			await settle(lab, 20_000)
			results = await rehearse(scenario, lab)
		} finally {
			await lab.stop()
		}
	} catch (err) {
		if (!(err instanceof LabError)) throw err
		io.err(`sigpath rehearse: ${err.message}\n`)
		return 1
	} finally {
		rmSync(dir, { recursive: true, force: true })
	}
	const ok = results.every((r) => r.ok)
	if (values.json)
		io.out(
			`${JSON.stringify({ scenario: scenario.name, ok, seconds: (Date.now() - t0) / 1000, steps: results }, null, 2)}\n`,
		)
	else {
		io.out(`rehearsal: ${scenario.name}\n`)
		for (const r of results)
			io.out(
				`  ${r.ok ? 'ok  ' : 'FAIL'} +${(r.atMs / 1000).toFixed(3)}s ${r.kind === 'fault' ? 'fault ' : 'expect'} ${r.text}\n`,
			)
		io.out(`${ok ? 'PASS' : 'FAIL'}: ${results.filter((r) => r.ok).length}/${results.length} steps\n`)
	}
	return ok ? 0 : 1
}

async function settle(lab: Lab, ms: number): Promise<void> {
	const deadline = Date.now() + ms
	const d = lab.daemon!
	const srtDevices = new Set(lab.sims.srt.keys())
	const pending = () =>
		[...d.model.feeds.values()].some((ref) =>
			ref.feed.paths.some(
				(p) => p.via.some((v) => srtDevices.has(v)) && d.feedState(ref.key).paths[p.id]?.signal === null,
			),
		)
	while (pending() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
}
