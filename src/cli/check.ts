// `sigpath check FILE [--json]`: 0 every critical feed compliant, 1 violations, 2 invalid config (docs/contract.md §1, §3).
import type { Config } from '../domain/config.ts'
import { loadConfigFile } from '../domain/load.ts'
import { unsetSecrets } from '../domain/secrets.ts'
import { judge, type FeedReport, type Report } from '../rule/index.ts'
import { parse, UsageError, type Command } from './io.ts'

const USAGE = 'sigpath check FILE [--json]'

export const command: Command = async (argv, io) => {
	const { values, positionals } = parse(argv, { json: { type: 'boolean' } }, USAGE)
	if (positionals.length !== 1) throw new UsageError(`expected one FILE\nusage: ${USAGE}`)
	const config = loadConfigFile(positionals[0]!)
	const report = judge(config)
	// a secret whose variable is not set here is a warning, not a violation: check often runs where the daemon does not
	// (§6a); so is the power analysis unless policy.discretePower makes it a violation (§3). Neither moves the exit code.
	const warnings = [
		...report.warnings,
		...unsetSecrets(config).map(
			(u) => `${u.path}: environment variable ${u.variable} is not set (sigpath run would exit 78)`,
		),
		...journalKeyWarnings(config),
	]
	if (values.json) io.out(`${JSON.stringify({ ...report, warnings }, null, 2)}\n`)
	else {
		io.out(formatReport(report, config.site.id))
		for (const w of warnings) io.err(`warning: ${w}\n`)
	}
	return report.ok ? 0 : 1
}

/**
 * journal.key is not a SECRET_KEYS key (`key` elsewhere is a TLS key file's path), so it is looked at here: an
 * unkeyed chain can be edited and re-made by whoever can write the directory (docs/contract.md §8).
 */
function journalKeyWarnings(config: Config, env: NodeJS.ProcessEnv = process.env): string[] {
	const key = config.journal?.key
	if (!key)
		return [
			"journal.key: not set: the journal's chain is not keyed, so whoever can write its directory can alter records and re-make the chain; set journal.key: { env: NAME } (docs/contract.md §8)",
		]
	const v = env[key.env]
	return v === undefined || v === ''
		? [`journal.key: environment variable ${key.env} is not set (sigpath run would exit 78)`]
		: []
}

/** the feed line's note of its warnings, which are printed with the others on stderr */
const warned = (f: FeedReport): string =>
	f.warnings.length === 0 ? '' : `, ${f.warnings.length} warning${f.warnings.length === 1 ? '' : 's'}`

export function formatReport(report: Report, site: string): string {
	const critical = report.feeds.filter((f) => f.critical)
	const bad = critical.filter((f) => !f.compliant)
	const lines: string[] = []
	for (const f of report.feeds) {
		const name = `${f.event}/${f.feed}`
		if (!f.critical) lines.push(`  -  ${name}: not critical`)
		else if (f.compliant) lines.push(`  ok ${name}: compliant${warned(f)}`)
		else {
			lines.push(`  !! ${name}: ${f.violations.length} violation${f.violations.length === 1 ? '' : 's'}${warned(f)}`)
			for (const v of f.violations) lines.push(`       ${v.code}: ${v.detail}`)
		}
	}
	const head =
		bad.length === 0
			? `${site}: every critical feed is compliant (${critical.length} critical of ${report.feeds.length} feeds)`
			: `${site}: ${bad.length} of ${critical.length} critical feeds violate the contribution rule`
	return `${head}\n${lines.join('\n')}${lines.length ? '\n' : ''}`
}
