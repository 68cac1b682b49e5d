// `sigpath run --config FILE`: the daemon, in the foreground (systemd runs it). 0 clean stop; 78 invalid config.
import { readFileSync } from 'node:fs'
import { ConfigError, parseConfigText } from '../domain/load.ts'
import { createLogger } from '../log.ts'
import { Daemon } from '../runtime/daemon.ts'
import { EXIT, parse, UsageError, type Command } from './io.ts'

const USAGE = 'sigpath run --config FILE'

export const command: Command = async (argv, io) => {
	const { values, positionals } = parse(argv, { config: { type: 'string', short: 'c' } }, USAGE)
	if (values.config === undefined || positionals.length > 0)
		throw new UsageError(`expected --config FILE\nusage: ${USAGE}`)
	let text: string
	let config
	try {
		text = readFileSync(values.config, 'utf8')
		config = parseConfigText(text, values.config)
	} catch (err) {
		// EX_CONFIG (78): systemd's Restart=on-failure must not spin on a config that will never load
		if (err instanceof ConfigError) io.err(`${err.message}\n`)
		else io.err(`${values.config}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`)
		return EXIT.daemonConfig
	}
	const log = createLogger(config.log?.level ?? 'info')
	const daemon = new Daemon({ config, configText: text, log })
	let stopping: Promise<void> | undefined
	const stop = (signal: string) => {
		stopping ??= daemon.stop(signal)
		return stopping
	}
	const done = new Promise<number>((resolve) => {
		for (const sig of ['SIGTERM', 'SIGINT'] as const)
			process.once(sig, () => {
				log.info({ signal: sig }, 'signal received')
				stop(sig).then(
					() => resolve(EXIT.ok),
					(err: unknown) => {
						log.error({ err }, 'stop failed')
						resolve(1)
					},
				)
			})
	})
	try {
		await daemon.start()
	} catch (err) {
		log.fatal({ err }, 'start failed')
		await stop('start failed')
		return 1
	}
	log.info({ site: config.site.id, feeds: daemon.model.feeds.size }, 'sigpath running')
	return done
}
