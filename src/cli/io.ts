// What a command gets: its arguments and the streams it writes to. Commands return their exit code.
import { parseArgs, type ParseArgsConfig } from 'node:util'

export interface CliIo {
	out: (text: string) => void
	err: (text: string) => void
}

export const processIo: CliIo = {
	out: (t) => void process.stdout.write(t),
	err: (t) => void process.stderr.write(t),
}

export type Command = (argv: string[], io: CliIo) => Promise<number>

/** Exit codes shared by the commands (docs/contract.md §1); `internal` (EX_SOFTWARE) is a fault of sigpath's own. */
export const EXIT = { ok: 0, fail: 1, usage: 2, config: 2, internal: 70, daemonConfig: 78 } as const

export class UsageError extends Error {
	override name = 'UsageError'
}

/** node:util parseArgs, with its errors turned into UsageError (exit 2, no stack trace). */
type Options = NonNullable<ParseArgsConfig['options']>
export function parse<const O extends Options>(argv: string[], options: O, usage: string) {
	try {
		return parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>({
			args: argv,
			options,
			allowPositionals: true,
			strict: true,
		})
	} catch (err) {
		throw new UsageError(`${(err as Error).message}\nusage: ${usage}`)
	}
}
