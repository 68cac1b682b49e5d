// The child of fatal.test.ts: the handlers `sigpath run` installs, then a fault nothing handles (argv[2]).
import { onFatal } from '../../src/cli/fatal.ts'
import { createLogger } from '../../src/log.ts'

const log = createLogger('info')
const mode = process.argv[2]
onFatal({
	log,
	stopTimeoutMs: 300,
	// 'hang': a stop that never ends must not keep the process
	stop: (why) =>
		mode === 'hang' ? new Promise<void>(() => {}) : Promise.resolve(log.info({ why }, 'stopped cleanly')),
})
// the daemon's own handles keep a running process alive
setInterval(() => {}, 1000)
if (mode === 'exception')
	setTimeout(() => {
		throw new TypeError('boom in a callback')
	}, 10)
else void Promise.reject(new Error('boom in a promise nobody awaited'))
