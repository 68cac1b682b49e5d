// Starts the status endpoint (docs/contract.md §6) next to a daemon and returns it with its base URL.
import type { Logger } from 'pino'
import type { Config } from '../domain/config.ts'
import type { Daemon } from '../runtime/daemon.ts'
import { StatusServer } from '../status/server.ts'

export async function startStatus(
	daemon: Daemon,
	config: Config,
	log: Logger,
): Promise<{ server: StatusServer; url: string }> {
	const server = new StatusServer({
		daemon,
		listen: config.http?.listen ?? '127.0.0.1:8080',
		...(config.http?.token !== undefined ? { token: config.http.token } : {}),
		...(config.http?.tokens !== undefined ? { tokens: config.http.tokens } : {}),
		env: process.env,
		log: log.child({ part: 'http' }),
	})
	const { url } = await server.start()
	return { server, url }
}
