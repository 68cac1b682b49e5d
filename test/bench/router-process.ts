// A Videohub simulator in a process of its own, for the benchmarks: a real router is another machine, so its work
// (reading a salvo, answering with the tally) must not be timed as the daemon's, nor share its event loop. Run as
// `node --import tsx test/bench/router-process.ts '{"inputs":200,"outputs":100,"routing":[...]}'`; it prints
// `{"port":N}` once listening and stops on SIGTERM or when its parent's stdin closes.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { VideohubSim, type VideohubSimOptions } from '../../drivers/videohub/sim.ts'

export interface RouterProcess {
	port: number
	stop(): Promise<void>
}

/** Starts the simulator in a child process; resolves with its port, or rejects (the child killed) after 15 s. */
export async function startRouterProcess(options: VideohubSimOptions): Promise<RouterProcess> {
	const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), JSON.stringify(options)], {
		stdio: ['pipe', 'pipe', 'inherit'],
	})
	const stop = async (): Promise<void> => {
		if (child.exitCode !== null || child.signalCode !== null) return
		const exited = once(child, 'exit')
		child.kill('SIGTERM')
		const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
		await exited
		clearTimeout(timer)
	}
	try {
		const port = await portOf(child)
		return { port, stop }
	} catch (err) {
		await stop()
		throw err
	}
}

function portOf(child: ChildProcess): Promise<number> {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('the router process did not start within 15 s')), 15_000)
		child.once('exit', (code, signal) => reject(new Error(`the router process exited (${signal ?? code})`)))
		createInterface({ input: child.stdout! }).once('line', (line) => {
			clearTimeout(timer)
			try {
				resolve((JSON.parse(line) as { port: number }).port)
			} catch {
				reject(new Error(`the router process said: ${line}`))
			}
		})
	})
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const sim = new VideohubSim(JSON.parse(process.argv[2] ?? '{}') as VideohubSimOptions)
	const { port } = await sim.start({ host: '127.0.0.1', port: 0 })
	process.stdout.write(`${JSON.stringify({ port })}\n`)
	const stop = () => void sim.stop().then(() => process.exit(0))
	process.once('SIGTERM', stop)
	process.stdin.once('end', stop)
	process.stdin.resume()
}
