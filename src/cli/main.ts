// `sigpath COMMAND ...`: one file per command in this folder, each exporting `command`.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ConfigError } from '../domain/load.ts'
import { processIo, UsageError, type CliIo, type Command } from './io.ts'

const USAGE = `usage: sigpath COMMAND [ARGS]

  run --config FILE [--node NAME]        the daemon (NAME: this node of a pair, or SIGPATH_NODE)
  check FILE [--json]                    validate a config and judge the contribution rule
  replay FILE TIMELINE [--json] [--until T]   run the failover engine over a timeline
  lab [FILE]                             a simulated BOC on loopback
  probe FILE DEVICE [--seconds N]        connect to one device and print its state
  take FILE ROUTER OUTPUT INPUT          route one crosspoint and wait for the router's tally
  facs FILE --event E [--feed F] [--json]   tour the event's paths on its QC output (asks the daemon)
  journal verify DIR [--json] [--key-env NAME] [--head SEQ:HASH]
                                         check the journal's chain (keyed: the key in $NAME) and that it
                                         still holds a head kept elsewhere
  journal timeline DIR --feed E/F [--from T] [--to T] [--run N] [--config FILE] [--key-env NAME]
                                         a replay timeline of one feed from the journal
`

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
	const [name, ...rest] = argv
	if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
		io[name === undefined ? 'err' : 'out'](USAGE)
		return name === undefined ? 2 : 0
	}
	const file = /^[a-z][a-z-]*$/.test(name) ? new URL(`./${name}${extname}`, import.meta.url) : undefined
	if (!file || name === 'main' || name === 'io' || !existsSync(fileURLToPath(file))) {
		io.err(`sigpath: unknown command "${name}"\n${USAGE}`)
		return 2
	}
	const mod = (await import(file.href)) as { command?: Command }
	if (typeof mod.command !== 'function') {
		io.err(`sigpath: unknown command "${name}"\n${USAGE}`)
		return 2
	}
	try {
		return await mod.command(rest, io)
	} catch (err) {
		if (err instanceof UsageError) {
			io.err(`sigpath ${name}: ${err.message}\n`)
			return 2
		}
		if (err instanceof ConfigError) {
			io.err(`${err.message}\n`)
			return 2
		}
		throw err
	}
}

// under tsx the sources are .ts; in dist they are .js
const extname = import.meta.url.endsWith('.ts') ? '.ts' : '.js'

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
	main(process.argv.slice(2)).then(
		(code) => {
			process.exitCode = code
		},
		(err: unknown) => {
			process.stderr.write(
				`sigpath: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
			)
			process.exitCode = 70
		},
	)
}
