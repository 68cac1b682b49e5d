// `sigpath run --config FILE`: the daemon, in the foreground (systemd runs it). 0 clean stop; 78 invalid config.
//
// A fault nothing handled (fatal.ts) is one fatal log line, a bounded clean stop and exit 70.
// Signals: SIGTERM/SIGINT stop cleanly (in-flight takes settle, journal flushed, MQTT online=false). SIGHUP reloads:
// the new file is validated first and the old config kept, with the reason, when it does not validate; a valid one
// replaces the running daemon through the same restart path as a cold start, which never moves a crosspoint.
//
// In a pair (`ha` in the config, docs/contract.md §9) each node names itself: `--node NAME`, or SIGPATH_NODE.
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import type { Config } from '../domain/config.ts'
import { nodeName, NodeNameError } from '../domain/ha.ts'
import { ConfigError, loadConfigFileText } from '../domain/load.ts'
import { SecretError } from '../domain/secrets.ts'
import { createLogger } from '../log.ts'
import { Daemon } from '../runtime/daemon.ts'
import { SystemdNotifier } from '../runtime/notify.ts'
import type { StatusServer } from '../status/server.ts'
import { onFatal } from './fatal.ts'
import { startStatus } from './status-hook.ts'
import { EXIT, parse, UsageError, type Command } from './io.ts'

const USAGE = 'sigpath run --config FILE [--node NAME]   (NAME also from SIGPATH_NODE; needed with `ha`)'

export const command: Command = async (argv, io) => {
	const { values, positionals } = parse(
		argv,
		{ config: { type: 'string', short: 'c' }, node: { type: 'string', short: 'n' } },
		USAGE,
	)
	if (values.config === undefined || positionals.length > 0)
		throw new UsageError(`expected --config FILE\nusage: ${USAGE}`)
	const file = values.config
	let loaded
	try {
		loaded = loadConfigFileText(file)
	} catch (err) {
		// EX_CONFIG (78): systemd's Restart=on-failure must not spin on a config that will never load
		if (err instanceof ConfigError) {
			io.err(`${err.message}\n`)
			return EXIT.daemonConfig
		}
		throw err
	}
	let node: string
	try {
		node = nodeName(values.node, process.env, loaded.config.ha !== undefined, hostname())
	} catch (err) {
		if (!(err instanceof NodeNameError)) throw err
		io.err(`${file}: ${err.message}\n`)
		return EXIT.daemonConfig
	}
	const log = createLogger(loaded.config.log?.level ?? 'info')
	const notifier = new SystemdNotifier(log)
	const runner = new Runner(log, notifier, node)
	// a fault nothing handled: one fatal line in the log, a bounded clean stop, exit 70 (no stack trace on stderr)
	onFatal({ log, stop: (why) => runner.stop(`fatal: ${why}`) })
	const done = new Promise<number>((resolve) => {
		for (const sig of ['SIGTERM', 'SIGINT'] as const)
			process.once(sig, () => {
				log.info({ signal: sig }, 'signal received')
				runner.stop(sig).then(
					() => resolve(EXIT.ok),
					(err: unknown) => {
						log.error({ err }, 'stop failed')
						resolve(1)
					},
				)
			})
		process.on('SIGHUP', () => void runner.reload(file))
	})
	try {
		await runner.start(loaded.config, loaded.text)
	} catch (err) {
		if (err instanceof SecretError) {
			// a secret named in the config is not in the environment: as invalid as a bad config
			io.err(`${file}: ${err.message}\n`)
			await runner.stop('invalid config')
			return EXIT.daemonConfig
		}
		log.fatal({ err }, 'start failed')
		await runner.stop('start failed')
		return 1
	}
	notifier.startWatchdog(() => runner.healthy())
	return done
}

/** Owns the running daemon across reloads. */
class Runner {
	private daemon: Daemon | undefined
	private http: StatusServer | undefined
	private current: { config: Config; text: string } | undefined
	private statusTimer: NodeJS.Timeout | undefined
	private busy: Promise<void> = Promise.resolve()

	constructor(
		private readonly log: Logger,
		private readonly notifier: SystemdNotifier,
		private readonly node: string,
	) {}

	healthy(): boolean {
		return this.daemon?.healthy() ?? false
	}

	async start(config: Config, text: string): Promise<void> {
		const daemon = new Daemon({ config, configText: text, log: this.log, node: this.node })
		this.daemon = daemon
		this.current = { config, text }
		daemon.events.once('ready', () => this.notifier.ready(this.summary()))
		// the status endpoint first: /readyz answers 503 during the first sync
		const { server, url } = await startStatus(daemon, config, this.log)
		this.http = server
		this.log.info({ url: `${url}/status` }, 'status endpoint up')
		await daemon.start()
		this.log.info({ site: config.site.id, feeds: daemon.model.feeds.size }, 'sigpath running')
		this.statusTimer ??= setInterval(() => this.notifier.status(this.summary()), 10_000)
	}

	private summary(): string {
		const d = this.daemon
		if (!d) return 'stopped'
		const s = d.status()
		const critical = s.feeds.filter((f) => f.critical)
		const ok = critical.filter((f) => f.compliance.compliant).length
		// every active alarm, a device's and the journal's too, not only the feeds'
		return `${s.feeds.length} feeds, ${ok}/${critical.length} critical compliant, ${s.alarms.length} alarms`
	}

	reload(file: string): Promise<void> {
		this.busy = this.busy.then(async () => {
			this.notifier.reloading()
			let next
			try {
				next = loadConfigFileText(file)
			} catch (err) {
				const why =
					err instanceof ConfigError ? err.problems.map((p) => `${p.path}: ${p.message}`).join('; ') : String(err)
				this.log.error({ file, why }, 'reload refused: the new config is invalid; keeping the running one')
				this.notifier.ready(`reload refused (${why.slice(0, 200)}); ${this.summary()}`)
				return
			}
			if (next.text === this.current?.text) {
				this.log.info('reload: the config is unchanged')
				this.notifier.ready(this.summary())
				return
			}
			const previous = this.current!
			this.log.info({ file }, 'reload: a valid new config; restarting the daemon on it (no crosspoint moves)')
			await this.http?.stop()
			await this.daemon?.stop('reload', { keepOnline: true })
			try {
				await this.start(next.config, next.text)
			} catch (err) {
				this.log.error({ err }, 'reload: the new config would not start; going back to the previous one')
				await this.http?.stop()
				await this.daemon?.stop('reload failed', { keepOnline: true })
				await this.start(previous.config, previous.text)
			}
		})
		return this.busy
	}

	async stop(reason: string): Promise<void> {
		await this.busy
		this.notifier.stopping(reason)
		if (this.statusTimer) clearInterval(this.statusTimer)
		await this.http?.stop()
		await this.daemon?.stop(reason)
		this.notifier.close()
	}
}
