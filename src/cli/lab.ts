// `sigpath lab [FILE]` (what `npm start` runs). Until the simulated BOC lands (devices on loopback in their real
// protocols, the embedded broker, the daemon and the dashboard), it checks the lab config and says so plainly.
import { loadConfigFile } from '../domain/load.ts'
import { judge } from '../rule/index.ts'
import { formatReport } from './check.ts'
import { parse, UsageError, type Command } from './io.ts'

const USAGE = 'sigpath lab [FILE]'

export const command: Command = async (argv, io) => {
	const { positionals } = parse(argv, {}, USAGE)
	if (positionals.length > 1) throw new UsageError(`expected at most one FILE\nusage: ${USAGE}`)
	const file = positionals[0] ?? 'config/lab.yaml'
	const config = loadConfigFile(file)
	const report = judge(config)
	io.out(formatReport(report, config.site.id))
	io.out(
		`\nThe simulated lab is not built yet: this only checked ${file} (${config.devices.length} devices, ${config.events.length} events).\n` +
			'Coming: every device of the config simulated on loopback in its real protocol, the embedded MQTT broker,\n' +
			'the daemon and its dashboard. Meanwhile: `npm run --silent sigpath -- check FILE` judges any config.\n',
	)
	return report.ok ? 0 : 1
}
