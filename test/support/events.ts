// Waiting for one event of a typed EventEmitter in a test: resolves with the first matching event's arguments,
// rejects with a message naming the event (and how many did not match) after timeoutMs; its listener and timer
// are removed either way, so a waiting test leaves nothing behind.
import type { EventEmitter } from 'node:events'

export interface NextEventOptions<A extends unknown[]> {
	/** default 3000 */
	timeoutMs?: number
	/** only an event whose arguments pass counts */
	filter?: (...args: A) => boolean
}

export function nextEvent<T extends Record<keyof T, unknown[]>, K extends keyof T & string>(
	emitter: EventEmitter<T>,
	name: K,
	o: NextEventOptions<T[K]> = {},
): Promise<T[K]> {
	const timeoutMs = o.timeoutMs ?? 3000
	// the untyped view: the typed overloads cannot be called with a generic event name
	const untyped = emitter as EventEmitter
	return new Promise((resolve, reject) => {
		let seen = 0
		const listener = (...args: unknown[]): void => {
			const typed = args as T[K]
			if (o.filter && !o.filter(...typed)) {
				seen++
				return
			}
			clearTimeout(timer)
			untyped.off(name, listener)
			resolve(typed)
		}
		const timer = setTimeout(() => {
			untyped.off(name, listener)
			const others = seen > 0 ? ` (${seen} did not match the filter)` : ''
			reject(new Error(`no "${name}" event within ${timeoutMs} ms${others}`))
		}, timeoutMs)
		untyped.on(name, listener)
	})
}
