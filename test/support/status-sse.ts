// A Server-Sent Events client for tests and the benchmark, on node:http (no EventSource in Node 20): parses the
// stream as the WHATWG spec says (fields, blank-line dispatch, comment lines) and records when each event arrived.
import { request, type ClientRequest, type IncomingMessage } from 'node:http'
import { performance } from 'node:perf_hooks'

export interface SseEvent {
	event: string
	data: string
	id: string | undefined
	/** performance.now() when its last line arrived */
	at: number
}

export interface SseClient {
	status: number
	headers: IncomingMessage['headers']
	events: SseEvent[]
	comments: string[]
	/** resolves with the first event (already received or to come) that matches */
	next: (pred: (e: SseEvent) => boolean, timeoutMs?: number) => Promise<SseEvent>
	onEvent: (fn: (e: SseEvent) => void) => void
	close: () => void
}

export function openSse(url: string): Promise<SseClient> {
	return new Promise((resolve, reject) => {
		const req: ClientRequest = request(url, { headers: { accept: 'text/event-stream' } }, (res) => {
			res.setEncoding('utf8')
			const events: SseEvent[] = []
			const comments: string[] = []
			const listeners: ((e: SseEvent) => void)[] = []
			let buf = ''
			let ev = { event: 'message', data: [] as string[], id: undefined as string | undefined }
			res.on('data', (chunk: string) => {
				buf += chunk
				let nl: number
				while ((nl = buf.indexOf('\n')) >= 0) {
					const line = buf.slice(0, nl).replace(/\r$/, '')
					buf = buf.slice(nl + 1)
					if (line === '') {
						if (ev.data.length > 0) {
							const e: SseEvent = { event: ev.event, data: ev.data.join('\n'), id: ev.id, at: performance.now() }
							events.push(e)
							for (const l of listeners) l(e)
						}
						ev = { event: 'message', data: [], id: undefined }
						continue
					}
					if (line.startsWith(':')) {
						comments.push(line.slice(1).trim())
						continue
					}
					const i = line.indexOf(':')
					const field = i < 0 ? line : line.slice(0, i)
					const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '')
					if (field === 'event') ev.event = value
					else if (field === 'data') ev.data.push(value)
					else if (field === 'id') ev.id = value
				}
			})
			res.on('error', (err) => comments.push(`client error: ${err.message}`))
			resolve({
				status: res.statusCode ?? 0,
				headers: res.headers,
				events,
				comments,
				onEvent: (fn) => listeners.push(fn),
				next: (pred, timeoutMs = 3000) =>
					new Promise((ok, fail) => {
						const found = events.find(pred)
						if (found) return ok(found)
						const timer = setTimeout(() => fail(new Error('no matching SSE event in time')), timeoutMs)
						listeners.push((e) => {
							if (pred(e)) {
								clearTimeout(timer)
								ok(e)
							}
						})
					}),
				close: () => {
					res.destroy()
					req.destroy()
				},
			})
		})
		req.on('error', reject)
		req.end()
	})
}
