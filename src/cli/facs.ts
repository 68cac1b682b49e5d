// `sigpath facs FILE --event E [--feed F] [--json] [--operator NAME] [--token-name NAME] [--url URL]`: the FACS tour
// of an event's paths on its QC output (docs/contract.md §10), run by the daemon (it owns the router sessions and the
// receivers, whose stats and relayed TS the tour measures), asked over its status endpoint: POST
// /events/<event>/facs with an operator token of the config. Prints the report as a table (or JSON) once the tour
// ends.
// 0 every path passes; 1 a path fails (named), or the QC output was not put back; 2 bad arguments, a config that
// names no such event or feed, a refusal (a QC output that is a program output, a tour already running), or no
// daemon to ask. One line on stderr for each of those, no stack trace.
import { request } from 'node:http'
import type { Config } from '../domain/config.ts'
import { loadConfigFile } from '../domain/load.ts'
import { splitListen, type Secret } from '../domain/primitives.ts'
import { resolveSecret, SecretError } from '../domain/secrets.ts'
import type { FacsReport } from '../facs/report.ts'
import { reportTable } from '../facs/report.ts'
import { EXIT, parse, UsageError, type Command } from './io.ts'

const USAGE =
	'sigpath facs FILE --event E [--feed F] [--json] [--operator NAME] [--token-name NAME] [--url http://HOST:PORT]'

export const command: Command = async (argv, io) => {
	const { values, positionals } = parse(
		argv,
		{
			event: { type: 'string' },
			feed: { type: 'string' },
			json: { type: 'boolean' },
			operator: { type: 'string' },
			url: { type: 'string' },
			'token-name': { type: 'string' },
		},
		USAGE,
	)
	if (positionals.length !== 1) throw new UsageError(`expected FILE\nusage: ${USAGE}`)
	if (values.event === undefined) throw new UsageError(`--event is required\nusage: ${USAGE}`)
	const config = loadConfigFile(positionals[0]!)
	const ev = config.events.find((e) => e.id === values.event)
	if (!ev)
		throw new UsageError(
			`unknown event "${values.event}" (events: ${config.events.map((e) => e.id).join(', ') || 'none'})`,
		)
	if (values.feed !== undefined && !ev.feeds.some((f) => f.id === values.feed))
		throw new UsageError(`event ${ev.id} has no feed "${values.feed}" (feeds: ${ev.feeds.map((f) => f.id).join(', ')})`)
	const secret = operatorToken(config.http, values['token-name'])
	let token: string
	try {
		token = resolveSecret(secret, process.env)
	} catch (err) {
		if (err instanceof SecretError) throw new UsageError(err.message)
		throw err
	}
	const base = values.url ?? listenUrl(config.http?.listen)
	let target: URL
	try {
		target = new URL(`/events/${encodeURIComponent(ev.id)}/facs`, base)
	} catch {
		throw new UsageError(`--url must be http://HOST:PORT, got "${base}"`)
	}
	const body = JSON.stringify({
		...(values.feed !== undefined ? { feed: values.feed } : {}),
		operator: values.operator ?? process.env['USER'] ?? 'cli',
	})
	let answer: { status: number; text: string }
	try {
		answer = await post(target, token, body)
	} catch (err) {
		io.err(
			`sigpath facs: no sigpath daemon answers at ${target.origin} (${(err as Error).message}): the tour runs in the daemon; start it, or give --url\n`,
		)
		return EXIT.usage
	}
	if (answer.status !== 200) {
		let why = answer.text.trim()
		try {
			why = (JSON.parse(why) as { error?: string }).error ?? why
		} catch {
			// not JSON: said as it came
		}
		io.err(`sigpath facs: ${why.split('\n')[0]}\n`)
		return EXIT.usage
	}
	const report = JSON.parse(answer.text) as FacsReport
	io.out(values.json ? `${JSON.stringify(report, null, 2)}\n` : reportTable(report))
	return report.pass ? EXIT.ok : EXIT.fail
}

/**
 * The operator token the CLI asks with (docs/contract.md §6a): `--token-name` among http.tokens, else v1's
 * http.token, else the only operator token there is.
 */
function operatorToken(http: Config['http'], name: string | undefined): Secret {
	const operators = (http?.tokens ?? []).filter((t) => t.role === 'operator')
	if (name !== undefined) {
		const t = http?.tokens?.find((x) => x.name === name)
		if (!t) throw new UsageError(`http.tokens has no token "${name}"`)
		if (t.role !== 'operator')
			throw new UsageError(`token "${name}" has the viewer role: a tour needs an operator token`)
		return t.token
	}
	if (http?.token !== undefined) return http.token
	if (operators.length === 1) return operators[0]!.token
	if (operators.length > 1)
		throw new UsageError(
			`name the operator token to ask with: --token-name ${operators.map((t) => t.name).join(' | ')}`,
		)
	throw new UsageError(
		'the tour runs in the daemon, asked over its status endpoint: the config needs an operator token (http.tokens)',
	)
}

function listenUrl(listen: string | undefined): string {
	const { host, port } = splitListen(listen ?? '127.0.0.1:8080')
	// a daemon listening on every address is asked on loopback
	const h = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host
	return `http://${h.includes(':') ? `[${h}]` : h}:${port}`
}

/** POST without a timeout of its own: a tour takes its paths × dwellMs, however long that is. */
function post(url: URL, token: string, body: string): Promise<{ status: number; text: string }> {
	return new Promise((resolve, reject) => {
		const req = request(
			url,
			{
				method: 'POST',
				headers: {
					authorization: `Bearer ${token}`,
					'content-type': 'application/json',
					'content-length': String(Buffer.byteLength(body)),
				},
			},
			(res) => {
				const chunks: Buffer[] = []
				res.on('data', (c: Buffer) => chunks.push(c))
				res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
				res.on('error', reject)
			},
		)
		req.on('error', reject)
		req.end(body)
	})
}
