// What `sigpath run` does with a fault nothing handled: a promise rejected with nobody to take it, an exception thrown
// from a callback. Node would print a stack trace on stderr (and, for a rejection, might not even exit); an operator
// gets one fatal line in the log instead, with pino's structured error (message, type, stack) in it for whoever
// debugs it, then a clean stop bounded in time (in-flight takes settle, the journal is flushed, MQTT says offline)
// and exit 70, so that systemd restarts the daemon. A second fault during that stop exits at once.
import type { Logger } from 'pino'
import { EXIT } from './io.ts'

export interface FatalOptions {
	log: Logger
	/** the clean stop (bounded by `stopTimeoutMs`) */
	stop: (reason: string) => Promise<void>
	stopTimeoutMs?: number
	exit?: (code: number) => never
}

/** Installs the handlers; returns a function that removes them. */
export function onFatal(o: FatalOptions): () => void {
	const exit = o.exit ?? ((code: number) => process.exit(code))
	let fatal = false
	const handle = (what: string) => (err: unknown) => {
		const first = !fatal
		fatal = true
		o.log.fatal(
			{ err },
			`${what}: ${err instanceof Error ? err.message : String(err)}; stopping (exit ${EXIT.internal})`,
		)
		if (!first) return exit(EXIT.internal)
		let timer: NodeJS.Timeout | undefined
		const bound = new Promise<void>((r) => (timer = setTimeout(r, o.stopTimeoutMs ?? 5000)))
		void Promise.race([o.stop(what).catch(() => undefined), bound]).finally(() => {
			clearTimeout(timer)
			exit(EXIT.internal)
		})
	}
	const onException = handle('uncaught exception')
	const onRejection = handle('unhandled promise rejection')
	process.on('uncaughtException', onException)
	process.on('unhandledRejection', onRejection)
	return () => {
		process.off('uncaughtException', onException)
		process.off('unhandledRejection', onRejection)
	}
}
