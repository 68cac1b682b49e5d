// What the analyser's ffmpeg says, line by line: the detectors' log lines on stderr and the -progress blocks on
// stdout, turned into small events. ffmpeg 5.1 (Debian 12) formats, as produced by the filter chain of ffmpeg.ts:
//
//   [metadata@black @ 0x..] lavfi.black_start=12.44                  blackdetect's onset (frame metadata, printed)
//   [blackdetect @ 0x..] black_start:12.44 black_end:15.48 black_duration:3.04
//   [freezedetect @ 0x..] lavfi.freezedetect.freeze_start: 12.44    logged once the picture has been still for d
//   [freezedetect @ 0x..] lavfi.freezedetect.freeze_end: 15.48
//   [silencedetect @ 0x..] silence_start: 11.44679                 logged once the sound has been silent for d
//   [silencedetect @ 0x..] silence_end: 14.45204 | silence_duration: 3.00525
//   [metadata@pts @ 0x..] frame:12   pts:918000  pts_time:10.2      the PTS sampler (10 a second)
//   [blackframe@flash @ 0x..] frame:25 pblack:100 pts:219600 t:2.440000 type:I last_keyframe:25   a white frame
//   [ametadata@beep @ 0x..] frame:220  pts:120000  pts_time:2.5      a loud 5 ms of sound
//   "  Stream #0:1[0x101]: Audio: mp2 ..."                            the input's streams, before "Stream mapping:"
//
// Times are the stream's own PTS in seconds (ffmpeg runs with -copyts), so that two analysers of one encode compare.

export type ParsedLine =
	| { type: 'black-start' | 'black-end' | 'freeze-start' | 'freeze-end' | 'silence-start' | 'silence-end'; pts: number }
	| { type: 'sample' | 'flash' | 'loud'; pts: number }
	| { type: 'stream'; kind: 'video' | 'audio'; description: string }
	| { type: 'mapping' }

const NUM = '(-?\\d+(?:\\.\\d+)?(?:e[-+]?\\d+)?)'
const RULES: [RegExp, (m: RegExpExecArray) => ParsedLine | null][] = [
	[new RegExp(`^\\[metadata@black @ [^\\]]+\\] lavfi\\.black_start=${NUM}`), (m) => at('black-start', m[1])],
	[new RegExp(`^\\[blackdetect @ [^\\]]+\\] black_start:\\S+ black_end:${NUM}`), (m) => at('black-end', m[1])],
	[
		new RegExp(`^\\[freezedetect @ [^\\]]+\\] lavfi\\.freezedetect\\.freeze_(start|end): ${NUM}`),
		(m) => at(m[1] === 'start' ? 'freeze-start' : 'freeze-end', m[2]),
	],
	[
		new RegExp(`^\\[silencedetect @ [^\\]]+\\] silence_(start|end): ${NUM}`),
		(m) => at(m[1] === 'start' ? 'silence-start' : 'silence-end', m[2]),
	],
	[
		new RegExp(`^\\[metadata@pts @ [^\\]]+\\] frame:\\s*\\d+\\s+pts:\\s*\\S+\\s+pts_time:${NUM}`),
		(m) => at('sample', m[1]),
	],
	[new RegExp(`^\\[blackframe@flash @ [^\\]]+\\] frame:\\d+ pblack:\\d+ pts:\\S+ t:${NUM}`), (m) => at('flash', m[1])],
	[
		new RegExp(`^\\[ametadata@beep @ [^\\]]+\\] frame:\\s*\\d+\\s+pts:\\s*\\S+\\s+pts_time:${NUM}`),
		(m) => at('loud', m[1]),
	],
	[
		/^\s+Stream #\d+:\d+\S*: (Video|Audio): (.*)$/,
		(m) => ({ type: 'stream', kind: m[1] === 'Video' ? 'video' : 'audio', description: m[2]!.slice(0, 200) }),
	],
	[/^Stream mapping:/, () => ({ type: 'mapping' })],
]

function at(type: Exclude<ParsedLine['type'], 'stream' | 'mapping'>, text: string | undefined): ParsedLine | null {
	const pts = Number(text)
	return Number.isFinite(pts) ? { type, pts } : null
}

/** One stderr line of the analyser's ffmpeg; null for every line that is none of the above. */
export function parseLine(line: string): ParsedLine | null {
	for (const [re, make] of RULES) {
		const m = re.exec(line)
		if (m) return make(m)
	}
	return null
}

export interface Progress {
	/** video frames through the chain's end (the PTS sampler lets 10 a second through) */
	frame: number
	/** the output's time, µs (relative to the first output timestamp: only its advance is used) */
	outTimeUs: number
	end: boolean
}

/**
 * The -progress blocks on stdout (`key=value` lines ending with `progress=continue|end`), fed line by line; returns a
 * block when its last line arrives. Unknown keys are ignored; a value that is not a number counts as 0.
 */
export class ProgressParser {
	#frame = 0
	#outTimeUs = 0

	push(line: string): Progress | null {
		const eq = line.indexOf('=')
		if (eq < 0) return null
		const key = line.slice(0, eq)
		const value = line.slice(eq + 1).trim()
		if (key === 'frame') this.#frame = num(value)
		else if (key === 'out_time_us') this.#outTimeUs = num(value)
		else if (key === 'progress') return { frame: this.#frame, outTimeUs: this.#outTimeUs, end: value === 'end' }
		return null
	}
}

function num(s: string): number {
	const n = Number(s)
	return Number.isFinite(n) ? n : 0
}
