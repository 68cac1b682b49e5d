// Every timer a driver uses is made and cleared here (docs/architecture.md, habit 2): keyed, so re-arming replaces, and
// clearAll() on stop leaves no handle behind. `size` lets tests assert that nothing is left.

export class Timers {
	readonly #handles = new Map<string, NodeJS.Timeout>()

	/** (re)arms a one-shot timer under `key` */
	set(key: string, ms: number, fn: () => void): void {
		this.clear(key)
		const handle = setTimeout(() => {
			this.#handles.delete(key)
			fn()
		}, ms)
		this.#handles.set(key, handle)
	}

	/** (re)arms a repeating timer under `key` */
	every(key: string, ms: number, fn: () => void): void {
		this.clear(key)
		this.#handles.set(key, setInterval(fn, ms))
	}

	has(key: string): boolean {
		return this.#handles.has(key)
	}

	clear(key: string): void {
		const handle = this.#handles.get(key)
		if (handle === undefined) return
		clearTimeout(handle)
		this.#handles.delete(key)
	}

	clearAll(): void {
		for (const handle of this.#handles.values()) clearTimeout(handle)
		this.#handles.clear()
	}

	get size(): number {
		return this.#handles.size
	}
}
