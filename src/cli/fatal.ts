// What `sigpath run` does with a fault nothing handled: a promise rejected with nobody to take it, an exception thrown
// from a callback. Node would print its stack trace on stderr and exit 1 mid-flight; an operator gets one fatal line in
// the log instead, with pino's structured error (message, type, stack) in it for whoever debugs it, then a clean stop
// bounded in time (in-flight takes settle, the journal is flushed, MQTT says offline), the log flushed, and exit 70,
// so that systemd restarts the daemon. A second fault during that stop exits at once (after the flush).
import { symbols, type Logger } from 'pino'
import { EXIT } from './io.ts'

export interface FatalOptions {
	log: Logger
	/** the clean stop (bounded by `stopTimeoutMs`) */
	stop: (reason: string) => Promise<void>
	stopTimeoutMs?: number
	exit?: (code: number) => void
}

/** Installs the handlers; returns a function that removes them. */
export function onFatal(o: FatalOptions): () => void {
	const exit = o.exit ?? ((code: number) => process.exit(code))
	// pino writes stdout asynchronously: what is buffered is flushed before the exit, or the fatal line itself could be
	// lost with it (bounded: a log that cannot be flushed must not keep the process)
	const end = (): void => {
		let gone = false
		const go = (late: boolean): void => {
			if (gone) return
			gone = true
			// a flush that did not finish in time (a loaded machine): what is still buffered is written synchronously,
			// else the clean stop's last lines would go with the process
			if (late) writeOutNow(o.log)
			exit(EXIT.internal)
		}
		setTimeout(() => go(true), 2000)
		try {
			o.log.flush(() => go(false))
		} catch {
			go(true)
		}
	}
	let fatal = false
	const handle = (what: string) => (err: unknown) => {
		const first = !fatal
		fatal = true
		o.log.fatal(
			{ err },
			`${what}: ${err instanceof Error ? err.message : String(err)}; stopping (exit ${EXIT.internal})`,
		)
		if (!first) return end()
		let timer: NodeJS.Timeout | undefined
		const bound = new Promise<void>((r) => (timer = setTimeout(r, o.stopTimeoutMs ?? 5000)))
		void Promise.race([o.stop(what).catch(() => undefined), bound]).finally(() => {
			clearTimeout(timer)
			end()
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

/** Writes what pino's destination still buffers, synchronously (sonic-boom's flushSync), when it has one. */
function writeOutNow(log: Logger): void {
	const stream = (log as unknown as Record<symbol, { flushSync?: () => void } | undefined>)[symbols.streamSym]
	try {
		stream?.flushSync?.()
	} catch (err) {
		// the process is exiting and the log is what failed: stderr is the one place left to say so
		process.stderr.write(`sigpath: the log could not be flushed on exit: ${(err as Error).message}\n`)
	}
}
